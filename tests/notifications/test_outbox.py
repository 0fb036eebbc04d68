"""The outbox: an event exists iff the emitting transaction committed; payloads are canonical."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from notify_helpers import demo_ids
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.notifications import service


async def _count(engine: AsyncEngine, subject_id: int) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).where(
            service.events.c.subject_type == "Order", service.events.c.subject_id == subject_id))).scalar_one())


async def test_event_exists_iff_the_transaction_commits(engine: AsyncEngine) -> None:
    demo = await demo_ids(engine)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with engine.begin() as conn:
            await service.emit(conn, demo.tenant_id, "order.submitted", "Order", 9001, {"n": 1},
                               [f"buyer:dealer:{demo.d1}", "hq"])
            raise Boom
    assert await _count(engine, 9001) == 0

    async with engine.begin() as conn:
        event_id = await service.emit(conn, demo.tenant_id, "order.submitted", "Order", 9001, {"n": 1},
                                      [f"buyer:dealer:{demo.d1}", "hq"])
    assert event_id > 0 and await _count(engine, 9001) == 1
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(service.events).where(service.events.c.id == event_id))).one()
    assert row.published_at is None
    assert row.topics == sorted(["hq", f"buyer:dealer:{demo.d1}"])


def test_payload_is_canonical() -> None:
    at = datetime(2026, 3, 1, 20, 0, tzinfo=timezone(timedelta(hours=8)))
    a = service.payload_json({"total": Decimal("1999.90"), "at": at, "lines": [{"q": 2, "sku": "X"}]})
    b = service.payload_json({"lines": [{"sku": "X", "q": 2}], "at": at.astimezone(UTC), "total": Decimal("1999.90")})
    assert a == b
    assert a == b'{"at":"2026-03-01T12:00:00+00:00","lines":[{"q":2,"sku":"X"}],"total":"1999.90"}'
    with pytest.raises(ValueError):
        service.payload_json({"at": datetime(2026, 1, 1)})  # naive times are bugs
    with pytest.raises(TypeError):
        service.payload_json({"x": object()})


async def test_emit_refuses_unknown_types_and_missing_topics(engine: AsyncEngine) -> None:
    demo = await demo_ids(engine)
    async with engine.begin() as conn:
        with pytest.raises(ValueError, match="unregistered"):
            await service.emit(conn, demo.tenant_id, "order.teleported", "Order", 1, {}, ["hq"])
        with pytest.raises(ValueError, match="topic"):
            await service.emit(conn, demo.tenant_id, "order.submitted", "Order", 1, {}, [])
