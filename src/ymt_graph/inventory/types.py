"""GraphQL types of the inventory centre."""

from __future__ import annotations

import strawberry


@strawberry.type
class SkuStock:
    """Stock fields of ``Sku`` (mixed into catalog's Sku)."""
