"""GraphQL subscriptions over graphql-transport-ws, end to end with real parts only: the app under
uvicorn on a loopback port (and a second API process, ``ymt-graph serve``), a websocket client,
PostgreSQL, Redis pub/sub and the outbox worker's ``deliver_outbox``.

This module's events travel on channels of its own (``YMT_EVENTS_CHANNEL_PREFIX``): test runs share
one Redis and every test database is tenant 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from live_helpers import free_port, serving, ws_connect
from notify_helpers import Demo, demo_ids
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.exceptions import ConnectionClosed

from ymt_graph.graph.ids import decode_gid, encode_gid
from ymt_graph.notifications import service
from ymt_graph.settings import Settings

# The order tests' helpers (demo parties, orderable priced SKUs with stock) live next to them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orders"))
from order_helpers import ADMIN, DEALER1, DEALER2, SUB1, Shop, shop

__all__ = ["shop"]  # a fixture

STORE1 = "store1@demo.example"
EVENT_FIELDS = "id eventType subjectType subjectId orderId payload createdAt"
ORDER_EVENTS = f"subscription($id: ID!) {{ orderEvents(orderId: $id) {{ {EVENT_FIELDS} }} }}"
SHIPMENT_EVENTS = f"subscription($id: ID!) {{ shipmentEvents(buyerId: $id) {{ {EVENT_FIELDS} }} }}"
CART_ADD = """mutation($i: CartLinesAddInput!) { cartLinesAdd(input: $i) { userErrors { code message } } }"""
SUBMIT = """mutation($i: OrderSubmitInput!) { orderSubmit(input: $i) {
  order { id number status } userErrors { code message } } }"""
DECIDE = {name: f"""mutation($i: OrderDecisionInput!) {{ {name}(input: $i) {{
  order {{ id status }} userErrors {{ code message }} }} }}""" for name in ("orderApprove", "orderCancel")}


# ---- servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"ymt-test-{secrets.token_hex(6)}"


@pytest.fixture(scope="module")
def ws_settings(settings: Settings, prefix: str) -> Settings:
    return settings.model_copy(update={"events_channel_prefix": prefix})


@pytest.fixture(scope="module")
async def server(ws_settings: Settings) -> AsyncIterator[str]:
    async with serving(ws_settings) as url:
        yield url


@pytest.fixture(scope="module")
async def second_process(ws_settings: Settings) -> AsyncIterator[str]:
    """Another API process (``ymt-graph serve``) on its own port, configured by environment only."""
    assert ws_settings.database_url and ws_settings.redis_url
    port = free_port()
    env = {**os.environ, "DATABASE_URL": ws_settings.database_url, "REDIS_URL": ws_settings.redis_url,
           "YMT_EVENTS_CHANNEL_PREFIX": ws_settings.events_channel_prefix, "YMT_ENV": "test",
           "YMT_DB_POOL_SIZE": "2", "YMT_JWT_SECRET": ws_settings.jwt_secret}
    with tempfile.TemporaryFile() as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ymt_graph.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(600):
                    if proc.returncode is not None:
                        break
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                            break
                    await asyncio.sleep(0.05)
            if proc.returncode is not None:
                log.seek(0)
                raise AssertionError(f"ymt-graph serve exited {proc.returncode}: {log.read().decode()[-2000:]}")
            yield f"ws://127.0.0.1:{port}/graphql"
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


# ---- a graphql-transport-ws client ---------------------------------------------------------------


# ---- Redis and the outbox ------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def demo(engine: AsyncEngine) -> Demo:
    return await demo_ids(engine)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def listeners(redis: Redis, demo: Demo, prefix: str) -> int:
    [(_, count)] = await redis.pubsub_numsub(service.channel(demo.tenant_id, prefix))
    return int(count)


async def wait_listeners(redis: Redis, demo: Demo, prefix: str, n: int) -> None:
    """Until exactly ``n`` subscriptions listen on this module's channel (a subscription's Redis
    SUBSCRIBE happens on its own task, after the subscribe message was read)."""
    for _ in range(500):
        if await listeners(redis, demo, prefix) == n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{await listeners(redis, demo, prefix)} listeners, expected {n}")


async def deliver(engine: AsyncEngine, redis: Redis, prefix: str) -> None:
    """What the worker's cron does: publish every committed, unpublished event."""
    await service.deliver_outbox(engine, redis, batch_size=100, channel_prefix=prefix)


async def emit(engine: AsyncEngine, demo: Demo, *events: tuple[str, str, int, dict[str, Any], list[str]]) -> None:
    async with engine.begin() as conn:
        for event_type, subject_type, subject_id, payload, topics in events:
            await service.emit(conn, demo.tenant_id, event_type, subject_type, subject_id, payload, topics)


# ---- orders through GraphQL ----------------------------------------------------------------------


async def _set_credit(engine: AsyncEngine, code: str, amount: str) -> None:
    async with engine.begin() as c:
        await c.execute(sa.text("UPDATE dealers SET credit_limit = :a WHERE code = :c"),
                        {"a": Decimal(amount), "c": code})


async def place_order(gql: Any, tokens: dict[str, str], shop: Shop, key: str, sku: int) -> dict[str, Any]:
    """dealer1 fills D0001's cart with one line and submits it."""
    t = tokens[DEALER1]
    lines = [{"skuId": shop.sgid(sku), "quantity": shop.qty[sku]}]
    added = await gql(CART_ADD, {"i": {"buyerId": shop.dgid("D0001"), "lines": lines}}, token=t)
    assert added["data"]["cartLinesAdd"]["userErrors"] == []
    body = await gql(SUBMIT, {"i": {"buyerId": shop.dgid("D0001"), "idempotencyKey": key}}, token=t)
    payload = body["data"]["orderSubmit"]
    assert payload["userErrors"] == [], payload
    order: dict[str, Any] = payload["order"]
    return order


@pytest.fixture(scope="module")
async def d1_order(
    gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine, redis_url: str, prefix: str
) -> dict[str, Any]:
    """An APPROVED order of D0001 (within its credit), its events already announced."""
    order = await place_order(gql, tokens, shop, "subs-fixture", shop.skus[1])
    client = Redis.from_url(redis_url)
    try:
        await deliver(engine, client, prefix)
    finally:
        await client.aclose()
    return order


# ---- the tests -----------------------------------------------------------------------------------


async def test_order_events_stream_an_orders_life_in_order(
    server: str, gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine, redis: Redis, demo: Demo,
    prefix: str,
) -> None:
    await _set_credit(engine, "D0001", "1")  # over credit: it waits for HQ's approval
    try:
        order = await place_order(gql, tokens, shop, "subs-flow", shop.skus[0])
    finally:
        await _set_credit(engine, "D0001", "5000000")
    assert order["status"] == "PENDING_APPROVAL"
    async with ws_connect(server, tokens[DEALER1]) as sock:
        await sock.subscribe("o1", ORDER_EVENTS, {"id": order["id"]})
        await wait_listeners(redis, demo, prefix, 1)
        approved = await gql(DECIDE["orderApprove"], {"i": {"orderId": order["id"]}}, token=tokens[ADMIN])
        assert approved["data"]["orderApprove"]["order"]["status"] == "APPROVED"
        cancelled = await gql(DECIDE["orderCancel"], {"i": {"orderId": order["id"]}}, token=tokens[DEALER1])
        assert cancelled["data"]["orderCancel"]["order"]["status"] == "CANCELLED"
        # Committed, not yet announced: the worker's deliver_outbox publishes them, oldest first.
        await deliver(engine, redis, prefix)
        got = [await sock.next_event("o1") for _ in range(4)]
        assert [e["eventType"] for e in got] == [
            "order.submitted", "order.pending_approval", "order.approved", "order.cancelled"]
        for e in got:
            assert e["subjectType"] == "Order" and e["subjectId"] == e["orderId"] == order["id"]
            assert e["payload"]["orderNumber"] == order["number"]
            assert e["createdAt"].endswith("+00:00") and e["id"]
        assert [e["payload"]["status"] for e in got[2:]] == ["APPROVED", "CANCELLED"]
        assert len({e["id"] for e in got}) == 4
        await sock.complete("o1")
        await wait_listeners(redis, demo, prefix, 0)


async def test_two_api_processes_both_deliver_one_published_event(
    server: str, second_process: str, tokens: dict[str, str], d1_order: dict[str, Any], engine: AsyncEngine,
    redis: Redis, demo: Demo, prefix: str,
) -> None:
    async with ws_connect(server, tokens[DEALER1]) as here, ws_connect(second_process, tokens[ADMIN]) as there:
        await here.subscribe("a", ORDER_EVENTS, {"id": d1_order["id"]})
        await there.subscribe("b", ORDER_EVENTS, {"id": d1_order["id"]})
        await wait_listeners(redis, demo, prefix, 2)
        pk = int(await _order_pk(engine, d1_order["number"]))
        await emit(engine, demo, ("order.shipped", "Order", pk, {"orderNumber": d1_order["number"]},
                                  ["hq", f"buyer:dealer:{demo.d1}"]))
        await deliver(engine, redis, prefix)
        first, second = await here.next_event("a"), await there.next_event("b")
        assert first == second
        assert first["eventType"] == "order.shipped" and first["orderId"] == d1_order["id"]
    await wait_listeners(redis, demo, prefix, 0)  # closing the sockets ended both subscriptions


async def _order_pk(engine: AsyncEngine, number: str) -> int:
    async with engine.connect() as c:
        return int((await c.execute(sa.text("SELECT id FROM orders WHERE number = :n"), {"n": number})).scalar_one())


async def test_an_order_you_may_not_see_is_not_found(
    server: str, tokens: dict[str, str], d1_order: dict[str, Any], redis: Redis, demo: Demo, prefix: str,
) -> None:
    async with ws_connect(server, tokens[DEALER2]) as sock:
        await sock.subscribe("x", ORDER_EVENTS, {"id": d1_order["id"]})
        error = await sock.refused("x")
        assert error["extensions"]["code"] == "NOT_FOUND" and error["path"] == ["orderEvents"]
        # The same answer as for an id that names nothing: ids cannot be probed.
        for bad in (encode_gid("Order", 999_999), "garbage", encode_gid("Dealer", demo.d1)):
            await sock.subscribe("y", ORDER_EVENTS, {"id": bad})
            assert (await sock.refused("y"))["extensions"]["code"] == "NOT_FOUND"
        assert await listeners(redis, demo, prefix) == 0  # nothing was opened


async def test_without_a_valid_credential_subscribing_is_unauthenticated(
    server: str, tokens: dict[str, str], d1_order: dict[str, Any], redis: Redis, demo: Demo, prefix: str,
) -> None:
    async with ws_connect(server) as sock:  # acknowledged: public operations still work
        await sock.subscribe("u", ORDER_EVENTS, {"id": d1_order["id"]})
        error = await sock.refused("u")
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
    async with ws_connect(server, "not-a-token") as sock:
        await sock.subscribe("u", SHIPMENT_EVENTS, {"id": encode_gid("Dealer", demo.d1)})
        assert (await sock.refused("u"))["extensions"]["code"] == "UNAUTHENTICATED"
    # A bad credential in connection_init is not rescued by a good one in the upgrade request.
    async with ws_connect(server, "not-a-token", header_token=tokens[DEALER1]) as sock:
        await sock.subscribe("u", ORDER_EVENTS, {"id": d1_order["id"]})
        assert (await sock.refused("u"))["extensions"]["code"] == "UNAUTHENTICATED"
    assert await listeners(redis, demo, prefix) == 0


async def test_credentials_in_the_upgrade_header_or_either_spelling_of_the_init_key(
    server: str, tokens: dict[str, str], d1_order: dict[str, Any], redis: Redis, demo: Demo, prefix: str,
) -> None:
    variables = {"id": d1_order["id"]}
    async with ws_connect(server, header_token=tokens[DEALER1]) as by_header, \
            ws_connect(server, init={"Authorization": f"Bearer {tokens[ADMIN]}"}) as by_key:
        await by_header.subscribe("h", ORDER_EVENTS, variables)
        await by_key.subscribe("k", ORDER_EVENTS, variables)
        await wait_listeners(redis, demo, prefix, 2)
    await wait_listeners(redis, demo, prefix, 0)


async def test_shipment_events_of_a_buyer_and_no_other(
    server: str, tokens: dict[str, str], d1_order: dict[str, Any], engine: AsyncEngine, redis: Redis, demo: Demo,
    prefix: str,
) -> None:
    d1, d2 = encode_gid("Dealer", demo.d1), encode_gid("Dealer", demo.d2)
    other_order = encode_gid("Order", 999_999)
    pk = await _order_pk(engine, d1_order["number"])

    def shipment(event_type: str, shipment_pk: int, buyer: int, order_gid: str) -> Any:
        payload = {"orderId": order_gid, "orderNumber": "SO-x", "shipmentNumber": f"SH-{shipment_pk}"}
        return (event_type, "Shipment", shipment_pk, payload, ["hq", f"buyer:dealer:{buyer}"])

    async with ws_connect(server, tokens[DEALER1]) as sock:
        await sock.subscribe("s", SHIPMENT_EVENTS, {"id": d1})
        await sock.subscribe("o", ORDER_EVENTS, {"id": d1_order["id"]})
        await wait_listeners(redis, demo, prefix, 2)
        await emit(
            engine, demo,
            shipment("shipment.created", 7, demo.d2, other_order),  # another buyer's
            ("order.shipped", "Order", pk, {"orderNumber": d1_order["number"]}, ["hq", f"buyer:dealer:{demo.d1}"]),
            shipment("shipment.created", 8, demo.d1, d1_order["id"]),
            shipment("shipment.delivered", 8, demo.d1, d1_order["id"]),
        )
        await deliver(engine, redis, prefix)
        # Pub/sub keeps the order: had another buyer's event leaked, it would come first.
        got = [await sock.next_event("s"), await sock.next_event("s")]
        assert [(e["eventType"], e["subjectId"]) for e in got] == [
            ("shipment.created", encode_gid("Shipment", 8)), ("shipment.delivered", encode_gid("Shipment", 8))]
        assert all(e["orderId"] == d1_order["id"] and e["subjectType"] == "Shipment" for e in got)
        assert got[0]["payload"]["shipmentNumber"] == "SH-8"
        # The order's own stream has the order event and its shipment's events (payload.orderId).
        mine = [await sock.next_event("o") for _ in range(3)]
        assert [e["eventType"] for e in mine] == ["order.shipped", "shipment.created", "shipment.delivered"]
        await sock.complete("s")
        await sock.complete("o")
        await wait_listeners(redis, demo, prefix, 0)
    # dealer2 may not follow D0001; a sub-dealer sees D0001 by name only (its supplier), not its business.
    for who in (DEALER2, SUB1):
        async with ws_connect(server, tokens[who]) as sock:
            await sock.subscribe("n", SHIPMENT_EVENTS, {"id": d1})
            assert (await sock.refused("n"))["extensions"]["code"] == "NOT_FOUND", who
    async with ws_connect(server, tokens[DEALER2]) as sock:
        await sock.subscribe("mine", SHIPMENT_EVENTS, {"id": d2})
        await wait_listeners(redis, demo, prefix, 1)
    await wait_listeners(redis, demo, prefix, 0)


async def test_store_buyers_shipment_events(
    server: str, gql: Any, tokens: dict[str, str], engine: AsyncEngine, redis: Redis, demo: Demo, prefix: str,
) -> None:
    me = await gql("{ me { store { id } } }", token=tokens[STORE1])
    store_gid = me["data"]["me"]["store"]["id"]
    kind, store_pk = decode_gid(store_gid) or ("", 0)
    assert kind == "Store"
    async with ws_connect(server, tokens[STORE1]) as sock:
        await sock.subscribe("st", SHIPMENT_EVENTS, {"id": store_gid})
        await wait_listeners(redis, demo, prefix, 1)
        await emit(engine, demo,
                   ("shipment.created", "Shipment", 11, {"orderId": encode_gid("Order", 1)},
                    [f"buyer:dealer:{demo.d1}"]),
                   ("shipment.created", "Shipment", 12, {"orderId": encode_gid("Order", 2)},
                    [f"seller:dealer:{demo.d1}", f"buyer:store:{store_pk}"]))
        await deliver(engine, redis, prefix)
        event = await sock.next_event("st")
        assert event["subjectId"] == encode_gid("Shipment", 12)
        # A store's staff follows its store, not its dealer's purchases.
        await sock.subscribe("d", SHIPMENT_EVENTS, {"id": encode_gid("Dealer", demo.d1)})
        assert (await sock.refused("d"))["extensions"]["code"] == "NOT_FOUND"
    await wait_listeners(redis, demo, prefix, 0)


async def test_complete_unsubscribes_and_the_socket_lives_on(
    server: str, gql: Any, tokens: dict[str, str], d1_order: dict[str, Any], redis: Redis, demo: Demo,
    prefix: str, engine: AsyncEngine,
) -> None:
    async with ws_connect(server, tokens[DEALER1]) as sock:
        before = await listeners(redis, demo, prefix)
        await sock.subscribe("c", ORDER_EVENTS, {"id": d1_order["id"]})
        await wait_listeners(redis, demo, prefix, before + 1)
        await sock.complete("c")
        await wait_listeners(redis, demo, prefix, before)
        # The connection is still good: a query over it answers like over HTTP.
        await sock.send({"id": "q", "type": "subscribe", "payload": {"query": "{ me { role } }"}})
        answer = await sock.recv()
        assert answer["type"] == "next" and answer["payload"]["data"] == {"me": {"role": "DEALER_ADMIN"}}
        assert answer["payload"]["extensions"]["cost"]["requestedQueryCost"] == 1
        assert (await sock.recv()) == {"id": "q", "type": "complete"}
        # The query's statement gave its connection back: a socket lives for hours and must not
        # keep one (the server shares this engine's pool).
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_bad_documents_answer_as_over_http(server: str, tokens: dict[str, str]) -> None:
    async with ws_connect(server, tokens[DEALER1]) as sock:
        await sock.subscribe("v", "subscription { orderEvents(orderId: \"x\") { nope } }", {})
        error = await sock.refused("v")
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and "nope" in error["message"]
        # A document that does not parse: the protocol's answer, close 4400 with the reason.
        await sock.subscribe("s", "subscription { orderEvents(", {})
        with pytest.raises(ConnectionClosed) as closed:
            await sock.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
        assert "Syntax Error" in closed.value.rcvd.reason


async def test_an_unexpected_failure_mid_stream_is_masked(
    ws_settings: Settings, tokens: dict[str, str], d1_order: dict[str, Any], caplog: pytest.LogCaptureFixture,
) -> None:
    unreachable = ws_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with serving(unreachable) as url, ws_connect(url, tokens[DEALER1]) as sock:
        await sock.subscribe("r", ORDER_EVENTS, {"id": d1_order["id"]})
        message = await sock.recv()
        assert message["type"] == "next" and message["payload"]["data"] is None
        (error,) = message["payload"]["errors"]
        request_id = error["extensions"]["requestId"]
        assert error == {"message": f"Internal server error (request id {request_id}).",
                         "extensions": {"requestId": request_id, "code": "INTERNAL_SERVER_ERROR"}}
        assert await sock.recv() == {"id": "r", "type": "complete"}
    # The cause is in the log, under the id the client was given.
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)


def test_the_channel_prefix_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert service.channel(1, "run-42") == "run-42:events:1"
    monkeypatch.delenv("YMT_EVENTS_CHANNEL_PREFIX", raising=False)
    assert Settings().events_channel_prefix == "ymt"
    monkeypatch.setenv("YMT_EVENTS_CHANNEL_PREFIX", "elsewhere")
    assert Settings().events_channel_prefix == "elsewhere"
