"""Fixtures of the order tests (the helpers live in ``order_helpers``)."""

from order_helpers import shop

__all__ = ["shop"]
