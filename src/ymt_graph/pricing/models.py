"""Tables of the price centre: guide retail prices, supply price lists and their lines,
price limits (限价), the audit trail of every price change, and price violations (乱价)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from ymt_graph.models_base import created_at, fk, money, pk, tenant_fk, updated_at


def _instant(*, nullable: bool, now_by_default: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=sa.Column(
            sa.DateTime(timezone=True),
            nullable=nullable,
            server_default=sa.func.now() if now_by_default else None,
        ),
    )


class GuideRetailPrice(SQLModel, table=True):
    """The one national consumer price of a SKU (建议零售价)."""

    __tablename__ = "guide_retail_prices"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "sku_id"),
        sa.CheckConstraint("amount > 0", name="ck_guide_retail_prices_amount"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    sku_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("skus.id"), nullable=False))
    amount: Decimal = money()
    updated_at: datetime | None = updated_at()


class PriceList(SQLModel, table=True):
    """A supply price list. HQ's lists have no owner (BASE, TIER, CONTRACT, PROMOTION); a
    DOWNSTREAM list is published by its owner dealer to its own buyers.

    Conditions (level, tier, region) left null match any buyer; a region matches the buyer's
    region or any region above it. A CONTRACT names its one dealer. Valid on [valid_from, valid_to).
    """

    __tablename__ = "price_lists"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "code"),
        # Resolution reads HQ's lists (owner null) and one seller's lists by this index.
        sa.Index("ix_price_lists_owner", "tenant_id", "owner_dealer_id"),
        sa.Index("ix_price_lists_dealer", "tenant_id", "dealer_id"),
        sa.CheckConstraint(
            "kind IN ('BASE', 'TIER', 'CONTRACT', 'PROMOTION', 'DOWNSTREAM')", name="ck_price_lists_kind"
        ),
        sa.CheckConstraint("status IN ('ACTIVE', 'INACTIVE')", name="ck_price_lists_status"),
        sa.CheckConstraint("priority >= 0", name="ck_price_lists_priority"),
        sa.CheckConstraint("(kind = 'CONTRACT') = (dealer_id IS NOT NULL)", name="ck_price_lists_contract_dealer"),
        sa.CheckConstraint(
            "(kind = 'DOWNSTREAM') = (owner_dealer_id IS NOT NULL)", name="ck_price_lists_downstream_owner"
        ),
        sa.CheckConstraint("dealer_level IS NULL OR dealer_level IN (1, 2)", name="ck_price_lists_dealer_level"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="ck_price_lists_window"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    code: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    priority: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, server_default="ACTIVE"))
    valid_from: datetime | None = _instant(nullable=False, now_by_default=True)
    valid_to: datetime | None = _instant(nullable=True)
    dealer_level: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    dealer_tier: str | None = Field(default=None, sa_column=sa.Column(sa.String(1)))
    region_id: int | None = fk("regions.id")
    # CONTRACT: the one dealer it prices.
    dealer_id: int | None = fk("dealers.id")
    # DOWNSTREAM: the dealer selling at these prices.
    owner_dealer_id: int | None = fk("dealers.id")
    created_at: datetime | None = created_at()
    updated_at: datetime | None = updated_at()


class PriceListLine(SQLModel, table=True):
    """A price of one SKU from ``min_quantity`` units up, valid on [valid_from, valid_to).
    Lines of the same (list, SKU, min_quantity) never overlap in time (the service keeps it
    so), which is what lets a price change be dated in the future."""

    __tablename__ = "price_list_lines"
    __table_args__ = (
        sa.Index("ix_price_list_lines_list_sku", "price_list_id", "sku_id", "min_quantity"),
        sa.Index("ix_price_list_lines_sku_fk", "sku_id"),
        sa.CheckConstraint("min_quantity >= 1", name="ck_price_list_lines_min_quantity"),
        sa.CheckConstraint("amount > 0", name="ck_price_list_lines_amount"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="ck_price_list_lines_window"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    price_list_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("price_lists.id"), nullable=False)
    )
    sku_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("skus.id"), nullable=False))
    min_quantity: int = Field(default=1, sa_column=sa.Column(sa.Integer, nullable=False, server_default="1"))
    amount: Decimal = money()
    valid_from: datetime | None = _instant(nullable=False, now_by_default=True)
    valid_to: datetime | None = _instant(nullable=True)
    created_at: datetime | None = created_at()


class PriceLimit(SQLModel, table=True):
    """限价: the band a dealer's downstream price must stay in. National when ``region_id``
    is null; a regional band overrides it for the whole region subtree (the deepest wins)."""

    __tablename__ = "price_limits"
    __table_args__ = (
        # One national band per SKU and one per (SKU, region): nulls count as equal here.
        sa.Index(
            "ux_price_limits_sku_region", "tenant_id", "sku_id", "region_id",
            unique=True, postgresql_nulls_not_distinct=True,
        ),
        sa.CheckConstraint("floor IS NOT NULL OR ceiling IS NOT NULL", name="ck_price_limits_some_bound"),
        sa.CheckConstraint("floor IS NULL OR ceiling IS NULL OR floor <= ceiling", name="ck_price_limits_band"),
        sa.CheckConstraint("floor IS NULL OR floor > 0", name="ck_price_limits_floor"),
        sa.CheckConstraint("ceiling IS NULL OR ceiling > 0", name="ck_price_limits_ceiling"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    sku_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("skus.id"), nullable=False))
    region_id: int | None = fk("regions.id")
    floor: Decimal | None = money(nullable=True)
    ceiling: Decimal | None = money(nullable=True)
    created_at: datetime | None = created_at()
    updated_at: datetime | None = updated_at()


class PriceAudit(SQLModel, table=True):
    """Append-only: every change to a list, a line, a limit or a guide price — who (a user or
    an API key; neither for system jobs), when, and the values before and after."""

    __tablename__ = "price_audit"
    __table_args__ = (
        sa.Index("ix_price_audit_entity", "tenant_id", "entity", "entity_id"),
        sa.Index("ix_price_audit_list", "tenant_id", "price_list_id"),
        sa.CheckConstraint(
            "entity IN ('PRICE_LIST', 'PRICE_LIST_LINE', 'PRICE_LIMIT', 'GUIDE_RETAIL_PRICE')",
            name="ck_price_audit_entity",
        ),
        sa.CheckConstraint("action IN ('CREATE', 'UPDATE', 'DELETE')", name="ck_price_audit_action"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    entity: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    # No foreign key: a deleted line keeps its history.
    entity_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    action: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    price_list_id: int | None = fk("price_lists.id")
    sku_id: int | None = fk("skus.id")
    actor_user_id: int | None = fk("users.id")
    actor_api_key_id: int | None = fk("api_keys.id")
    changed_at: datetime | None = _instant(nullable=False, now_by_default=True)
    old_values: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB))
    new_values: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB))


class PriceViolation(SQLModel, table=True):
    """A reported sale outside the price band that applied to it (乱价), with that band."""

    __tablename__ = "price_violations"
    __table_args__ = (
        # Violations are listed in the order recorded (keyset on id), per tenant.
        sa.Index("ix_price_violations_tenant", "tenant_id", "id"),
        sa.Index("ix_price_violations_dealer", "tenant_id", "dealer_id", "sold_at"),
        sa.Index("ix_price_violations_sku", "tenant_id", "sku_id"),
        sa.CheckConstraint("kind IN ('BELOW_FLOOR', 'ABOVE_CEILING')", name="ck_price_violations_kind"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    dealer_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("dealers.id"), nullable=False))
    store_id: int | None = fk("stores.id")
    sku_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("skus.id"), nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    unit_price: Decimal = money()
    floor: Decimal | None = money(nullable=True)
    ceiling: Decimal | None = money(nullable=True)
    # The band's region; null for the national band.
    region_id: int | None = fk("regions.id")
    sold_at: datetime | None = _instant(nullable=False)
    created_at: datetime | None = created_at()
