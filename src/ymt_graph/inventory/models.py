"""Tables of the inventory centre.

``stock_movements`` is the ledger: append-only, one row per change of one stock
level, carrying the deltas it applied. ``stock_levels`` is the balance kept in
step with it inside the same transaction, so on_hand, reserved and inbound of a
level always equal the sums of its movements' deltas. ``available`` (on hand −
reserved) is derived and never stored.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from ymt_graph.models_base import created_at, fk, pk, tenant_fk, updated_at

MOVEMENT_KINDS = (
    "RECEIPT", "SHIPMENT", "SALE", "ADJUSTMENT", "TRANSFER_OUT", "TRANSFER_IN", "RETURN", "RESERVATION", "RELEASE",
)
SERIAL_STATUSES = ("IN_STOCK", "IN_TRANSIT", "SOLD", "WRITTEN_OFF")
TRANSFER_STATUSES = ("IN_TRANSIT", "RECEIVED")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _quantity(*, server_default: str = "0") -> int:
    result: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default=server_default))
    return result


class StockLevel(SQLModel, table=True):
    """What one warehouse holds of one SKU."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "warehouse_id", "sku_id", name="uq_stock_levels_warehouse_sku"),
        # "Where is this SKU in stock" and the per-SKU loader.
        sa.Index("ix_stock_levels_sku", "tenant_id", "sku_id", "warehouse_id"),
        sa.Index("ix_stock_levels_warehouse_fk", "warehouse_id"),
        sa.Index("ix_stock_levels_sku_fk", "sku_id"),
        sa.CheckConstraint("on_hand >= 0", name="ck_stock_levels_on_hand"),
        sa.CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="ck_stock_levels_reserved"),
        sa.CheckConstraint("inbound >= 0", name="ck_stock_levels_inbound"),
        sa.CheckConstraint("safety_stock >= 0 AND reorder_point >= 0", name="ck_stock_levels_planning"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    warehouse_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("warehouses.id"), nullable=False))
    sku_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("skus.id"), nullable=False))
    on_hand: int = _quantity()
    reserved: int = _quantity()
    # Shipped or transferred to this warehouse, not yet received.
    inbound: int = _quantity()
    safety_stock: int = _quantity()
    reorder_point: int = _quantity()
    updated_at: datetime | None = updated_at()


class StockMovement(SQLModel, table=True):
    """One change of one stock level (append-only: never updated, never deleted)."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        # The ledger of one level (and the balance == sum(ledger) check).
        sa.Index("ix_stock_movements_level", "tenant_id", "warehouse_id", "sku_id", "id"),
        sa.Index("ix_stock_movements_warehouse", "tenant_id", "warehouse_id", "id"),
        sa.Index("ix_stock_movements_sku", "tenant_id", "sku_id", "id"),
        # "What did this order / transfer do to stock" (order centre, after-sales).
        sa.Index("ix_stock_movements_ref", "tenant_id", "ref_type", "ref_id"),
        sa.Index("ix_stock_movements_warehouse_fk", "warehouse_id"),
        sa.Index("ix_stock_movements_sku_fk", "sku_id"),
        sa.CheckConstraint(_in("kind", MOVEMENT_KINDS), name="ck_stock_movements_kind"),
        sa.CheckConstraint(
            "on_hand_delta <> 0 OR reserved_delta <> 0 OR inbound_delta <> 0", name="ck_stock_movements_changes"
        ),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    warehouse_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("warehouses.id"), nullable=False))
    sku_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("skus.id"), nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    on_hand_delta: int = _quantity()
    reserved_delta: int = _quantity()
    inbound_delta: int = _quantity()
    reason: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    # What caused it, by GraphQL type name and primary key ("StockTransfer", 12; "Order", 345).
    ref_type: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    ref_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger))
    actor_user_id: int | None = fk("users.id")
    actor_api_key_id: int | None = fk("api_keys.id")
    created_at: datetime | None = created_at()


class StockTransfer(SQLModel, table=True):
    """Stock sent from one warehouse to another: IN_TRANSIT until the destination receives it."""

    __tablename__ = "stock_transfers"
    __table_args__ = (
        sa.Index("ix_stock_transfers_from", "tenant_id", "from_warehouse_id", "id"),
        sa.Index("ix_stock_transfers_to", "tenant_id", "to_warehouse_id", "id"),
        sa.Index("ix_stock_transfers_from_fk", "from_warehouse_id"),
        sa.Index("ix_stock_transfers_to_fk", "to_warehouse_id"),
        sa.CheckConstraint("from_warehouse_id <> to_warehouse_id", name="ck_stock_transfers_distinct"),
        sa.CheckConstraint(_in("status", TRANSFER_STATUSES), name="ck_stock_transfers_status"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    from_warehouse_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("warehouses.id"), nullable=False)
    )
    to_warehouse_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("warehouses.id"), nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, server_default="IN_TRANSIT"))
    note: str | None = Field(default=None, sa_column=sa.Column(sa.String(500)))
    created_by_user_id: int | None = fk("users.id")
    created_by_api_key_id: int | None = fk("api_keys.id")
    received_by_user_id: int | None = fk("users.id")
    received_by_api_key_id: int | None = fk("api_keys.id")
    created_at: datetime | None = created_at()
    received_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))


class StockTransferLine(SQLModel, table=True):
    __tablename__ = "stock_transfer_lines"
    __table_args__ = (
        sa.UniqueConstraint("transfer_id", "sku_id", name="uq_stock_transfer_lines_sku"),
        sa.Index("ix_stock_transfer_lines_sku_fk", "sku_id"),
        sa.CheckConstraint("quantity > 0", name="ck_stock_transfer_lines_quantity"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    transfer_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("stock_transfers.id"), nullable=False)
    )
    sku_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("skus.id"), nullable=False))
    quantity: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    serials: list[str] = Field(
        default_factory=list, sa_column=sa.Column(ARRAY(sa.String(64)), nullable=False, server_default="{}")
    )


class SerialUnit(SQLModel, table=True):
    """One unit of a serial-tracked SKU (an e-bike by its frame/VIN number).

    ``warehouse_id`` is where it is (IN_STOCK), where it is headed (IN_TRANSIT), or
    where it was sold or written off from."""

    __tablename__ = "serial_units"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "serial", name="uq_serial_units_serial"),
        # "Units of this SKU in stock here" (the serials ≤ on hand check).
        sa.Index("ix_serial_units_place", "tenant_id", "warehouse_id", "sku_id", "status"),
        sa.Index("ix_serial_units_sku_fk", "sku_id"),
        sa.Index("ix_serial_units_warehouse_fk", "warehouse_id"),
        sa.CheckConstraint(_in("status", SERIAL_STATUSES), name="ck_serial_units_status"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    serial: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    sku_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("skus.id"), nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    warehouse_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("warehouses.id"), nullable=False))
    created_at: datetime | None = created_at()
    updated_at: datetime | None = updated_at()


class SerialUnitEvent(SQLModel, table=True):
    """One step in a unit's history: its status and warehouse after the step, and why."""

    __tablename__ = "serial_unit_events"
    __table_args__ = (
        sa.Index("ix_serial_unit_events_unit", "serial_unit_id", "id"),
        # Visibility of a unit is decided by the warehouses it has been at.
        sa.Index("ix_serial_unit_events_warehouse", "warehouse_id", "serial_unit_id"),
        sa.CheckConstraint(_in("status", SERIAL_STATUSES), name="ck_serial_unit_events_status"),
        sa.CheckConstraint(_in("kind", MOVEMENT_KINDS), name="ck_serial_unit_events_kind"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    serial_unit_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("serial_units.id"), nullable=False)
    )
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    warehouse_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("warehouses.id"), nullable=False))
    ref_type: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    ref_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger))
    actor_user_id: int | None = fk("users.id")
    actor_api_key_id: int | None = fk("api_keys.id")
    created_at: datetime | None = created_at()


class StockIdempotencyKey(SQLModel, table=True):
    """A stock mutation already done under a client's key: replays return its result."""

    __tablename__ = "stock_idempotency_keys"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "operation", "key", name="uq_stock_idempotency_keys_key"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    operation: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    key: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    # SHA-256 of the request: the same key with a different request is refused.
    fingerprint: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    result_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger))
    created_at: datetime | None = created_at()
