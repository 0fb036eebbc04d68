"""The five steps and the whole chain, as clients live them: GraphQL over real HTTP and a real
websocket to the app under uvicorn, webhooks to a real receiver that verifies signatures, the
arq worker delivering the outbox.

Twice: D0001 ordering from HQ (held for approval, approved by area sales) and store S00001
ordering from its dealer D0001 (approved at once, shipped by the dealer). Each is browsed,
carted, reviewed, submitted, approved, shipped in two shipments with tracking and serials,
tracked to delivery with an arrival notice, and received with one damaged unit.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
from live_helpers import Receiver, Socket, receiver, serving, ws_connect
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.access import Principal, Role
from ymt_graph.graph.ids import encode_gid
from ymt_graph.inventory import service as inventory_service
from ymt_graph.jobs.worker import FUNCTIONS, shutdown, startup
from ymt_graph.notifications.delivery import WebhookSettings
from ymt_graph.settings import Settings

ADMIN, SALES, DEALER1, STORE1 = ("admin@demo.example", "sales.east@demo.example", "dealer1@demo.example",
                                 "store1@demo.example")
EVENT_FIELDS = "id eventType subjectType subjectId orderId payload createdAt"
ORDER_EVENTS = f"subscription($o: ID!) {{ orderEvents(orderId: $o) {{ {EVENT_FIELDS} }} }}"
SHIPMENT_EVENTS = f"subscription($b: ID!) {{ shipmentEvents(buyerId: $b) {{ {EVENT_FIELDS} }} }}"

BROWSE = """query($d: ID!, $s: ID!, $w: ID!, $store: Boolean!) {
  skus(filter: {orderableBy: $d}, first: 250) { edges { node { id code moq orderMultiple serialTracked
    price(dealerId: $d) @skip(if: $store) { amount { amount } list { code } }
    storePrice(storeId: $s) @include(if: $store) { amount { amount } list { code } }
    available(warehouseId: $w) } } } }"""
CART = """lines { sku { code } quantity unitPrice { amount } lineTotal { amount } problems { code } }
  subtotal { amount } rebateProposal { amount } total { amount } hasProblems"""
ADD = f"""mutation($i: CartLinesAddInput!) {{ cartLinesAdd(input: $i) {{ cart {{ {CART} }}
  userErrors {{ code }} }} }}"""
UPDATE = f"""mutation($i: CartLinesUpdateInput!) {{ cartLinesUpdate(input: $i) {{ cart {{ {CART} }}
  userErrors {{ code }} }} }}"""
REVIEW = f"query($b: ID!) {{ cart(buyerId: $b) {{ {CART} }} }}"
ORDER = """id number status total { amount } seller { code } buyer { code } buyerStore { code }
  lines { id sku { code } quantity }
  shipments { number status carrier trackingNumber lines { quantity serials } events { kind location } }
  receipt { lines { sku { code } shipped received damaged damagedSerials } }
  claims { number kind status damagedQuantity serials }
  timeline { kind status actor { email } }"""
SUBMIT = f"""mutation($i: OrderSubmitInput!) {{ orderSubmit(input: $i) {{ order {{ {ORDER} }}
  userErrors {{ code message }} }} }}"""
APPROVE = f"""mutation($i: OrderDecisionInput!) {{ orderApprove(input: $i) {{ order {{ {ORDER} }}
  userErrors {{ code }} }} }}"""
GET = f"query($id: ID!) {{ order(id: $id) {{ {ORDER} }} }}"
SHIP = """mutation($i: ShipmentCreateInput!) { shipmentCreate(input: $i) {
  shipment { id number status order { status } } userErrors { code field message } } }"""
TRACK = """mutation($i: ShipmentEventAddInput!) { shipmentEventAdd(input: $i) {
  shipment { status order { status } } userErrors { code message } } }"""
RECEIVE = """mutation($i: OrderReceiveInput!) { orderReceive(input: $i) {
  order { status } claims { number kind damagedQuantity serials } userErrors { code field message } } }"""
HOOK = """mutation($i: WebhookSubscriptionCreateInput!) { webhookSubscriptionCreate(input: $i) {
  webhookSubscription { id } secret userErrors { code message } } }"""


# ---- the parties and what they order ---------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    """One buyer's chain: who buys, who sells and ships, and what."""

    name: str
    buyer_id: str  # global id (Dealer or Store)
    buyer_token: str
    seller_token: str  # ships (and, for a dealer's order from HQ, HQ_SALES approves)
    seller_wh: int
    buyer_wh: int
    plain: int | None  # an untracked SKU, ordered in two halves
    plain_qty: int
    tracked: int  # a serial-tracked SKU, one unit per shipment
    serials: tuple[str, str]


async def _one(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as c:
        return (await c.execute(sa.text(sql), params)).first()


async def _level(engine: AsyncEngine, wh: int, sku: int) -> tuple[int, int, int]:
    row = await _one(engine, "SELECT on_hand, reserved, inbound FROM stock_levels "
                             "WHERE warehouse_id = :w AND sku_id = :s", w=wh, s=sku)
    return (row.on_hand, row.reserved, row.inbound) if row else (0, 0, 0)


async def _serial(engine: AsyncEngine, serial: str) -> tuple[str, int | None]:
    row = await _one(engine, "SELECT status, warehouse_id FROM serial_units WHERE serial = :s", s=serial)
    return row.status, row.warehouse_id


async def _tracked(engine: AsyncEngine, priced: str) -> int:
    """A serial-tracked ACTIVE SKU with MOQ 1 priced by ``priced`` (SQL over the SKU ``s``)."""
    row = await _one(engine, f"""SELECT s.id FROM skus s WHERE s.serial_tracked AND s.moq = 1
        AND s.order_multiple = 1 AND s.status = 'ACTIVE' AND {priced} ORDER BY s.code LIMIT 1""")
    assert row is not None, "the demo data prices serial-tracked SKUs with MOQ 1"
    return int(row.id)


def _priced_by(list_code: str) -> str:
    return ("EXISTS (SELECT 1 FROM price_list_lines l JOIN price_lists p ON p.id = l.price_list_id "
            f"WHERE l.sku_id = s.id AND p.code = '{list_code}')")


@pytest.fixture(scope="module")
async def chains(engine: AsyncEngine, tokens: dict[str, str]) -> dict[str, Chain]:
    """Both chains, with their goods in stock: e-bikes received at each seller's warehouse with
    their VINs (stockAdjust's service), plenty of an untracked SKU at HQ."""
    wh = {r.code: r.id for r in await _all(engine, "SELECT id, code FROM warehouses")}
    d1 = (await _one(engine, "SELECT id FROM dealers WHERE code = 'D0001'")).id
    store = await _one(engine, "SELECT s.id, w.id AS wid FROM stores s JOIN warehouses w ON w.store_id = s.id "
                               "WHERE s.code = 'S00001'")
    admin = await _one(engine, "SELECT id, tenant_id FROM users WHERE email = :e", e=ADMIN)
    p = Principal(tenant_id=admin.tenant_id, role=Role.HQ_ADMIN, user_id=admin.id)
    hq_tracked = await _tracked(engine, _priced_by("BASE"))
    d1_tracked = await _tracked(engine, _priced_by("XF-D0001"))
    plain = await _one(engine, f"""SELECT s.id FROM skus s WHERE NOT s.serial_tracked AND s.status = 'ACTIVE'
        AND s.moq = 1 AND s.order_multiple = 1 AND {_priced_by("BASE")} ORDER BY s.code LIMIT 1""")
    tag = secrets.token_hex(3).upper()
    vins = {"dealer": (f"LHQ{tag}0001", f"LHQ{tag}0002"), "store": (f"LD1{tag}0001", f"LD1{tag}0002")}
    async with engine.begin() as c:
        await inventory_service.adjust(c, p, wh["W-HQ-EAST"], hq_tracked, 2, "acceptance", vins["dealer"])
        await inventory_service.adjust(c, p, wh["W-D0001"], d1_tracked, 2, "acceptance", vins["store"])
        await inventory_service.adjust(c, p, wh["W-HQ-EAST"], plain.id, 100, "acceptance")
        # D0001's credit is used up: its order waits for HQ's approval.
        await c.execute(sa.text("UPDATE dealers SET credit_limit = 1 WHERE id = :d"), {"d": d1})
    return {
        "dealer": Chain("dealer", encode_gid("Dealer", d1), tokens[DEALER1], tokens[ADMIN],
                        wh["W-HQ-EAST"], wh["W-D0001"], plain.id, 4, hq_tracked, vins["dealer"]),
        "store": Chain("store", encode_gid("Store", store.id), tokens[STORE1], tokens[DEALER1],
                       wh["W-D0001"], store.wid, None, 0, d1_tracked, vins["store"]),
    }


async def _all(engine: AsyncEngine, sql: str) -> list[Any]:
    async with engine.connect() as c:
        return list((await c.execute(sa.text(sql))).all())


# ---- servers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_settings(settings: Settings) -> Settings:
    # This module's events on channels of its own: test runs share one Redis (all tenant 1).
    return settings.model_copy(update={"events_channel_prefix": f"ymt-accept-{secrets.token_hex(6)}"})


@pytest.fixture(scope="module")
async def server(live_settings: Settings) -> AsyncIterator[str]:
    async with serving(live_settings) as ws_url:
        yield ws_url


@pytest.fixture(scope="module")
async def hooks() -> AsyncIterator[Receiver]:
    """One webhook endpoint for the module: every subscription made here stays reachable."""
    async with receiver() as rec:
        yield rec


@pytest.fixture
async def http(server: str) -> AsyncIterator[Any]:
    base = server.replace("ws://", "http://").removesuffix("/graphql")
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def gql(query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
            r = await client.post("/graphql", json={"query": query, "variables": variables},
                                  headers={"Authorization": f"Bearer {token}"})
            body: dict[str, Any] = r.json()
            assert r.status_code == 200 and "errors" not in body, body
            return body["data"]

        yield gql


async def _work(settings: Settings) -> None:
    """The arq worker, as deployed, until its queue is empty: the outbox fanned out and published,
    every webhook sent."""
    assert settings.redis_url
    queue = f"ymt-accept-{uuid.uuid4().hex[:8]}"
    redis_settings = RedisSettings.from_dsn(settings.redis_url)
    pool = await create_pool(redis_settings, default_queue_name=queue)
    await pool.enqueue_job("deliver_outbox")
    worker = Worker(functions=FUNCTIONS, redis_settings=redis_settings, queue_name=queue, burst=True,
                    on_startup=startup, on_shutdown=shutdown, poll_delay=0.02,
                    ctx={"settings": settings, "webhook_settings": WebhookSettings(timeout_seconds=5)})
    await asyncio.wait_for(worker.main(), timeout=60)
    await worker.close()
    await pool.aclose()


# ---- the walk --------------------------------------------------------------------------------


async def _browse_and_fill(gql: Any, ch: Chain) -> dict[int, int]:
    """Steps 1–3: browse the priced, stocked catalog; fill the cart on one device, adjust it on
    another; review it. Returns what is ordered (SKU pk → quantity)."""
    store = ch.name == "store"
    # A store browses what its dealer may order, at its dealer's prices for it.
    dealer = (await gql('{ dealer(code: "D0001") { id } }', {}, ch.buyer_token))["dealer"]["id"]
    page = await gql(BROWSE, {"d": dealer, "s": ch.buyer_id,
                              "w": encode_gid("Warehouse", ch.seller_wh), "store": store}, ch.buyer_token)
    shown = {e["node"]["id"]: e["node"] for e in page["skus"]["edges"]}
    wanted = {ch.tracked: 2} | ({ch.plain: ch.plain_qty} if ch.plain else {})
    for sku in wanted:
        node = shown[encode_gid("Sku", sku)]
        price = node["storePrice"] if store else node["price"]
        assert price is not None and node["available"] >= wanted[sku], node
        if store:
            assert price["list"]["code"] == "XF-D0001"  # the dealer's own price for its stores
    first = next(iter(wanted))
    added = await gql(ADD, {"i": {"buyerId": ch.buyer_id, "lines": [{"skuId": encode_gid("Sku", first),
                                                                     "quantity": 1}]}}, ch.buyer_token)
    assert added["cartLinesAdd"]["userErrors"] == []
    lines = [{"skuId": encode_gid("Sku", s), "quantity": q} for s, q in wanted.items()]
    rest = [ln for ln in lines if ln["skuId"] != encode_gid("Sku", first)]
    if rest:
        await gql(ADD, {"i": {"buyerId": ch.buyer_id, "lines": rest}}, ch.buyer_token)
    updated = await gql(UPDATE, {"i": {"buyerId": ch.buyer_id, "lines": lines}}, ch.buyer_token)
    assert updated["cartLinesUpdate"]["userErrors"] == []
    cart = (await gql(REVIEW, {"b": ch.buyer_id}, ch.buyer_token))["cart"]
    assert cart["hasProblems"] is False and cart["rebateProposal"] is None
    assert sorted(ln["quantity"] for ln in cart["lines"]) == sorted(wanted.values())
    assert Decimal(cart["total"]["amount"]) == sum(Decimal(ln["lineTotal"]["amount"]) for ln in cart["lines"])
    return wanted


async def _ship_twice(gql: Any, ch: Chain, order: dict[str, Any], tracked_code: str) -> list[str]:
    """The seller ships in two shipments: half of each line, each with a tracking number; the
    serial-tracked units named by serial."""
    eta = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    shipment_ids: list[str] = []
    for n, serial in enumerate(ch.serials):
        lines = []
        for ln in order["lines"]:
            unit: dict[str, Any] = {"orderLineId": ln["id"], "quantity": ln["quantity"] // 2}
            if ln["sku"]["code"] == tracked_code:
                unit["serials"] = [serial]
            lines.append(unit)
        made = (await gql(SHIP, {"i": {"orderId": order["id"], "carrier": "顺丰速运",
                                       "trackingNumber": f"SF{ch.name.upper()}{n}", "estimatedArrival": eta,
                                       "lines": lines, "idempotencyKey": f"{ch.name}-ship-{n}"}},
                          ch.seller_token))["shipmentCreate"]
        assert made["userErrors"] == [], made
        assert made["shipment"]["order"]["status"] == ("PARTIALLY_SHIPPED" if n == 0 else "SHIPPED")
        shipment_ids.append(made["shipment"]["id"])
    return shipment_ids


async def _track(gql: Any, ch: Chain, shipment_ids: list[str]) -> None:
    for n, sid in enumerate(shipment_ids):
        for kind, location in (("PICKED", None), ("IN_TRANSIT", "杭州转运中心"), ("DELIVERED", None)):
            done = (await gql(TRACK, {"i": {"shipmentId": sid, "kind": kind, "location": location}},
                              ch.seller_token))["shipmentEventAdd"]
            assert done["userErrors"] == [], done
            assert done["shipment"]["status"] == kind
        # The order is DELIVERED once every shipment of the fully shipped order is.
        assert done["shipment"]["order"]["status"] == ("SHIPPED" if n == 0 else "DELIVERED")


@pytest.mark.parametrize("which", ["dealer", "store"])
async def test_five_steps_and_the_whole_chain(
    which: str, chains: dict[str, Chain], http: Any, server: str, live_settings: Settings, engine: AsyncEngine,
    tokens: dict[str, str], hooks: Receiver,
) -> None:
    ch = chains[which]
    gql = http
    rec = hooks
    await _subscribe_webhook(gql, rec, ch, tokens)
    async with ws_connect(server, ch.buyer_token) as sock:
        await sock.subscribe("ship", SHIPMENT_EVENTS, {"b": ch.buyer_id})
        wanted = await _browse_and_fill(gql, ch)
        seller_before = {s: await _level(engine, ch.seller_wh, s) for s in wanted}
        buyer_before = {s: await _level(engine, ch.buyer_wh, s) for s in wanted}

        # (4) submit; approve.
        submitted = (await gql(SUBMIT, {"i": {"buyerId": ch.buyer_id, "idempotencyKey": f"five-{which}"}},
                               ch.buyer_token))["orderSubmit"]
        assert submitted["userErrors"] == [], submitted
        order = submitted["order"]
        await sock.subscribe("order", ORDER_EVENTS, {"o": order["id"]})
        if which == "dealer":
            assert order["status"] == "PENDING_APPROVAL"  # over its credit: HQ's area sales decides
            order = (await gql(APPROVE, {"i": {"orderId": order["id"]}}, tokens[SALES]))["orderApprove"]["order"]
        assert order["status"] == "APPROVED"
        for s, q in wanted.items():  # reserved at the seller
            assert await _level(engine, ch.seller_wh, s) == (seller_before[s][0], seller_before[s][1] + q,
                                                             seller_before[s][2])

        # (5) track: two shipments, tracking events, an arrival notice ahead of time.
        tracked_code = await _code(engine, ch.tracked)
        shipment_ids = await _ship_twice(gql, ch, order, tracked_code)
        from ymt_graph.shipping import service as shipping

        assert await shipping.send_arrival_notices(engine, timedelta(hours=24)) == 2
        assert await shipping.send_arrival_notices(engine, timedelta(hours=24)) == 0  # once each
        await _track(gql, ch, shipment_ids)

        # Receipt: one unit of the serial-tracked SKU arrives damaged.
        order = (await gql(GET, {"id": order["id"]}, ch.buyer_token))["order"]
        lines = []
        for ln in order["lines"]:
            tracked = ln["sku"]["code"] == tracked_code
            lines.append({"orderLineId": ln["id"], "received": ln["quantity"] - (1 if tracked else 0),
                          "damaged": 1 if tracked else 0,
                          **({"serials": [ch.serials[0]], "damagedSerials": [ch.serials[1]]} if tracked else {})})
        got = (await gql(RECEIVE, {"i": {"orderId": order["id"], "lines": lines, "idempotencyKey": f"rcv-{which}"}},
                         ch.buyer_token))["orderReceive"]
        assert got["userErrors"] == [], got
        assert got["order"]["status"] == "RECEIVED"
        assert [(c["kind"], c["damagedQuantity"], c["serials"]) for c in got["claims"]] == [
            ("RECEIPT_DISCREPANCY", 1, [ch.serials[1]])]

        # The full-chain view.
        order = (await gql(GET, {"id": order["id"]}, ch.buyer_token))["order"]
        kinds = [e["kind"] for e in order["timeline"]]
        assert kinds[:2] == ["SUBMITTED", "PENDING_APPROVAL" if which == "dealer" else "APPROVED"]
        for step in ("APPROVED", "SHIPMENT_CREATED", "PARTIALLY_SHIPPED", "SHIPPED", "SHIPMENT_IN_TRANSIT",
                     "SHIPMENT_ARRIVAL_NOTICE", "DELIVERED", "RECEIVED", "CLAIM_OPENED"):
            assert step in kinds, (step, kinds)
        assert kinds.index("SHIPPED") < kinds.index("DELIVERED") < kinds.index("RECEIVED")
        assert [s["status"] for s in order["shipments"]] == ["DELIVERED", "DELIVERED"]
        assert [s["trackingNumber"] for s in order["shipments"]] == [f"SF{which.upper()}0", f"SF{which.upper()}1"]
        shipped_serials = [x for s in order["shipments"] for ln in s["lines"] for x in ln["serials"]]
        assert sorted(shipped_serials) == sorted(ch.serials)
        assert len(order["claims"]) == 1 and order["claims"][0]["status"] == "OPEN"

        # Stock at both ends: out of the seller's, into the buyer's; the damaged unit stays inbound.
        for s, q in wanted.items():
            damaged = 1 if s == ch.tracked else 0
            assert await _level(engine, ch.seller_wh, s) == (seller_before[s][0] - q, seller_before[s][1],
                                                             seller_before[s][2])
            assert await _level(engine, ch.buyer_wh, s) == (buyer_before[s][0] + q - damaged, buyer_before[s][1],
                                                            buyer_before[s][2] + damaged)
        assert await _serial(engine, ch.serials[0]) == ("IN_STOCK", ch.buyer_wh)
        assert await _serial(engine, ch.serials[1]) == ("IN_TRANSIT", ch.buyer_wh)

        # The worker delivers: webhooks signed, the subscription hears the order's life in order.
        await _listening(live_settings, 2)
        await _work(live_settings)
        expected = await _order_event_types(engine, order["id"])
        heard = [await _next(sock, "order") for _ in expected]
        assert [e["eventType"] for e in heard] == expected
        assert all(e["orderId"] == order["id"] for e in heard)
        shipment_heard = [e for e in expected if e.startswith("shipment.")]
        assert [(await _next(sock, "ship"))["eventType"] for _ in shipment_heard] == shipment_heard
    posted = [orjson.loads(r.body) for r in rec.received if r.path == which]
    assert rec.received and all(r.verified for r in rec.received if r.path == which)
    mine = [b["eventType"] for b in posted if b["payload"].get("orderNumber") == order["number"]]
    assert sorted(mine) == sorted(expected)
    assert len({r.headers["x-ymt-delivery"] for r in rec.received if r.path == which}) == len(
        [r for r in rec.received if r.path == which])


async def _listening(settings: Settings, n: int) -> None:
    """Until both subscriptions of the socket listen on the tenant's channel (each subscribes on
    its own task, after its subscribe message was read)."""
    from redis.asyncio import Redis

    from ymt_graph.notifications.service import channel

    client = Redis.from_url(settings.redis_url or "")
    try:
        for _ in range(500):
            [(_, count)] = await client.pubsub_numsub(channel(1, settings.events_channel_prefix))
            if int(count) >= n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the subscriptions never listened")
    finally:
        await client.aclose()


async def _code(engine: AsyncEngine, sku: int) -> str:
    return str((await _one(engine, "SELECT code FROM skus WHERE id = :s", s=sku)).code)


async def _next(sock: Socket, op: str) -> dict[str, Any]:
    return await sock.next_event(op)


async def _subscribe_webhook(gql: Any, rec: Receiver, ch: Chain, tokens: dict[str, str]) -> None:
    """HQ hears everything for the dealer's chain; for the store's chain D0001's admin subscribes its
    own dealer (it hears events naming D0001, here as the seller)."""
    token = tokens[ADMIN] if ch.name == "dealer" else tokens[DEALER1]
    made = (await gql(HOOK, {"i": {"url": rec.url(ch.name), "eventTypes": ["*"]}}, token))["webhookSubscriptionCreate"]
    assert made["userErrors"] == [], made
    rec.secrets[ch.name] = made["secret"]


async def _order_event_types(engine: AsyncEngine, order_gid: str) -> list[str]:
    """The outbox's events about the order (its own, and its shipments' and claims' by payload), oldest first."""
    from ymt_graph.graph.ids import decode_gid

    decoded = decode_gid(order_gid)
    assert decoded is not None
    rows = await _all(engine, f"""SELECT event_type FROM outbox_events WHERE (subject_type = 'Order' AND
        subject_id = {decoded[1]}) OR payload->>'orderId' = '{order_gid}' ORDER BY id""")
    return [r.event_type for r in rows]
