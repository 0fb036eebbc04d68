"""The shapes the seed is described in: how big, and which rows are fixed by hand."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Scale:
    name: str
    level1_dealers: int
    level2_dealers: int
    stores: int
    product_models: int
    skus: int
    # Some dealers are suspended so that status filters have something to find.
    suspended_dealers: int
    discontinued_skus: int
    draft_skus: int

    @property
    def dealers(self) -> int:
        return self.level1_dealers + self.level2_dealers


@dataclass(frozen=True, slots=True)
class FixedDealer:
    """A dealer tests and docs refer to by code; its properties hold at every scale."""

    code: str
    name: str
    city_code: str
    tier: str
    credit_limit: Decimal
    payment_terms_days: int
    contact_name: str
    contact_phone: str
    parent_code: str | None = None


@dataclass(frozen=True, slots=True)
class FixedStore:
    code: str
    dealer_code: str
    city_code: str
    format: str
    street: str
    number: int


@dataclass(frozen=True, slots=True)
class DemoUser:
    email: str
    role: str
    name: str
    description: str
    dealer_code: str | None = None
    store_code: str | None = None
    area_codes: tuple[str, ...] = ()
