"""Real concurrent sessions: two shipments racing for an order's last units (one wins), two
receipts of one order (one wins), and arrival notices sent exactly once by two workers at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from ship_helpers import ADMIN, DEALER1, STAFF1, Ship, level, place_order
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ymt_graph.db import async_url
from ymt_graph.errors import DomainError
from ymt_graph.jobs import worker
from ymt_graph.settings import Settings
from ymt_graph.shipping import service

T = TypeVar("T")


async def _race(db_url: str, work: list[Callable[[AsyncConnection], Awaitable[T]]]) -> list[T | str]:
    """Run each unit of work in its own session and transaction, all released at once;
    a DomainError comes back as its code."""
    racers = create_async_engine(async_url(db_url), poolclass=NullPool)
    barrier = asyncio.Barrier(len(work))

    async def run(fn: Callable[[AsyncConnection], Awaitable[T]]) -> T | str:
        try:
            async with racers.begin() as conn:
                await conn.execute(sa.text("SELECT 1"))
                await barrier.wait()
                return await fn(conn)
        except DomainError as exc:
            return str(exc.code.value)

    try:
        return await asyncio.gather(*(run(fn) for fn in work))
    finally:
        await racers.dispose()


async def test_two_shipments_race_for_the_last_units(ship: Ship, engine: AsyncEngine, db_url: str) -> None:
    a, b = ship.plain[0], ship.plain[1]
    q = ship.qty[a]
    order = await place_order(engine, ship, {a: 2 * q, b: ship.qty[b]}, "race-ship")
    admin = ship.p(ADMIN)
    async with engine.begin() as c:
        await service.create_shipment(c, admin, service.ShipmentRequest(
            order.id, "顺丰", (service.ShipLine(None, a, q),)))
    before = await level(engine, ship.wh["W-HQ-EAST"], a)
    rest = service.ShipmentRequest(order.id, "顺丰", (service.ShipLine(None, a, q),))
    outcomes = await _race(db_url, [
        lambda conn: service.create_shipment(conn, admin, rest),
        lambda conn: service.create_shipment(conn, admin, rest),
    ])
    assert sorted(map(type, outcomes), key=str) == [int, str]
    assert "MORE_THAN_ORDERED" in outcomes
    assert await level(engine, ship.wh["W-HQ-EAST"], a) == (before[0] - q, before[1] - q, before[2])
    async with engine.connect() as c:
        shipped = (await c.execute(sa.text(
            "SELECT count(DISTINCT s.id), sum(l.quantity) FROM shipments s JOIN shipment_lines l "
            "ON l.shipment_id = s.id WHERE s.order_id = :o AND l.sku_id = :a"), {"o": order.id, "a": a})).one()
    assert tuple(shipped) == (2, 2 * q)

    # The rest ships; two people of the buyer confirm the receipt at once: one receipt, the other told so.
    async with engine.begin() as c:
        await service.create_shipment(c, admin, service.ShipmentRequest(
            order.id, "顺丰", (service.ShipLine(None, b, ship.qty[b]),)))
    receipt = service.ReceiveRequest(order.id, (service.ReceiveLine(None, a, 2 * q),
                                                service.ReceiveLine(None, b, ship.qty[b])))
    outcomes = await _race(db_url, [
        lambda conn: service.receive(conn, ship.p(DEALER1), receipt),
        lambda conn: service.receive(conn, ship.p(STAFF1), receipt),
    ])
    assert sorted(outcomes, key=str) == [order.id, "ALREADY_RECEIVED"]


async def test_arrival_notice_goes_out_exactly_once(
    ship: Ship, engine: AsyncEngine, db_url: str, settings: Settings
) -> None:
    a = ship.plain[1]
    q = ship.qty[a]
    soon, later = datetime.now(UTC) + timedelta(hours=3), datetime.now(UTC) + timedelta(days=3)
    order = await place_order(engine, ship, {a: 5 * q}, "race-notice")
    made: list[int] = []
    async with engine.begin() as c:
        for eta in (soon, soon + timedelta(hours=1), soon + timedelta(hours=2), later, None):
            made.append(await service.create_shipment(c, ship.p(ADMIN), service.ShipmentRequest(
                order.id, "顺丰", (service.ShipLine(None, a, q),), estimated_arrival=eta)))
    due = made[:3]
    window = timedelta(hours=settings.arrival_notice_hours)

    # One worker holds a batch (not yet committed): another skips those rows instead of waiting.
    racers = create_async_engine(async_url(db_url), poolclass=NullPool)
    try:
        async with racers.connect() as first, racers.connect() as second:
            t1 = await first.begin()
            assert await service.arrival_notice_batch(first, window, limit=2) == 2
            async with second.begin():
                assert await asyncio.wait_for(service.arrival_notice_batch(second, window), 5) == 1
            await t1.commit()
    finally:
        await racers.dispose()
    # Two full runs at once now find nothing left; a later one neither.
    other = create_async_engine(async_url(db_url), poolclass=NullPool)
    try:
        counts = await asyncio.gather(service.send_arrival_notices(engine, window, batch_size=1),
                                      service.send_arrival_notices(other, window, batch_size=1))
    finally:
        await other.dispose()
    assert counts == [0, 0]
    assert await worker.send_arrival_notices({"settings": settings, "engine": engine}) == 0

    async with engine.connect() as c:
        noticed = (await c.execute(sa.text(
            "SELECT subject_id, count(*) AS n FROM outbox_events WHERE event_type = 'shipment.arrival_notice' "
            "GROUP BY subject_id ORDER BY subject_id"))).all()
        stamped = (await c.execute(sa.text(
            "SELECT id FROM shipments WHERE order_id = :o AND arrival_notice_at IS NOT NULL ORDER BY id"
        ), {"o": order.id})).scalars().all()
        timeline = (await c.execute(sa.text(
            "SELECT count(*) FROM order_events WHERE order_id = :o AND kind = 'SHIPMENT_ARRIVAL_NOTICE' "
            "AND actor_user_id IS NULL"), {"o": order.id})).scalar_one()
        payload: dict[str, Any] = (await c.execute(sa.text(
            "SELECT payload FROM outbox_events WHERE event_type = 'shipment.arrival_notice' ORDER BY id LIMIT 1"
        ))).scalar_one()
    assert [(r.subject_id, r.n) for r in noticed] == [(sid, 1) for sid in due]
    assert list(stamped) == due and timeline == 3
    assert payload["orderNumber"] == order.number and payload["estimatedArrival"] and payload["noticeAt"]


async def test_two_workers_at_once_notify_each_shipment_once(
    ship: Ship, engine: AsyncEngine, db_url: str, settings: Settings
) -> None:
    a = ship.plain[2]
    q = ship.qty[a]
    order = await place_order(engine, ship, {a: 6 * q}, "race-notice-2")
    async with engine.begin() as c:
        for i in range(6):
            await service.create_shipment(c, ship.p(ADMIN), service.ShipmentRequest(
                order.id, "顺丰", (service.ShipLine(None, a, q),),
                estimated_arrival=datetime.now(UTC) + timedelta(hours=1, minutes=i)))
    window = timedelta(hours=settings.arrival_notice_hours)
    engines = [create_async_engine(async_url(db_url), poolclass=NullPool) for _ in range(2)]
    try:
        counts = await asyncio.gather(*(service.send_arrival_notices(e, window, batch_size=1) for e in engines))
    finally:
        for e in engines:
            await e.dispose()
    assert sum(counts) == 6
    async with engine.connect() as c:
        per_shipment = (await c.execute(sa.text(
            "SELECT count(*) FROM outbox_events e JOIN shipments s ON s.id = e.subject_id "
            "WHERE e.event_type = 'shipment.arrival_notice' AND s.order_id = :o GROUP BY e.subject_id"
        ), {"o": order.id})).scalars().all()
    assert sorted(per_shipment) == [1] * 6
