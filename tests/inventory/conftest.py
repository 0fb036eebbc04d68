"""Fixtures of the inventory tests (the helpers live in ``stock_helpers``)."""

from stock_helpers import places

__all__ = ["places"]
