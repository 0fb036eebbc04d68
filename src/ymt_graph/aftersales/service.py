"""Rules of the after-sales centre: claims.

For now one kind is opened, by the shipping centre inside the receipt's transaction: a
RECEIPT_DISCREPANCY per received order line with units short or damaged. Those units are not
in the buyer's stock: they stay inbound at its warehouse until the claim is settled (the
after-sales issue: resolve, return, credit). Claims are numbered per tenant and day
(``CL20261129-000001``) and announced with a ``claim.opened`` outbox event to the order's topics.

Reads: a claim is visible exactly when its order is (the orders centre's scope).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row

from ymt_graph.access import Principal
from ymt_graph.aftersales import models
from ymt_graph.db import table
from ymt_graph.errors import Executor
from ymt_graph.graph.ids import encode_gid
from ymt_graph.notifications import service as notifications
from ymt_graph.orders import service as orders_service
from ymt_graph.paging import Order, Page, equal_to, newest_first, page

claims = table(models.Claim)
claim_counters = table(models.ClaimCounter)
orders = orders_service.orders

notifications.register_event_types("claim.opened")


class ClaimKind(enum.StrEnum):
    RECEIPT_DISCREPANCY = "RECEIPT_DISCREPANCY"
    RETURN = "RETURN"
    WARRANTY = "WARRANTY"
    REPAIR = "REPAIR"


class ClaimStatus(enum.StrEnum):
    OPEN = "OPEN"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    RESOLVED = "RESOLVED"


@dataclass(frozen=True)
class Discrepancy:
    """What a received order line lacked."""

    order_line_id: int
    sku_id: int
    sku_code: str
    short: int
    damaged: int
    damaged_serials: tuple[str, ...] = ()
    # Units shipped by serial that were neither received nor named damaged.
    missing_serials: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class Opened:
    id: int
    number: str
    kind: str
    sku_code: str
    short: int
    damaged: int


async def _numbers(conn: Executor, tenant_id: int, n: int) -> list[str]:
    """``n`` new claim numbers of today (the counter row is locked until commit)."""
    today: date = (await conn.execute(sa.select(sa.func.current_date()))).scalar_one()
    ins = pg_insert(claim_counters).values(tenant_id=tenant_id, day=today, last=n)
    last = int((await conn.execute(
        ins.on_conflict_do_update(index_elements=["tenant_id", "day"], set_={"last": claim_counters.c.last + n})
        .returning(claim_counters.c.last)
    )).scalar_one())
    return [f"CL{today:%Y%m%d}-{k:06d}" for k in range(last - n + 1, last + 1)]


async def open_receipt_claims(
    conn: Executor, p: Principal | None, o: Row[Any], receipt_id: int, items: Sequence[Discrepancy]
) -> list[Opened]:
    """One OPEN RECEIPT_DISCREPANCY claim per line, in the caller's transaction (the order ``o``
    is locked by it), each announced by a ``claim.opened`` event."""
    if not items:
        return []
    numbers = await _numbers(conn, o.tenant_id, len(items))
    out: list[Opened] = []
    for number, d in zip(numbers, items, strict=True):
        details: dict[str, Any] = {"missingSerials": list(d.missing_serials)} if d.missing_serials else {}
        claim_id = int((await conn.execute(sa.insert(claims).values(
            tenant_id=o.tenant_id, number=number, kind=ClaimKind.RECEIPT_DISCREPANCY.value,
            status=ClaimStatus.OPEN.value, order_id=o.id, order_line_id=d.order_line_id, receipt_id=receipt_id,
            sku_id=d.sku_id, quantity=d.short + d.damaged, short_quantity=d.short, damaged_quantity=d.damaged,
            serials=list(d.damaged_serials), details=details, note=d.note,
            created_by_user_id=p.user_id if p else None, created_by_api_key_id=p.api_key_id if p else None,
        ).returning(claims.c.id))).scalar_one())
        payload = {
            "claimId": encode_gid("Claim", claim_id), "claimNumber": number,
            "kind": ClaimKind.RECEIPT_DISCREPANCY.value, "status": ClaimStatus.OPEN.value,
            "orderId": encode_gid("Order", o.id), "orderNumber": o.number,
            "orderLineId": encode_gid("OrderLine", d.order_line_id), "sku": d.sku_code,
            "shortQuantity": d.short, "damagedQuantity": d.damaged, "serials": list(d.damaged_serials),
        }
        await notifications.emit(conn, o.tenant_id, "claim.opened", "Claim", claim_id, payload,
                                 orders_service.order_topics(o))
        out.append(Opened(claim_id, number, ClaimKind.RECEIPT_DISCREPANCY.value, d.sku_code, d.short, d.damaged))
    return out


# ---- reads ------------------------------------------------------------------------------------


CLAIM_ORDER: Order = newest_first(claims.c.id)


def claim_select(p: Principal) -> sa.Select[Any]:
    """Claims the principal sees: exactly those of the orders it sees."""
    visible = orders_service.scoped_orders(p).with_only_columns(orders.c.id)
    return sa.select(claims).where(claims.c.tenant_id == p.tenant_id, claims.c.order_id.in_(visible))


@dataclass(frozen=True)
class ClaimFilter:
    order_id: int | None = None
    status: str | None = None
    kind: str | None = None


async def claims_page(
    db: Executor, p: Principal, f: ClaimFilter, first: int, after: str | None, want_total: bool
) -> Page:
    c = claims.c
    base = claim_select(p).where(*equal_to((c.order_id, f.order_id), (c.status, f.status), (c.kind, f.kind)))
    return await page(db, base, CLAIM_ORDER, first, after, want_total)


async def claims_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    return {r.id: r for r in (await db.execute(claim_select(p).where(claims.c.id.in_(ids)))).all()}


async def claims_for_orders(db: Executor, order_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Claims of orders already read through the orders centre's scope, oldest first (one statement)."""
    out: dict[int, list[Row[Any]]] = defaultdict(list)
    for r in (await db.execute(
        sa.select(claims).where(claims.c.order_id.in_(order_ids)).order_by(claims.c.id)
    )).all():
        out[r.order_id].append(r)
    return out
