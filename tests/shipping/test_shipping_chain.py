"""The whole chain over GraphQL: a dealer's order from HQ shipped in two shipments (tracking
number, serials), tracked PICKED → IN_TRANSIT → DELIVERED, received with a damaged unit, a claim
opened; stock and serial units at both warehouses; outbox events; the order's timeline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from ship_helpers import ADMIN, DEALER1, DEALER2, STAFF1, Ship, gid, level, order_lines, place_order, serial_unit
from ship_helpers import snapshot as snap
from sqlalchemy.ext.asyncio import AsyncEngine

SHIPMENT_FIELDS = """id number status carrier trackingNumber estimatedArrival shippedAt deliveredAt
  order { id number status } fromWarehouse { code } toWarehouse { code } shippedBy { email }
  lines { orderLineId sku { id code } quantity serials }
  events { kind location at actor { email } }"""
CREATE = f"""mutation($i: ShipmentCreateInput!) {{ shipmentCreate(input: $i) {{
  shipment {{ {SHIPMENT_FIELDS} }} userErrors {{ code field message }} }} }}"""
EVENT = f"""mutation($i: ShipmentEventAddInput!) {{ shipmentEventAdd(input: $i) {{
  shipment {{ {SHIPMENT_FIELDS} }} userErrors {{ code field message }} }} }}"""
RECEIVE = """mutation($i: OrderReceiveInput!) { orderReceive(input: $i) {
  order { id status timeline { kind status details actor { email } } }
  receipt { receivedBy { email } warehouse { code }
            lines { sku { code } shipped received short damaged serials damagedSerials } }
  claims { id number kind status quantity shortQuantity damagedQuantity serials missingSerials orderLineId
           sku { code } order { number } createdBy { email } }
  userErrors { code field message } } }"""
CLAIMS = """query($f: ClaimFilter) { claims(filter: $f, first: 50) { totalCount edges { node { id number kind status
  damagedQuantity serials order { number } } } } }"""
SHIPMENTS = """query($f: ShipmentFilter) { shipments(filter: $f, first: 50) { totalCount
  edges { node { id number status order { number } } } } }"""


async def _mutate(gql: Any, doc: str, name: str, inp: dict[str, Any], token: str) -> dict[str, Any]:
    return (await gql(doc, {"i": inp}, token=token))["data"][name]


async def test_order_ships_in_two_shipments_is_tracked_and_received_with_a_damaged_unit(
    gql: Any, tokens: dict[str, str], ship: Ship, engine: AsyncEngine
) -> None:
    a, t = ship.plain[0], ship.tracked
    qa = ship.qty[a]
    hq, d1 = ship.wh["W-HQ-EAST"], ship.wh["W-D0001"]
    order = await place_order(engine, ship, {a: 2 * qa, t: 3}, "chain-1")
    assert order.status == "APPROVED"
    lines = await order_lines(engine, order.id)
    oid = gid("Order", order.id)
    vin1, vin2 = ship.vins[:2]
    hq_a, hq_t, d1_a, d1_t = (await level(engine, hq, a), await level(engine, hq, t),
                              await level(engine, d1, a), await level(engine, d1, t))
    admin = tokens[ADMIN]

    # Shipment 1: half of A (named by its SKU), two e-bikes by serial (named by order line).
    eta = datetime.now(UTC) + timedelta(days=2)
    first = await _mutate(gql, CREATE, "shipmentCreate", {
        "orderId": oid, "carrier": "顺丰速运", "trackingNumber": "SF1234567890", "estimatedArrival": eta.isoformat(),
        "idempotencyKey": "chain-ship-1",
        "lines": [{"skuId": gid("Sku", a), "quantity": qa},
                  {"orderLineId": gid("OrderLine", lines[t].id), "quantity": 2, "serials": [vin1, vin2.lower()]}],
    }, admin)
    assert first["userErrors"] == []
    s1 = first["shipment"]
    assert re.fullmatch(r"SH\d{8}-\d{6}-1", s1["number"]) and s1["number"][2:17] == order.number[2:]
    assert s1["status"] == "CREATED" and s1["carrier"] == "顺丰速运" and s1["trackingNumber"] == "SF1234567890"
    assert s1["order"] == {"id": oid, "number": order.number, "status": "PARTIALLY_SHIPPED"}
    assert (s1["fromWarehouse"]["code"], s1["toWarehouse"]["code"]) == ("W-HQ-EAST", "W-D0001")
    assert s1["shippedBy"]["email"] == ADMIN and s1["events"] == []
    assert [(ln["sku"]["id"], ln["quantity"], ln["serials"]) for ln in s1["lines"]] == [
        (gid("Sku", a), qa, []), (gid("Sku", t), 2, [vin1, vin2])]
    # Stock left HQ's reservation and is inbound at the buyer; the units are on their way there.
    assert await level(engine, hq, a) == (hq_a[0] - qa, hq_a[1] - qa, hq_a[2])
    assert await level(engine, hq, t) == (hq_t[0] - 2, hq_t[1] - 2, hq_t[2])
    assert await level(engine, d1, t) == (d1_t[0], 0, d1_t[2] + 2)
    assert await serial_unit(engine, vin1) == ("IN_TRANSIT", "W-D0001")
    # The same key again: the same shipment, nothing new.
    before = await snap(engine)
    replay = await _mutate(gql, CREATE, "shipmentCreate", {
        "orderId": oid, "carrier": "顺丰速运", "trackingNumber": "SF1234567890", "estimatedArrival": eta.isoformat(),
        "idempotencyKey": "chain-ship-1",
        "lines": [{"skuId": gid("Sku", a), "quantity": qa},
                  {"orderLineId": gid("OrderLine", lines[t].id), "quantity": 2, "serials": [vin1, vin2.lower()]}],
    }, admin)
    assert replay["userErrors"] == [] and replay["shipment"]["id"] == s1["id"]
    assert await snap(engine) == before

    # Shipment 2: the rest; the third e-bike leaves from stock held without serials.
    second = await _mutate(gql, CREATE, "shipmentCreate", {
        "orderId": oid, "carrier": "德邦物流", "trackingNumber": "DB-778899",
        "lines": [{"skuId": gid("Sku", a), "quantity": qa}, {"skuId": gid("Sku", t), "quantity": 1}],
    }, admin)
    assert second["userErrors"] == []
    s2 = second["shipment"]
    assert s2["number"].endswith("-2") and s2["order"]["status"] == "SHIPPED"
    assert await level(engine, d1, a) == (d1_a[0], d1_a[1], d1_a[2] + 2 * qa)

    # Tracking: PICKED → IN_TRANSIT (where) → DELIVERED on the first; the order waits for the second.
    picked = await _mutate(gql, EVENT, "shipmentEventAdd", {"shipmentId": s1["id"], "kind": "PICKED"}, admin)
    assert picked["userErrors"] == [] and picked["shipment"]["status"] == "PICKED"
    moving = await _mutate(gql, EVENT, "shipmentEventAdd",
                           {"shipmentId": s1["id"], "kind": "IN_TRANSIT", "location": "杭州转运中心"}, admin)
    assert moving["shipment"]["status"] == "IN_TRANSIT"
    done = await _mutate(gql, EVENT, "shipmentEventAdd", {"shipmentId": s1["id"], "kind": "DELIVERED"}, admin)
    s1 = done["shipment"]
    assert s1["status"] == "DELIVERED" and s1["deliveredAt"] and s1["order"]["status"] == "SHIPPED"
    assert [(e["kind"], e["location"], e["actor"]["email"]) for e in s1["events"]] == [
        ("PICKED", None, ADMIN), ("IN_TRANSIT", "杭州转运中心", ADMIN), ("DELIVERED", None, ADMIN)]
    # Nothing follows DELIVERED, and nothing changes for trying.
    before = await snap(engine)
    late = await _mutate(gql, EVENT, "shipmentEventAdd",
                         {"shipmentId": s1["id"], "kind": "IN_TRANSIT", "location": "上海"}, admin)
    assert late["shipment"] is None and late["userErrors"][0]["code"] == "EVENT_OUT_OF_ORDER"
    assert await snap(engine) == before
    done = await _mutate(gql, EVENT, "shipmentEventAdd", {"shipmentId": s2["id"], "kind": "DELIVERED"}, admin)
    assert done["shipment"]["order"]["status"] == "DELIVERED"

    # The buyer's staff receives: all of A, two e-bikes (one unnamed), one damaged (named).
    received = await _mutate(gql, RECEIVE, "orderReceive", {
        "orderId": oid, "idempotencyKey": "chain-receive-1", "note": "外箱破损一台",
        "lines": [{"skuId": gid("Sku", a), "received": 2 * qa},
                  {"orderLineId": gid("OrderLine", lines[t].id), "received": 2, "damaged": 1,
                   "serials": [vin1], "damagedSerials": [vin2], "note": "车架划伤"}],
    }, tokens[STAFF1])
    assert received["userErrors"] == []
    assert received["order"]["status"] == "RECEIVED"
    assert received["receipt"]["receivedBy"]["email"] == STAFF1
    assert received["receipt"]["warehouse"]["code"] == "W-D0001"
    assert [(ln["sku"]["code"], ln["shipped"], ln["received"], ln["short"], ln["damaged"], ln["serials"],
             ln["damagedSerials"]) for ln in received["receipt"]["lines"]] == [
        (ship.codes[a], 2 * qa, 2 * qa, 0, 0, [], []), (ship.codes[t], 3, 2, 0, 1, [vin1], [vin2])]
    [claim] = received["claims"]
    assert re.fullmatch(r"CL\d{8}-\d{6}", claim["number"])
    assert (claim["kind"], claim["status"], claim["quantity"], claim["shortQuantity"], claim["damagedQuantity"]) == (
        "RECEIPT_DISCREPANCY", "OPEN", 1, 0, 1)
    assert claim["serials"] == [vin2] and claim["missingSerials"] == []
    assert claim["orderLineId"] == gid("OrderLine", lines[t].id) and claim["sku"]["code"] == ship.codes[t]
    assert claim["order"]["number"] == order.number and claim["createdBy"]["email"] == STAFF1

    # Stock: HQ down by what shipped; the buyer up by what it received; the damaged unit stays inbound.
    assert await level(engine, hq, a) == (hq_a[0] - 2 * qa, hq_a[1] - 2 * qa, hq_a[2])
    assert await level(engine, hq, t) == (hq_t[0] - 3, hq_t[1] - 3, hq_t[2])
    assert await level(engine, d1, a) == (d1_a[0] + 2 * qa, d1_a[1], d1_a[2])
    assert await level(engine, d1, t) == (d1_t[0] + 2, d1_t[1], d1_t[2] + 1)
    assert await serial_unit(engine, vin1) == ("IN_STOCK", "W-D0001")
    assert await serial_unit(engine, vin2) == ("IN_TRANSIT", "W-D0001")

    # Receiving twice is refused (the same key answers the same), and changes nothing.
    before = await snap(engine)
    again = await _mutate(gql, RECEIVE, "orderReceive", {
        "orderId": oid, "lines": [{"skuId": gid("Sku", a), "received": 2 * qa},
                                  {"skuId": gid("Sku", t), "received": 3}]}, tokens[DEALER1])
    assert again["order"] is None and again["userErrors"][0]["code"] == "ALREADY_RECEIVED"
    replay = await _mutate(gql, RECEIVE, "orderReceive", {
        "orderId": oid, "idempotencyKey": "chain-receive-1", "note": "外箱破损一台",
        "lines": [{"skuId": gid("Sku", a), "received": 2 * qa},
                  {"orderLineId": gid("OrderLine", lines[t].id), "received": 2, "damaged": 1,
                   "serials": [vin1], "damagedSerials": [vin2], "note": "车架划伤"}],
    }, tokens[STAFF1])
    assert replay["userErrors"] == [] and [c["id"] for c in replay["claims"]] == [claim["id"]]
    assert await snap(engine) == before

    # The timeline is the full chain, each step with its actor.
    timeline = received["order"]["timeline"]
    assert [(e["kind"], e["status"]) for e in timeline] == [
        ("SUBMITTED", "SUBMITTED"), ("APPROVED", "APPROVED"),
        ("SHIPMENT_CREATED", None), ("PARTIALLY_SHIPPED", "PARTIALLY_SHIPPED"),
        ("SHIPMENT_CREATED", None), ("SHIPPED", "SHIPPED"),
        ("SHIPMENT_PICKED", None), ("SHIPMENT_IN_TRANSIT", None), ("SHIPMENT_DELIVERED", None),
        ("SHIPMENT_DELIVERED", None), ("DELIVERED", "DELIVERED"),
        ("CLAIM_OPENED", None), ("RECEIVED", "RECEIVED"),
    ]
    assert timeline[7]["details"]["location"] == "杭州转运中心"
    assert timeline[-1]["actor"]["email"] == STAFF1 and timeline[-1]["details"]["claims"] == [claim["number"]]

    # Every step told both sides, in the outbox, with the shape subscriptions filter on.
    async with engine.connect() as c:
        events = (await c.execute(sa.text(
            "SELECT event_type, subject_type, topics, payload FROM outbox_events "
            "WHERE payload->>'orderId' = :o OR (subject_type = 'Order' AND subject_id = :pk) ORDER BY id"
        ), {"o": oid, "pk": order.id})).all()
    kinds = [e.event_type for e in events]
    assert kinds == [
        "order.submitted", "order.approved", "order.partially_shipped", "shipment.created", "order.shipped",
        "shipment.created", "shipment.picked", "shipment.in_transit", "shipment.delivered", "shipment.delivered",
        "order.delivered", "claim.opened", "order.received",
    ]
    buyer_topic = f"buyer:dealer:{ship.dealers['D0001'].id}"
    assert all("hq" in e.topics and buyer_topic in e.topics for e in events)
    moved = next(e for e in events if e.event_type == "shipment.in_transit")
    assert moved.subject_type == "Shipment" and moved.payload["shipmentId"] == s1["id"]
    assert moved.payload["location"] == "杭州转运中心" and moved.payload["trackingNumber"] == "SF1234567890"
    assert moved.payload["orderNumber"] == order.number
    assert moved.payload["buyerId"] == gid("Dealer", order.buyer_dealer_id)
    assert next(e for e in events if e.event_type == "claim.opened").payload["claimNumber"] == claim["number"]

    # Reads: the buyer sees the claim and both shipments; another dealer sees neither.
    mine = (await gql(CLAIMS, {"f": {"orderId": oid}}, token=tokens[DEALER1]))["data"]["claims"]
    assert [e["node"]["number"] for e in mine["edges"]] == [claim["number"]]
    assert (await gql(CLAIMS, {"f": {"orderId": oid}}, token=tokens[DEALER2]))["data"]["claims"]["totalCount"] == 0
    listed = (await gql(SHIPMENTS, {"f": {"orderId": oid}}, token=tokens[DEALER1]))["data"]["shipments"]
    assert [e["node"]["number"] for e in listed["edges"]] == [s2["number"], s1["number"]]
    assert (await gql(SHIPMENTS, {"f": {"orderId": oid}}, token=tokens[DEALER2]))["data"]["shipments"]["edges"] == []
    node = "query($id: ID!) { node(id: $id) { id ... on Shipment { number } ... on Claim { number } } }"
    for token, seen in ((tokens[DEALER1], True), (tokens[DEALER2], False)):
        for obj in (s1["id"], claim["id"]):
            assert ((await gql(node, {"id": obj}, token=token))["data"]["node"] is not None) is seen
