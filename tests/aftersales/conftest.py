"""Fixtures of the after-sales tests: claims come from receipts, so these tests place, ship and
receive orders with the shipping tests' helpers (``tests/shipping/ship_helpers.py``)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shipping"))

from ship_helpers import ship

__all__ = ["ship"]
