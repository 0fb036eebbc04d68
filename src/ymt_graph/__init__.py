"""ymt-graph: headless GraphQL API for multi-level channel commerce."""

__version__ = "0.1.0"
