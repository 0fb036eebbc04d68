"""GraphQL building blocks every domain uses."""
