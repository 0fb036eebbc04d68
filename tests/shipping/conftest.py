"""Fixtures of the shipping tests (the helpers live in ``ship_helpers``)."""

from ship_helpers import ship

__all__ = ["ship"]
