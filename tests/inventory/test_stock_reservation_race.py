"""Reserving the last units under many concurrent orders never oversells; reservations are all or nothing."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from stock_helpers import Places, ledger_sums, level

from ymt_graph.db import async_url
from ymt_graph.errors import DomainError
from ymt_graph.inventory import service
from ymt_graph.inventory.service import InventoryErrorCode, Ref

SESSIONS = 50
LAST_UNITS = 10


async def test_fifty_sessions_race_for_the_last_ten_units(engine: AsyncEngine, places: Places, db_url: str) -> None:
    wh, sku = places.wh["W-S00002"], places.plain2
    async with engine.begin() as conn:
        await service.adjust(conn, places.admin(), wh, sku, LAST_UNITS, "race setup")
    before = await level(engine, wh, sku)
    assert before[0] - before[1] == LAST_UNITS

    # Fifty real connections (no pool to queue on), released together once all are open.
    racers = create_async_engine(async_url(db_url), poolclass=NullPool)
    barrier = asyncio.Barrier(SESSIONS)

    async def order(n: int) -> str:
        try:
            async with racers.begin() as conn:
                await conn.execute(sa.text("SELECT 1"))
                await barrier.wait()
                await service.reserve(conn, places.tenant_id, wh, [(sku, 1)], Ref("Order", 10_000 + n))
        except DomainError as exc:
            return str(exc.code.value)
        return "RESERVED"

    try:
        outcomes = await asyncio.gather(*(order(n) for n in range(SESSIONS)))
    finally:
        await racers.dispose()
    assert outcomes.count("RESERVED") == LAST_UNITS
    assert outcomes.count("INSUFFICIENT_STOCK") == SESSIONS - LAST_UNITS
    after = await level(engine, wh, sku)
    assert after == (before[0], before[1] + LAST_UNITS, before[2])
    assert await ledger_sums(engine, wh, sku) == after
    async with engine.connect() as conn:
        n = (await conn.execute(sa.text(
            "SELECT count(*) FROM stock_movements WHERE warehouse_id = :w AND sku_id = :s AND kind = 'RESERVATION'"
        ), {"w": wh, "s": sku})).scalar_one()
    assert n == LAST_UNITS


async def test_a_short_line_rolls_back_the_whole_reservation(engine: AsyncEngine, places: Places) -> None:
    wh, ok_sku, short_sku = places.wh["W-HQ-SOUTH"], places.plain, places.plain2
    before = [await level(engine, wh, s) for s in (ok_sku, short_sku)]
    wanted = before[1][0] - before[1][1] + 1
    with pytest.raises(DomainError) as err:
        async with engine.begin() as conn:
            await service.reserve(conn, places.tenant_id, wh, [(ok_sku, 1), (short_sku, wanted)], Ref("Order", 1))
    assert err.value.code is InventoryErrorCode.INSUFFICIENT_STOCK
    message = err.value.message
    assert places.codes[short_sku] in message and f"wanted {wanted}" in message
    assert f"available {wanted - 1}" in message and err.value.field == ["lines", "1", "quantity"]
    assert [await level(engine, wh, s) for s in (ok_sku, short_sku)] == before


async def test_release_and_shipment_of_reserved_stock(engine: AsyncEngine, places: Places) -> None:
    src, dst, sku = places.wh["W-HQ-EAST"], places.wh["W-D0002"], places.plain
    t = places.tenant_id
    s0, d0 = await level(engine, src, sku), await level(engine, dst, sku)
    async with engine.begin() as conn:
        await service.reserve(conn, t, src, [(sku, 5)], Ref("Order", 2))
        await service.release(conn, t, src, [(sku, 2)], Ref("Order", 2))
        await service.ship_reserved(conn, t, src, dst, [(sku, 3)], Ref("Shipment", 7))
    assert await level(engine, src, sku) == (s0[0] - 3, s0[1], s0[2])
    assert await level(engine, dst, sku) == (d0[0], d0[1], d0[2] + 3)
    # Shipping more than is reserved, or releasing more, is refused.
    for call, code in (
        (lambda c: service.ship_reserved(c, t, src, dst, [(sku, 1)], Ref("Shipment", 8)),
         InventoryErrorCode.RESERVATION_EXCEEDED),
        (lambda c: service.release(c, t, src, [(sku, 1)], Ref("Order", 2)), InventoryErrorCode.RESERVATION_EXCEEDED),
        (lambda c: service.receive_inbound(c, t, dst, [(sku, 4)], Ref("Shipment", 7)),
         InventoryErrorCode.INBOUND_EXCEEDED),
    ):
        with pytest.raises(DomainError) as err:
            async with engine.begin() as conn:
                await call(conn)
        assert err.value.code is code
    async with engine.begin() as conn:
        await service.receive_inbound(conn, t, dst, [(sku, 3)], Ref("Shipment", 7), actor=service.Actor(user_id=None))
        await service.record_sale(conn, t, dst, [(sku, 1)], Ref("SalesReport", 1))
    assert await level(engine, dst, sku) == (d0[0] + 2, d0[1], d0[2])
    for wh in (src, dst):
        assert await ledger_sums(engine, wh, sku) == await level(engine, wh, sku)
