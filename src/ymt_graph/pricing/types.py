"""GraphQL types of the price centre."""

from __future__ import annotations

import strawberry


@strawberry.type
class SkuPricing:
    """Price fields of ``Sku`` (mixed into catalog's Sku: a SKU is shown with its price)."""
