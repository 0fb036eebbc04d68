"""Fan-out, signed delivery to a real HTTP endpoint, retries, dead-lettering, races, the arq jobs."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import sqlalchemy as sa
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
from notify_helpers import Demo, add_subscription, clean_slate, demo_ids, receiver
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.jobs.worker import FUNCTIONS, shutdown, startup
from ymt_graph.notifications import delivery, service
from ymt_graph.notifications.delivery import WebhookSettings, backoff_seconds, sign, verify_signature
from ymt_graph.settings import Settings


async def _emit(engine: AsyncEngine, demo: Demo, event_type: str, subject_id: int, topics: list[str]) -> int:
    async with engine.begin() as conn:
        return await service.emit(conn, demo.tenant_id, event_type, "Order", subject_id,
                                  {"orderNumber": f"SO-{subject_id}"}, topics)


async def _fan_out(engine: AsyncEngine, redis_url: str) -> list[tuple[int, uuid.UUID]]:
    redis = Redis.from_url(redis_url)
    try:
        return await service.deliver_outbox(engine, redis, batch_size=7)
    finally:
        await redis.aclose()


async def _send(engine: AsyncEngine, pk: int, *, max_attempts: int = 8, backoff: float = 0.0) -> Any:
    async with delivery.http_client(WebhookSettings(timeout_seconds=5)) as client:
        return await service.send_delivery(engine, client, pk, max_attempts=max_attempts, lease_seconds=30,
                                           backoff=lambda _n: backoff)


async def _delivery(engine: AsyncEngine, pk: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(service.deliveries).where(service.deliveries.c.id == pk))).one()


def test_signature_round_trip() -> None:
    body = b'{"eventType":"order.submitted"}'
    header = sign("s3cret", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature("s3cret", body, header)
    assert not verify_signature("other", body, header)
    assert not verify_signature("s3cret", body + b" ", header)
    assert not verify_signature("s3cret", body, None)
    assert not verify_signature("s3cret", body, header.removeprefix("sha256="))


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    ws = WebhookSettings(backoff_base_seconds=10, backoff_max_seconds=100)
    rng = random.Random(7)
    waits = [backoff_seconds(n, ws, rng) for n in range(1, 6)]
    for n, wait in enumerate(waits, start=1):
        nominal = min(10 * 2 ** (n - 1), 100)
        assert 0.8 * nominal <= wait <= 1.2 * nominal
    assert waits[0] < waits[1] < waits[2]


async def test_fan_out_follows_event_types_and_dealer_topics(engine: AsyncEngine, redis_url: str) -> None:
    await clean_slate(engine)
    demo = await demo_ids(engine)
    hq_all, _ = await add_subscription(engine, demo.tenant_id, "http://127.0.0.1:9/all", ["*"])
    hq_shipped, _ = await add_subscription(engine, demo.tenant_id, "http://127.0.0.1:9/shp", ["order.shipped"])
    d1_sub, _ = await add_subscription(engine, demo.tenant_id, "http://127.0.0.1:9/d1", ["*"], owner=demo.d1)
    d2_sub, _ = await add_subscription(engine, demo.tenant_id, "http://127.0.0.1:9/d2", ["order.submitted"],
                                       owner=demo.d2)
    submitted_d1 = await _emit(engine, demo, "order.submitted", 1, [f"buyer:dealer:{demo.d1}", "hq"])
    shipped_to_d2 = await _emit(engine, demo, "order.shipped", 2, [f"buyer:dealer:{demo.d2}", "hq"])
    sold_by_d1 = await _emit(engine, demo, "order.submitted", 3, ["buyer:dealer:999999", f"seller:dealer:{demo.d1}"])

    made = await _fan_out(engine, redis_url)
    async with engine.connect() as conn:
        pairs = {(r.subscription_id, r.event_id) for r in (await conn.execute(
            sa.select(service.deliveries).where(service.deliveries.c.id.in_([pk for pk, _ in made])))).all()}
    assert pairs == {
        (hq_all, submitted_d1), (hq_all, shipped_to_d2), (hq_all, sold_by_d1),
        (hq_shipped, shipped_to_d2),
        (d1_sub, submitted_d1), (d1_sub, sold_by_d1),  # buyer or seller side
        # d2 hears order.submitted only, and only its own: shipped_to_d2 is another type.
    }
    assert d2_sub not in {s for s, _ in pairs}
    # Published once: a second run finds nothing.
    assert await _fan_out(engine, redis_url) == []


async def test_signed_delivery_reaches_a_real_endpoint(engine: AsyncEngine, redis_url: str) -> None:
    await clean_slate(engine)
    demo = await demo_ids(engine)
    async with receiver() as rec:
        sub, secret = await add_subscription(engine, demo.tenant_id, rec.url("erp"), ["order.submitted"])
        rec.secrets["erp"] = secret
        event_id = await _emit(engine, demo, "order.submitted", 42, ["hq"])
        [(pk, delivery_id)] = await _fan_out(engine, redis_url)
        sent = await _send(engine, pk)
    assert sent.status is service.DeliveryStatus.SUCCEEDED and sent.attempt == 1
    [got] = rec.received
    assert got.verified
    assert got.headers["x-ymt-event"] == "order.submitted"
    assert got.headers["x-ymt-delivery"] == str(delivery_id)
    assert got.headers["x-ymt-timestamp"]
    body = rec.bodies("erp")[0]
    assert body["eventType"] == "order.submitted" and body["deliveryId"] == str(delivery_id)
    assert body["payload"] == {"orderNumber": "SO-42"}
    assert body["subject"]["type"] == "Order" and body["subject"]["id"]
    assert body["id"] and event_id
    row = await _delivery(engine, pk)
    assert (row.status, row.attempts, row.last_status_code) == ("SUCCEEDED", 1, 200)
    assert row.delivered_at is not None and row.last_response_ms is not None
    assert sub == row.subscription_id
    # Finished deliveries are not sent again.
    assert await _send(engine, pk) is None


async def test_retries_after_500s_keep_the_delivery_id_then_succeed(engine: AsyncEngine, redis_url: str) -> None:
    await clean_slate(engine)
    demo = await demo_ids(engine)
    async with receiver() as rec:
        _, rec.secrets["flaky"] = await add_subscription(engine, demo.tenant_id, rec.url("flaky"), ["*"])
        rec.statuses["flaky"] = [500, 503]
        await _emit(engine, demo, "order.approved", 7, ["hq"])
        [(pk, delivery_id)] = await _fan_out(engine, redis_url)

        first = await _send(engine, pk, backoff=0.3)
        assert first.status is service.DeliveryStatus.FAILED and first.retry_in == 0.3
        # Backoff: not due yet, so nobody may send it now.
        assert await _send(engine, pk) is None
        row = await _delivery(engine, pk)
        assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("FAILED", 1, 500, "HTTP 500")
        await asyncio.sleep(0.35)
        assert (await _send(engine, pk, backoff=0.0)).status is service.DeliveryStatus.FAILED
        await asyncio.sleep(0.01)
        assert (await _send(engine, pk)).status is service.DeliveryStatus.SUCCEEDED
    assert [r.headers["x-ymt-delivery"] for r in rec.received] == [str(delivery_id)] * 3
    assert all(r.verified for r in rec.received)
    # The same event, byte for byte, on every attempt: receivers may hash it.
    assert len({r.body for r in rec.received}) == 1
    async with engine.connect() as conn:
        log = (await conn.execute(sa.select(service.attempts_log).where(service.attempts_log.c.delivery_id == pk)
                                  .order_by(service.attempts_log.c.attempt))).all()
    assert [(a.attempt, a.status_code) for a in log] == [(1, 500), (2, 503), (3, 200)]
    row = await _delivery(engine, pk)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("SUCCEEDED", 3, 200, None)


async def test_dead_letter_after_max_attempts(engine: AsyncEngine, redis_url: str) -> None:
    await clean_slate(engine)
    demo = await demo_ids(engine)
    async with receiver() as rec:
        await add_subscription(engine, demo.tenant_id, rec.url("down"), ["*"])
        rec.statuses["down"] = [500] * 10
        await _emit(engine, demo, "order.rejected", 8, ["hq"])
        [(pk, _)] = await _fan_out(engine, redis_url)
        statuses = []
        for _ in range(4):
            sent = await _send(engine, pk, max_attempts=3)
            statuses.append(sent.status.value if sent else None)
    assert statuses == ["FAILED", "FAILED", "DEAD", None]
    assert len(rec.received) == 3
    row = await _delivery(engine, pk)
    assert (row.status, row.attempts, row.next_attempt_at) == ("DEAD", 3, None)


async def test_unreachable_endpoint_is_a_failed_attempt(engine: AsyncEngine, redis_url: str) -> None:
    await clean_slate(engine)
    demo = await demo_ids(engine)
    async with receiver() as rec:
        url = rec.url("gone")
    # The receiver is stopped now: connection refused.
    await add_subscription(engine, demo.tenant_id, url, ["*"])
    await _emit(engine, demo, "order.cancelled", 9, ["hq"])
    [(pk, _)] = await _fan_out(engine, redis_url)
    assert (await _send(engine, pk, backoff=60)).status is service.DeliveryStatus.FAILED
    row = await _delivery(engine, pk)
    assert row.last_status_code is None and row.last_error and "Connect" in row.last_error


async def test_deleted_subscription_gets_nothing_more(engine: AsyncEngine, redis_url: str) -> None:
    await clean_slate(engine)
    demo = await demo_ids(engine)
    sub, _ = await add_subscription(engine, demo.tenant_id, "http://127.0.0.1:9/x", ["*"])
    await _emit(engine, demo, "order.submitted", 10, ["hq"])
    [(pk, _)] = await _fan_out(engine, redis_url)
    async with engine.begin() as conn:
        await conn.execute(sa.update(service.subscriptions).where(service.subscriptions.c.id == sub)
                           .values(active=False, deleted_at=sa.func.now()))
    assert await _send(engine, pk) is None
    row = await _delivery(engine, pk)
    assert (row.status, row.attempts, row.last_error) == ("DEAD", 0, "subscription deleted")


async def test_racing_workers_never_send_an_event_twice(engine: AsyncEngine, redis_url: str) -> None:
    await clean_slate(engine)
    demo = await demo_ids(engine)
    async with receiver() as rec:
        rec.delay = 0.01
        _, rec.secrets["race"] = await add_subscription(engine, demo.tenant_id, rec.url("race"), ["*"])
        async with engine.begin() as conn:
            for i in range(60):
                await service.emit(conn, demo.tenant_id, "order.submitted", "Order", 1000 + i, {"i": i}, ["hq"])
        # Four publishers race over the outbox (SKIP LOCKED: disjoint batches).
        made = [d for batch in await asyncio.gather(*(_fan_out(engine, redis_url) for _ in range(4))) for d in batch]
        assert len(made) == 60 and len({pk for pk, _ in made}) == 60
        # Every delivery is tried by three senders at once: one wins the claim.
        results = await asyncio.gather(*(_send(engine, pk) for pk, _ in made for _ in range(3)))
    assert sum(r is not None for r in results) == 60
    ids = [r.headers["x-ymt-delivery"] for r in rec.received]
    assert len(ids) == 60 and len(set(ids)) == 60
    assert sorted(b["payload"]["i"] for b in rec.bodies("race")) == list(range(60))


async def test_arq_jobs_deliver_and_retry(engine: AsyncEngine, settings: Settings) -> None:
    await clean_slate(engine)
    demo = await demo_ids(engine)
    queue = f"ymt-test-{uuid.uuid4().hex[:8]}"  # a private queue: other runs share this Redis
    assert settings.redis_url
    redis_settings = RedisSettings.from_dsn(settings.redis_url)
    ws = WebhookSettings(backoff_base_seconds=0.05, max_attempts=3, timeout_seconds=5)
    async with receiver() as rec:
        _, rec.secrets["arq"] = await add_subscription(engine, demo.tenant_id, rec.url("arq"), ["order.shipped"])
        rec.statuses["arq"] = [500]
        await _emit(engine, demo, "order.shipped", 77, ["hq"])
        pool = await create_pool(redis_settings, default_queue_name=queue)
        await pool.enqueue_job("deliver_outbox")
        worker = Worker(functions=FUNCTIONS, redis_settings=redis_settings, queue_name=queue, burst=True,
                        on_startup=startup, on_shutdown=shutdown, poll_delay=0.02,
                        ctx={"settings": settings, "webhook_settings": ws})
        await asyncio.wait_for(worker.main(), timeout=30)
        await worker.close()
        await pool.aclose()
    assert len(rec.received) == 2 and all(r.verified for r in rec.received)
    assert len({r.headers["x-ymt-delivery"] for r in rec.received}) == 1
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(service.deliveries).order_by(service.deliveries.c.id.desc()).limit(1))
               ).one()
    assert (row.status, row.attempts) == ("SUCCEEDED", 2)
