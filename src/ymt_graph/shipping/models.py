"""Tables of the shipping centre.

A shipment carries part (or all) of one order from the seller's warehouse to the buyer's:
its lines name the order lines and quantities, and the serials of serial-tracked units.
``shipment_events`` are the carrier's tracking steps (append-only). A receipt is the buyer's
confirmation of a whole order, once: per order line what arrived, what was short and what
was damaged (``receipt_lines``); the discrepancies become after-sales claims.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from ymt_graph.models_base import created_at, fk, pk, tenant_fk, updated_at

SHIPMENT_STATUSES = ("CREATED", "PICKED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED")
EVENT_KINDS = ("PICKED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _ref(target: str) -> int:
    result: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey(target), nullable=False))
    return result


def _count() -> int:
    result: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    return result


def _serials() -> list[str]:
    result: list[str] = Field(
        default_factory=list, sa_column=sa.Column(ARRAY(sa.String(64)), nullable=False, server_default="{}")
    )
    return result


def _time(*, nullable: bool = True) -> datetime | None:
    result: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=nullable)
    )
    return result


class Shipment(SQLModel, table=True):
    """Goods of one order on their way: created when they leave the seller's warehouse."""

    __tablename__ = "shipments"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "number", name="uq_shipments_number"),
        # A client's key for one shipmentCreate of an order (replays return the same shipment).
        sa.UniqueConstraint("tenant_id", "order_id", "idempotency_key", name="uq_shipments_idempotency_key"),
        # Lists newest first; shipments of an order (Order.shipments, the shipped-so-far sums).
        sa.Index("ix_shipments_tenant", "tenant_id", "id"),
        sa.Index("ix_shipments_order", "order_id", "id"),
        # The arrival-notice job's queue: only shipments still waiting for their notice.
        sa.Index("ix_shipments_arrival_due", "estimated_arrival",
                 postgresql_where=sa.text("arrival_notice_at IS NULL AND status <> 'DELIVERED'")),
        sa.Index("ix_shipments_from_warehouse_fk", "from_warehouse_id"),
        sa.Index("ix_shipments_to_warehouse_fk", "to_warehouse_id"),
        sa.Index("ix_shipments_user_fk", "created_by_user_id"),
        sa.Index("ix_shipments_api_key_fk", "created_by_api_key_id"),
        sa.CheckConstraint(_in("status", SHIPMENT_STATUSES), name="ck_shipments_status"),
        sa.CheckConstraint("length(btrim(carrier)) > 0", name="ck_shipments_carrier"),
        sa.CheckConstraint("from_warehouse_id <> to_warehouse_id", name="ck_shipments_distinct"),
        sa.CheckConstraint("(status = 'DELIVERED') = (delivered_at IS NOT NULL)", name="ck_shipments_delivered"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    # The order's number and the shipment's place in it: SH20261129-000042-1.
    number: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    order_id: int = _ref("orders.id")
    from_warehouse_id: int = _ref("warehouses.id")
    to_warehouse_id: int = _ref("warehouses.id")
    status: str = Field(sa_column=sa.Column(sa.String(20), nullable=False, server_default="CREATED"))
    carrier: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    tracking_number: str | None = Field(default=None, sa_column=sa.Column(sa.String(100)))
    estimated_arrival: datetime | None = _time()
    arrival_notice_at: datetime | None = _time()
    delivered_at: datetime | None = _time()
    note: str | None = Field(default=None, sa_column=sa.Column(sa.String(500)))
    idempotency_key: str | None = Field(default=None, sa_column=sa.Column(sa.String(128)))
    # SHA-256 of the request: the same key with a different request is refused.
    fingerprint: str | None = Field(default=None, sa_column=sa.Column(sa.String(64)))
    created_by_user_id: int | None = fk("users.id")
    created_by_api_key_id: int | None = fk("api_keys.id")
    # When the goods left the seller's warehouse (shippedAt).
    created_at: datetime | None = created_at()
    updated_at: datetime | None = updated_at()


class ShipmentLine(SQLModel, table=True):
    __tablename__ = "shipment_lines"
    __table_args__ = (
        sa.UniqueConstraint("shipment_id", "order_line_id", name="uq_shipment_lines_order_line"),
        # Shipped so far per order line.
        sa.Index("ix_shipment_lines_order_line_fk", "order_line_id"),
        sa.Index("ix_shipment_lines_sku_fk", "sku_id"),
        sa.CheckConstraint("quantity > 0", name="ck_shipment_lines_quantity"),
        # Serial-tracked units are named all or none (unnamed opening stock may still ship).
        sa.CheckConstraint("cardinality(serials) IN (0, quantity)", name="ck_shipment_lines_serials"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    shipment_id: int = _ref("shipments.id")
    order_line_id: int = _ref("order_lines.id")
    sku_id: int = _ref("skus.id")
    quantity: int = _count()
    serials: list[str] = _serials()


class ShipmentEvent(SQLModel, table=True):
    """One tracking step of a shipment (append-only)."""

    __tablename__ = "shipment_events"
    __table_args__ = (
        sa.Index("ix_shipment_events_shipment", "shipment_id", "id"),
        sa.Index("ix_shipment_events_user_fk", "actor_user_id"),
        sa.Index("ix_shipment_events_api_key_fk", "actor_api_key_id"),
        sa.CheckConstraint(_in("kind", EVENT_KINDS), name="ck_shipment_events_kind"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    shipment_id: int = _ref("shipments.id")
    kind: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    location: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    note: str | None = Field(default=None, sa_column=sa.Column(sa.String(500)))
    # When it happened (the carrier's scan time); created_at is when it was recorded.
    occurred_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    actor_user_id: int | None = fk("users.id")
    actor_api_key_id: int | None = fk("api_keys.id")
    created_at: datetime | None = Field(
        default=None,
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
    )


class Receipt(SQLModel, table=True):
    """The buyer's confirmation of what arrived for an order (once per order)."""

    __tablename__ = "receipts"
    __table_args__ = (
        sa.UniqueConstraint("order_id", name="uq_receipts_order"),
        sa.Index("ix_receipts_tenant", "tenant_id", "id"),
        sa.Index("ix_receipts_warehouse_fk", "warehouse_id"),
        sa.Index("ix_receipts_user_fk", "received_by_user_id"),
        sa.Index("ix_receipts_api_key_fk", "received_by_api_key_id"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    order_id: int = _ref("orders.id")
    warehouse_id: int = _ref("warehouses.id")
    note: str | None = Field(default=None, sa_column=sa.Column(sa.String(500)))
    idempotency_key: str | None = Field(default=None, sa_column=sa.Column(sa.String(128)))
    fingerprint: str | None = Field(default=None, sa_column=sa.Column(sa.String(64)))
    received_by_user_id: int | None = fk("users.id")
    received_by_api_key_id: int | None = fk("api_keys.id")
    created_at: datetime | None = created_at()


class ReceiptLine(SQLModel, table=True):
    """Per order line: shipped = received + short + damaged."""

    __tablename__ = "receipt_lines"
    __table_args__ = (
        sa.UniqueConstraint("receipt_id", "order_line_id", name="uq_receipt_lines_order_line"),
        sa.Index("ix_receipt_lines_order_line_fk", "order_line_id"),
        sa.Index("ix_receipt_lines_sku_fk", "sku_id"),
        sa.CheckConstraint("received >= 0 AND short >= 0 AND damaged >= 0", name="ck_receipt_lines_quantities"),
        sa.CheckConstraint("shipped > 0 AND received + short + damaged = shipped", name="ck_receipt_lines_sum"),
        sa.CheckConstraint("cardinality(serials) <= received AND cardinality(damaged_serials) <= damaged",
                           name="ck_receipt_lines_serials"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    receipt_id: int = _ref("receipts.id")
    order_line_id: int = _ref("order_lines.id")
    sku_id: int = _ref("skus.id")
    shipped: int = _count()
    received: int = _count()
    short: int = _count()
    damaged: int = _count()
    # Serials of the units received, and of the damaged units the buyer named.
    serials: list[str] = _serials()
    damaged_serials: list[str] = _serials()
    note: str | None = Field(default=None, sa_column=sa.Column(sa.String(500)))
