"""Tables of the order centre.

A cart belongs to one buyer — a dealer (ordering from HQ or its distributor) or a store
(ordering from its dealer) — and is server-side: it follows the buyer across devices.
An order is what a cart became at submit: prices re-resolved and frozen on its lines,
stock reserved at the seller's warehouse. ``order_events`` is the order's timeline
(append-only), ``order_counters`` numbers orders per tenant and day.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from ymt_graph.models_base import created_at, fk, money, pk, tenant_fk, updated_at

ORDER_STATUSES = (
    "SUBMITTED", "PENDING_APPROVAL", "APPROVED", "REJECTED", "PARTIALLY_SHIPPED", "SHIPPED", "DELIVERED",
    "RECEIVED", "CANCELLED",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _ref(target: str) -> Any:
    return Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey(target), nullable=False))


ONE_BUYER = "(buyer_dealer_id IS NULL) <> (buyer_store_id IS NULL)"


class Cart(SQLModel, table=True):
    __tablename__ = "carts"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "buyer_dealer_id", name="uq_carts_buyer"),
        sa.UniqueConstraint("tenant_id", "buyer_store_id", name="uq_carts_buyer_store"),
        sa.Index("ix_carts_buyer_fk", "buyer_dealer_id"),
        sa.Index("ix_carts_buyer_store_fk", "buyer_store_id"),
        sa.CheckConstraint(ONE_BUYER, name="ck_carts_one_buyer"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    # Exactly one of these: the buyer is a dealer or a store.
    buyer_dealer_id: int | None = fk("dealers.id")
    buyer_store_id: int | None = fk("stores.id")
    created_at: datetime | None = created_at()
    updated_at: datetime | None = updated_at()


class CartLine(SQLModel, table=True):
    __tablename__ = "cart_lines"
    __table_args__ = (
        sa.UniqueConstraint("cart_id", "sku_id", name="uq_cart_lines_sku"),
        sa.Index("ix_cart_lines_sku_fk", "sku_id"),
        sa.CheckConstraint("quantity > 0", name="ck_cart_lines_quantity"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    cart_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("carts.id", ondelete="CASCADE"),
                                             nullable=False))
    sku_id: int = _ref("skus.id")
    quantity: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    created_at: datetime | None = created_at()


class OrderCounter(SQLModel, table=True):
    """The last order number given out per tenant and day (``SO20261128-000042``)."""

    __tablename__ = "order_counters"
    tenant_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("tenants.id"), primary_key=True))
    day: date = Field(sa_column=sa.Column(sa.Date, primary_key=True))
    last: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "number", name="uq_orders_number"),
        sa.UniqueConstraint("tenant_id", "buyer_dealer_id", "idempotency_key", name="uq_orders_idempotency_key"),
        sa.UniqueConstraint("tenant_id", "buyer_store_id", "idempotency_key", name="uq_orders_store_idempotency_key"),
        # Lists: buyer side, seller side, tenant-wide, newest first.
        sa.Index("ix_orders_buyer", "tenant_id", "buyer_dealer_id", "id"),
        sa.Index("ix_orders_seller", "tenant_id", "seller_dealer_id", "id"),
        sa.Index("ix_orders_tenant", "tenant_id", "id"),
        sa.Index("ix_orders_buyer_store", "tenant_id", "buyer_store_id", "id"),
        sa.Index("ix_orders_buyer_fk", "buyer_dealer_id"),
        sa.Index("ix_orders_buyer_store_fk", "buyer_store_id"),
        sa.Index("ix_orders_buyer_warehouse_fk", "buyer_warehouse_id"),
        sa.Index("ix_orders_seller_fk", "seller_dealer_id"),
        sa.Index("ix_orders_warehouse_fk", "seller_warehouse_id"),
        sa.CheckConstraint(_in("status", ORDER_STATUSES), name="ck_orders_status"),
        sa.CheckConstraint("subtotal >= 0 AND total >= 0", name="ck_orders_amounts"),
        sa.CheckConstraint(ONE_BUYER, name="ck_orders_one_buyer"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    number: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    # Exactly one of these: a dealer buying from HQ or its distributor, or a store from its dealer.
    buyer_dealer_id: int | None = fk("dealers.id")
    buyer_store_id: int | None = fk("stores.id")
    # Where the goods go (the buyer's own warehouse): shipments make stock inbound there.
    buyer_warehouse_id: int = _ref("warehouses.id")
    # Null: HQ sells (level-1 buyers); else the buyer's parent dealer, or a store's dealer.
    seller_dealer_id: int | None = fk("dealers.id")
    seller_warehouse_id: int = _ref("warehouses.id")
    status: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    subtotal: Decimal = money()
    # Rebate applied at checkout (the rebate centre fills it; 0 until then).
    rebate_amount: Decimal = money(default=Decimal("0"))
    total: Decimal = money()
    currency: str = Field(sa_column=sa.Column(sa.String(3), nullable=False))
    note: str | None = Field(default=None, sa_column=sa.Column(sa.String(500)))
    idempotency_key: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    submitted_by_user_id: int | None = fk("users.id")
    submitted_by_api_key_id: int | None = fk("api_keys.id")
    created_at: datetime | None = created_at()
    updated_at: datetime | None = updated_at()


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_lines"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "sku_id", name="uq_order_lines_sku"),
        sa.Index("ix_order_lines_sku_fk", "sku_id"),
        sa.Index("ix_order_lines_price_list_fk", "price_list_id"),
        sa.CheckConstraint("quantity > 0", name="ck_order_lines_quantity"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    order_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("orders.id"), nullable=False))
    sku_id: int = _ref("skus.id")
    quantity: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    unit_price: Decimal = money()
    price_list_id: int | None = fk("price_lists.id")
    line_total: Decimal = money()


class OrderEvent(SQLModel, table=True):
    """One step of an order's timeline (append-only)."""

    __tablename__ = "order_events"
    __table_args__ = (
        sa.Index("ix_order_events_order", "order_id", "id"),
        sa.Index("ix_order_events_user_fk", "actor_user_id"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    order_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("orders.id"), nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    status: str | None = Field(default=None, sa_column=sa.Column(sa.String(20)))
    actor_user_id: int | None = fk("users.id")
    actor_api_key_id: int | None = fk("api_keys.id")
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONB, nullable=False, server_default=sa.text("'{}'::jsonb"))
    )
    created_at: datetime | None = Field(
        default=None,
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
    )
