"""Tables of the after-sales centre.

A claim is one matter to settle about goods: for now a RECEIPT_DISCREPANCY (units short or
damaged when an order was received; they stay inbound at the buyer's warehouse until the
claim is settled). Later kinds share the table: RETURN (an RMA, with approval), WARRANTY
(by serial number), REPAIR (a ticket); kind-specific facts go to ``details``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from ymt_graph.models_base import created_at, fk, pk, tenant_fk, updated_at

CLAIM_KINDS = ("RECEIPT_DISCREPANCY", "RETURN", "WARRANTY", "REPAIR")
CLAIM_STATUSES = ("OPEN", "APPROVED", "REJECTED", "RESOLVED")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _count() -> int:
    result: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0"))
    return result


class ClaimCounter(SQLModel, table=True):
    """The last claim number given out per tenant and day (``CL20261129-000001``)."""

    __tablename__ = "claim_counters"
    tenant_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("tenants.id"), primary_key=True))
    day: date = Field(sa_column=sa.Column(sa.Date, primary_key=True))
    last: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))


class Claim(SQLModel, table=True):
    __tablename__ = "claims"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "number", name="uq_claims_number"),
        sa.Index("ix_claims_tenant", "tenant_id", "id"),
        sa.Index("ix_claims_order", "order_id", "id"),
        sa.Index("ix_claims_order_line_fk", "order_line_id"),
        sa.Index("ix_claims_receipt_fk", "receipt_id"),
        sa.Index("ix_claims_sku_fk", "sku_id"),
        sa.Index("ix_claims_user_fk", "created_by_user_id"),
        sa.Index("ix_claims_api_key_fk", "created_by_api_key_id"),
        sa.CheckConstraint(_in("kind", CLAIM_KINDS), name="ck_claims_kind"),
        sa.CheckConstraint(_in("status", CLAIM_STATUSES), name="ck_claims_status"),
        sa.CheckConstraint("quantity > 0 AND short_quantity >= 0 AND damaged_quantity >= 0",
                           name="ck_claims_quantities"),
        sa.CheckConstraint("cardinality(serials) <= quantity", name="ck_claims_serials"),
        # A receipt discrepancy is about one received order line: what was short plus damaged.
        sa.CheckConstraint(
            "kind <> 'RECEIPT_DISCREPANCY' OR (order_id IS NOT NULL AND order_line_id IS NOT NULL "
            "AND receipt_id IS NOT NULL AND short_quantity + damaged_quantity = quantity)",
            name="ck_claims_receipt_discrepancy",
        ),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    number: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.String(24), nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, server_default="OPEN"))
    # The order (and line) the claim is about; a later kind may have none (a warranty claim
    # by serial number alone), which is why these may be null.
    order_id: int | None = fk("orders.id")
    order_line_id: int | None = fk("order_lines.id")
    receipt_id: int | None = fk("receipts.id")
    sku_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("skus.id"), nullable=False))
    # Units the claim is about (receipt discrepancy: short + damaged).
    quantity: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    short_quantity: int = _count()
    damaged_quantity: int = _count()
    # Serials of the units concerned that are known (receipt discrepancy: the damaged units named).
    serials: list[str] = Field(
        default_factory=list, sa_column=sa.Column(ARRAY(sa.String(64)), nullable=False, server_default="{}")
    )
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONB, nullable=False, server_default=sa.text("'{}'::jsonb"))
    )
    note: str | None = Field(default=None, sa_column=sa.Column(sa.String(500)))
    created_by_user_id: int | None = fk("users.id")
    created_by_api_key_id: int | None = fk("api_keys.id")
    created_at: datetime | None = created_at()
    updated_at: datetime | None = updated_at()
