"""Orders for the order-list benchmark (``catalog.py``'s ``order-list-25`` scenarios).

``ensure_orders`` makes sure every user whose order list is measured sees at least ``minimum``
orders. When one sees fewer, it makes the missing orders through the project's services, as
the HQ admin (who may order for, approve and ship anything): buyers are ``--dealer`` and its
active sub-dealers (so the dealer's own users see them, and HQ does), each order has 2–5 lines
of SKUs the buyer may order and has a price for (not serial-tracked, quantity meeting MOQ and
order multiple), ``orders.service.add_lines`` + ``submit`` (an order above the buyer's credit
is PENDING_APPROVAL and then ``approve``-d), and in turn: shipped complete in one shipment,
shipped complete in two, shipped in part, not shipped (``shipping.service.create_shipment``,
some without tracking number or arrival estimate). Stock at the sellers' warehouses is topped
up first through ``inventory.service.adjust`` (ADJUSTMENT movements: the ledger stays
consistent) so the reservations cannot fail; lines left in a buyer's cart are removed first
(``orders.service.remove_lines``). Nothing is cleaned up afterwards: use a throw-away database.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from raw_server import principal_of
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from ymt_graph.access import Principal, Role
from ymt_graph.catalog import service as catalog_service
from ymt_graph.db import async_url
from ymt_graph.inventory import service as inventory_service
from ymt_graph.orders import service as order_service
from ymt_graph.pricing import service as pricing
from ymt_graph.shipping import service as shipping_service

NOTE = "bench: scripts/bench/orderdata.py"
CARRIERS = ("SF Express", "JD Logistics", "own truck")
MAX_BUYERS = 3


class PrepareError(Exception):
    pass


@dataclass(frozen=True)
class _Buyer:
    id: int
    code: str
    seller_warehouse_id: int
    pool: list[tuple[int, int]]  # (sku id, quantity) it may order, priced


def _good_quantity(moq: int, multiple: int) -> int:
    q = max(moq, multiple)
    return -(-q // multiple) * multiple


async def visible_orders(conn: AsyncConnection, p: Principal) -> int:
    """How many orders the principal's order list holds (``orders.service.scoped_orders``)."""
    sub = order_service.scoped_orders(p).subquery()
    return int((await conn.execute(sa.select(sa.func.count()).select_from(sub))).scalar_one())


async def _buyers(conn: AsyncConnection, admin: Principal, dealer_code: str) -> list[_Buyer]:
    d = order_service.dealers
    root = (
        await conn.execute(
            order_service._dealer_select().where(d.c.tenant_id == admin.tenant_id, d.c.code == dealer_code)
        )
    ).one_or_none()
    if root is None:
        raise PrepareError(f"no dealer {dealer_code!r}")
    rows = (
        await conn.execute(
            order_service._dealer_select()
            .where(d.c.tenant_id == admin.tenant_id, d.c.path.startswith(root.path), d.c.status == "ACTIVE")
            .order_by(d.c.level, d.c.code)
        )
    ).all()
    s = catalog_service.skus
    out: list[_Buyer] = []
    for row in rows:
        party = await order_service.party(conn, admin, order_service.BuyerRef.dealer(row.id))
        if party.seller_warehouse_id is None or party.buyer_warehouse_id is None:
            continue
        found = (
            await conn.execute(
                sa.select(s.c.id, s.c.moq, s.c.order_multiple)
                .where(s.c.tenant_id == admin.tenant_id, s.c.serial_tracked.is_(False),
                       catalog_service.orderable_clause(row))
                .order_by(s.c.code)
            )
        ).all()
        by_quantity: dict[int, list[int]] = defaultdict(list)
        for r in found:
            by_quantity[_good_quantity(r.moq, r.order_multiple)].append(r.id)
        priced: dict[int, int] = {}
        for q, ids in by_quantity.items():
            for sku_id in await pricing.resolve_prices(conn, admin, row.id, ids, q):
                priced[sku_id] = q
        pool = [(r.id, priced[r.id]) for r in found if r.id in priced]
        if len(pool) >= 5:
            out.append(_Buyer(row.id, row.code, party.seller_warehouse_id, pool))
        if len(out) == MAX_BUYERS:
            break
    if not out:
        raise PrepareError(f"no buyer under {dealer_code} has 5 SKUs it may order with a price")
    return out


async def ensure_orders(
    dsn: str, tenant: str, admin_email: str, viewers: Sequence[str], minimum: int, dealer_code: str
) -> list[str]:
    """Make orders until each of ``viewers`` sees at least ``minimum``; what was done, in words."""
    admin = await principal_of(dsn, tenant, admin_email)
    if admin is None or admin.role is not Role.HQ_ADMIN:
        raise PrepareError(f"{admin_email} is not an HQ_ADMIN of tenant {tenant!r}: it makes the orders")
    principals: dict[str, Principal] = {}
    for email in viewers:
        p = await principal_of(dsn, tenant, email)
        if p is None:
            raise PrepareError(f"no user {email!r} in tenant {tenant!r}")
        principals[email] = p
    engine = create_async_engine(async_url(dsn), poolclass=NullPool, connect_args={"server_settings": {"jit": "off"}})
    try:
        async with engine.connect() as conn:
            before = {email: await visible_orders(conn, p) for email, p in principals.items()}
        missing = max(0, minimum - min(before.values(), default=minimum))
        seen = ", ".join(f"{e} {n}" for e, n in before.items())
        if missing == 0:
            return [f"orders: none made; already visible: {seen} (≥ {minimum} each)"]
        notes = await _make(engine, admin, dealer_code, missing)
        # The database was ANALYZEd before these rows existed: without fresh statistics the order
        # tables look empty to the planner (autovacuum analyzes only past 50 changed rows).
        async with engine.connect() as conn:
            await conn.execute(sa.text("ANALYZE orders, order_lines, order_events, shipments, shipment_lines, "
                                       "shipment_events"))
            await conn.commit()
        notes.append("orders' tables ANALYZEd")
        async with engine.connect() as conn:
            after = {email: await visible_orders(conn, p) for email, p in principals.items()}
        notes.append("orders visible now: " + ", ".join(f"{e} {before[e]} → {n}" for e, n in after.items()))
        short = [e for e, n in after.items() if n < minimum]
        if short:
            notes.append(f"still fewer than {minimum} orders for {', '.join(short)} (orders of {dealer_code}'s "
                         "subtree are not theirs to see): their pages are shorter")
        return notes
    finally:
        await engine.dispose()


async def _make(engine: Any, admin: Principal, dealer_code: str, n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    async with engine.begin() as conn:
        buyers = await _buyers(conn, admin, dealer_code)
        # The plan: order k of buyer k mod len, 2–5 lines from its pool.
        plan: list[tuple[_Buyer, list[tuple[int, int]]]] = []
        for k in range(n):
            b = buyers[k % len(buyers)]
            lines = [b.pool[(2 * (k // len(buyers)) + j) % len(b.pool)] for j in range(2 + k % 4)]
            plan.append((b, lines))
        # Stock for every reservation of the plan, at each seller warehouse.
        need: Counter[tuple[int, int]] = Counter()
        for b, lines in plan:
            for sku_id, q in lines:
                need[(b.seller_warehouse_id, sku_id)] += q
        lv = inventory_service.stock_levels
        topped = units = 0
        for (wh, sku_id), q in sorted(need.items()):
            have = (
                await conn.execute(
                    sa.select(lv.c.on_hand - lv.c.reserved).where(
                        lv.c.tenant_id == admin.tenant_id, lv.c.warehouse_id == wh, lv.c.sku_id == sku_id
                    )
                )
            ).scalar()
            if (have or 0) < q:
                await inventory_service.adjust(conn, admin, wh, sku_id, q - (have or 0), NOTE)
                topped += 1
                units += q - (have or 0)
        # Lines an earlier run left in the buyers' carts would join the first order.
        cleared = 0
        for b in buyers:
            left = list(
                (
                    await conn.execute(
                        sa.select(order_service.cart_lines.c.sku_id)
                        .select_from(order_service.cart_lines.join(
                            order_service.carts, order_service.carts.c.id == order_service.cart_lines.c.cart_id))
                        .where(order_service.carts.c.buyer_dealer_id == b.id)
                    )
                ).scalars()
            )
            if left:
                await order_service.remove_lines(conn, admin, order_service.BuyerRef.dealer(b.id), left)
                cleared += len(left)

    statuses: Counter[str] = Counter()
    shipped_as: Counter[str] = Counter()
    approved = shipments = 0
    now = datetime.now(UTC)
    for k, (b, lines) in enumerate(plan):
        ref = order_service.BuyerRef.dealer(b.id)
        async with engine.begin() as conn:
            await order_service.add_lines(conn, admin, ref, [order_service.LineInput(s, q) for s, q in lines])
            order_id = await order_service.submit(
                conn, admin, order_service.SubmitRequest(ref, f"bench-orderlist-{run}-{k}", NOTE)
            )
            o = order_service.orders
            status = (await conn.execute(sa.select(o.c.status).where(o.c.id == order_id))).scalar_one()
            if status == "PENDING_APPROVAL":
                await order_service.approve(conn, admin, order_id, "bench")
                approved += 1
        # Shipments: complete in one, complete in two, in part, none.
        kind = k % 4
        batches = {0: [lines], 1: [lines[: len(lines) // 2], lines[len(lines) // 2 :]], 2: [lines[:1]], 3: []}[kind]
        shipped_as[("one shipment", "two shipments", "in part", "not shipped")[kind]] += 1
        for i, batch in enumerate(batches, start=1):
            untracked = (k + i) % 5 == 0
            request = shipping_service.ShipmentRequest(
                order_id=order_id,
                carrier=CARRIERS[(k + i) % len(CARRIERS)],
                lines=tuple(shipping_service.ShipLine(order_line_id=None, sku_id=s, quantity=q) for s, q in batch),
                tracking_number=None if untracked else f"BENCH{order_id:06d}{i}",
                estimated_arrival=None if untracked else now + timedelta(days=2 + k % 5, hours=i),
                idempotency_key=f"bench-orderlist-{run}-{k}-{i}",
            )
            async with engine.begin() as conn:
                await shipping_service.create_shipment(conn, admin, request)
            shipments += 1
        async with engine.connect() as conn:
            statuses[
                (
                    await conn.execute(
                        sa.select(order_service.orders.c.status).where(order_service.orders.c.id == order_id)
                    )
                ).scalar_one()
            ] += 1
    line_counts = Counter(len(lines) for _, lines in plan)
    notes = [
        f"orders: made {n} for {', '.join(b.code for b in buyers)} through orders.service (add_lines, submit"
        f"{f', approve ×{approved}' if approved else ''}) as {NOTE.split(': ')[1]}; lines per order "
        + ", ".join(f"{c}×{m}" for m, c in sorted(line_counts.items()))
        + "; "
        + ", ".join(f"{v} {k}" for k, v in shipped_as.items())
        + f" ({shipments} shipments via shipping.service.create_shipment); statuses "
        + ", ".join(f"{s} {c}" for s, c in sorted(statuses.items())),
        f"stock: {topped} level(s) topped up by {units:,} units (inventory.service.adjust, ADJUSTMENT movements)"
        if topped
        else "stock: no top-up needed",
    ]
    if cleared:
        notes.append(f"carts: removed {cleared} line(s) left in the buyers' carts")
    return notes


async def seller_warehouse_code(dsn: str, tenant: str, admin_email: str, dealer_code: str) -> str:
    """The warehouse a dealer buys from (``orders.service.party``: an HQ warehouse for a level-1
    dealer, its distributor's for a sub-dealer), by code."""
    admin = await principal_of(dsn, tenant, admin_email)
    if admin is None:
        raise PrepareError(f"no user {admin_email!r} in tenant {tenant!r}")
    engine = create_async_engine(async_url(dsn), poolclass=NullPool, connect_args={"server_settings": {"jit": "off"}})
    try:
        async with engine.connect() as conn:
            d, w = order_service.dealers, order_service.warehouses
            dealer_id = (
                await conn.execute(sa.select(d.c.id).where(d.c.tenant_id == admin.tenant_id, d.c.code == dealer_code))
            ).scalar()
            if dealer_id is None:
                raise PrepareError(f"no dealer {dealer_code!r}")
            party = await order_service.party(conn, admin, order_service.BuyerRef.dealer(dealer_id))
            if party.seller_warehouse_id is None:
                raise PrepareError(f"dealer {dealer_code} has no warehouse to buy from")
            code = (await conn.execute(sa.select(w.c.code).where(w.c.id == party.seller_warehouse_id))).scalar_one()
            return str(code)
    finally:
        await engine.dispose()
