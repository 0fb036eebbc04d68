"""Fifty buyers submit at once for the last ten units: exactly ten orders, the rest a clear userError."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from order_helpers import Shop, level, orderable_priced
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ymt_graph.access import Principal, Role
from ymt_graph.db import async_url
from ymt_graph.errors import DomainError
from ymt_graph.inventory import service as inventory_service
from ymt_graph.orders import service

BUYERS = 50
LAST = 10


async def _clone_buyers(engine: AsyncEngine, shop: Shop) -> list[Principal]:
    """Fifty level-1 dealers like D0001 (same region, level, tier): all buy from HQ's east warehouse."""
    async with engine.begin() as c:
        ids = list((await c.execute(sa.text(
            "INSERT INTO dealers (tenant_id, code, name, level, path, region_id, tier, status, credit_limit, "
            "payment_terms_days) SELECT tenant_id, 'RACE-' || g, 'race ' || g, level, '/', region_id, tier, status, "
            "credit_limit, payment_terms_days FROM dealers, generate_series(1, :n) g WHERE code = 'D0001' "
            "RETURNING id"), {"n": BUYERS})).scalars())
        await c.execute(sa.text("UPDATE dealers SET path = '/' || id || '/' WHERE code LIKE 'RACE-%'"))
        await c.execute(sa.text(
            "INSERT INTO warehouses (tenant_id, code, name, owner_kind, dealer_id, region_id) "
            "SELECT tenant_id, 'W-' || code, name, 'DEALER', id, region_id FROM dealers WHERE code LIKE 'RACE-%'"))
    return [Principal(tenant_id=shop.tenant_id, role=Role.DEALER_ADMIN, dealer_id=i, dealer_path=f"/{i}/")
            for i in ids]


async def test_fifty_buyers_race_for_the_last_ten_units(engine: AsyncEngine, shop: Shop, db_url: str) -> None:
    buyers = await _clone_buyers(engine, shop)
    wh = shop.wh["W-HQ-EAST"]
    async with engine.begin() as c:
        offered = await orderable_priced(c, buyers[0], buyers[0].dealer_id or 0)
        sku = next(k for k, r in offered.items() if r.moq == 1 and r.order_multiple == 1)
        on_hand, reserved = await level(engine, wh, sku)
        # Leave exactly ten units available.
        await inventory_service.adjust(c, shop.admin(), wh, sku, LAST - (on_hand - reserved), "race setup")
        for p in buyers:
            await service.add_lines(c, p, service.BuyerRef.dealer(p.dealer_id or 0), [service.LineInput(sku, 1)])
    before = await level(engine, wh, sku)
    assert before[0] - before[1] == LAST

    racers = create_async_engine(async_url(db_url), poolclass=NullPool)
    barrier = asyncio.Barrier(BUYERS)

    async def submit(p: Principal) -> str:
        try:
            async with racers.begin() as conn:
                await conn.execute(sa.text("SELECT 1"))
                await barrier.wait()
                buyer = service.BuyerRef.dealer(p.dealer_id or 0)
                await service.submit(conn, p, service.SubmitRequest(buyer, f"race-{p.dealer_id}"))
        except DomainError as exc:
            assert exc.field and "lines" in exc.field
            assert "available" in exc.message
            return str(exc.code.value)
        return "ORDERED"

    try:
        outcomes = await asyncio.gather(*(submit(p) for p in buyers))
    finally:
        await racers.dispose()
    assert outcomes.count("ORDERED") == LAST
    assert outcomes.count("INSUFFICIENT_STOCK") == BUYERS - LAST
    assert await level(engine, wh, sku) == (before[0], before[0])
    async with engine.connect() as c:
        made = (await c.execute(sa.text(
            "SELECT count(*), count(DISTINCT number) FROM orders o JOIN dealers d ON d.id = o.buyer_dealer_id "
            "WHERE d.code LIKE 'RACE-%'"))).one()
        carts_left = (await c.execute(sa.text(
            "SELECT count(*) FROM cart_lines l JOIN carts c ON c.id = l.cart_id JOIN dealers d "
            "ON d.id = c.buyer_dealer_id WHERE d.code LIKE 'RACE-%'"))).scalar_one()
    assert tuple(made) == (LAST, LAST)
    # The losers keep their carts (nothing was written for them).
    assert carts_left == BUYERS - LAST
