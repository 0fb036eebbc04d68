"""The event bus: the worker publishes each event on its tenant's Redis channel; ``listen`` filters.

Test runs share one Redis and every test database is tenant 1: this module's channels have a prefix
of their own (``Settings.events_channel_prefix``)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from notify_helpers import clean_slate, demo_ids
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph import access
from ymt_graph.access import Principal, Role
from ymt_graph.notifications import service
from ymt_graph.settings import get_settings

PREFIX = f"ymt-test-{secrets.token_hex(6)}"


async def _wait_subscribed(redis: Redis, channel: str, n: int) -> None:
    for _ in range(200):
        [(_, count)] = await redis.pubsub_numsub(channel)
        if count >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("listener never subscribed")


async def test_listen_receives_published_events_and_cleans_up(engine: AsyncEngine, redis_url: str) -> None:
    await clean_slate(engine)
    demo = await demo_ids(engine)
    dealer2 = Principal(tenant_id=demo.tenant_id, role=Role.DEALER_ADMIN, dealer_id=demo.d2, dealer_path="/x/")
    got: list[dict[str, Any]] = []

    async def consume() -> None:
        hears = lambda e: access.may_hear_event(dealer2, e["topics"])  # noqa: E731
        async for event in service.listen(redis_url, demo.tenant_id, hears, channel_prefix=PREFIX):
            got.append(event)
            if len(got) == 2:
                return

    redis = Redis.from_url(redis_url)
    channel = service.channel(demo.tenant_id, PREFIX)
    [(_, before)] = await redis.pubsub_numsub(channel)
    task = asyncio.create_task(consume())
    await _wait_subscribed(redis, channel, before + 1)
    async with engine.begin() as conn:
        await service.emit(conn, demo.tenant_id, "order.submitted", "Order", 1, {"n": 1}, [f"buyer:dealer:{demo.d1}"])
        await service.emit(conn, demo.tenant_id, "order.approved", "Order", 2, {"n": 2}, [f"buyer:dealer:{demo.d2}"])
        await service.emit(conn, demo.tenant_id, "shipment.in_transit", "Shipment", 3, {"n": 3},
                           [f"seller:dealer:{demo.d2}", "hq"])
    await service.deliver_outbox(engine, redis, batch_size=100, channel_prefix=PREFIX)
    await asyncio.wait_for(task, timeout=5)
    assert [(e["eventType"], e["payload"]) for e in got] == [
        ("order.approved", {"n": 2}), ("shipment.in_transit", {"n": 3})
    ]
    assert got[1]["subject"]["type"] == "Shipment" and got[1]["tenantId"] == demo.tenant_id
    # Leaving the loop closed the generator: its subscription is gone.
    await _wait_unsubscribed(redis, channel, before)
    await redis.aclose()


async def _wait_unsubscribed(redis: Redis, channel: str, n: int) -> None:
    for _ in range(200):
        [(_, count)] = await redis.pubsub_numsub(channel)
        if count <= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("listener still subscribed")


async def test_cancelling_a_listener_unsubscribes(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    tenant = 987654  # a channel nobody else uses

    async def consume() -> None:
        async for _ in service.listen(redis_url, tenant, lambda e: True, channel_prefix=PREFIX):
            pass

    task = asyncio.create_task(consume())
    await _wait_subscribed(redis, service.channel(tenant, PREFIX), 1)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await _wait_unsubscribed(redis, service.channel(tenant, PREFIX), 0)
    await redis.aclose()


def test_who_hears_what() -> None:
    hq = Principal(tenant_id=1, role=Role.HQ_ADMIN)
    d = Principal(tenant_id=1, role=Role.DEALER_ADMIN, dealer_id=5, dealer_path="/5/")
    store = Principal(tenant_id=1, role=Role.STORE_STAFF, dealer_id=5, store_id=9, dealer_path="/5/")
    sales = Principal(tenant_id=1, role=Role.HQ_SALES)
    assert access.may_hear_event(hq, ["buyer:dealer:7"])
    assert access.may_hear_event(d, ["seller:dealer:5"]) and access.may_hear_event(d, ["buyer:dealer:5"])
    assert not access.may_hear_event(d, ["buyer:dealer:7", "hq"])
    assert access.may_hear_event(store, ["buyer:store:9"]) and not access.may_hear_event(store, ["buyer:dealer:5"])
    assert not access.may_hear_event(sales, ["hq"])


def test_channels_default_to_the_configured_prefix() -> None:
    # What the worker's deliver_outbox and a bare listen() use: YMT_EVENTS_CHANNEL_PREFIX, "ymt" unset.
    assert service.channel(7) == f"{get_settings().events_channel_prefix}:events:7"
    assert service.channel(7, PREFIX) == f"{PREFIX}:events:7"
