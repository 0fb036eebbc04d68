"""Money as API.md defines it. ``Decimal`` is strawberry's built-in scalar (a string)."""

from __future__ import annotations

import enum
from decimal import Decimal

import strawberry


@strawberry.enum(description="ISO 4217 currency code.")
class CurrencyCode(enum.Enum):
    CNY = "CNY"
    HKD = "HKD"
    USD = "USD"
    EUR = "EUR"


@strawberry.type(description="An amount of money in a currency.")
class Money:
    amount: Decimal
    currency: CurrencyCode

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        return cls(amount=amount, currency=CurrencyCode(currency))
