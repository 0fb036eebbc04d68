"""What may not ship, be tracked or be received — each refusal a clear userError (or FORBIDDEN)
that changes nothing — and who may act on which side of an order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from ship_helpers import (
    ADMIN,
    ANALYST,
    DEALER1,
    DEALER2,
    SALES,
    STAFF1,
    SUB1,
    Ship,
    gid,
    order_lines,
    place_order,
    snapshot,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.access import Forbidden
from ymt_graph.errors import DomainError
from ymt_graph.inventory import service as inventory
from ymt_graph.orders import service as orders
from ymt_graph.shipping import service

CREATE = """mutation($i: ShipmentCreateInput!) { shipmentCreate(input: $i) {
  shipment { id number status order { status } } userErrors { code field message } } }"""
EVENT = """mutation($i: ShipmentEventAddInput!) { shipmentEventAdd(input: $i) {
  shipment { id status events { kind at } order { status } } userErrors { code field message } } }"""
RECEIVE = """mutation($i: OrderReceiveInput!) { orderReceive(input: $i) {
  order { status } claims { number shortQuantity damagedQuantity missingSerials }
  userErrors { code field message } } }"""


async def _refused(
    gql: Any, engine: AsyncEngine, doc: str, name: str, inp: dict[str, Any], token: str
) -> dict[str, Any]:
    """The mutation answers one userError and changes nothing; returns that error."""
    before = await snapshot(engine)
    payload = (await gql(doc, {"i": inp}, token=token))["data"][name]
    assert len(payload["userErrors"]) == 1, payload
    assert all(v is None or v == [] for k, v in payload.items() if k != "userErrors"), payload
    assert await snapshot(engine) == before
    return dict(payload["userErrors"][0])


async def _forbidden(gql: Any, engine: AsyncEngine, doc: str, inp: dict[str, Any], token: str) -> None:
    before = await snapshot(engine)
    body = await gql(doc, {"i": inp}, token=token, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert await snapshot(engine) == before


async def _ok(gql: Any, doc: str, name: str, inp: dict[str, Any], token: str) -> dict[str, Any]:
    payload = (await gql(doc, {"i": inp}, token=token))["data"][name]
    assert payload["userErrors"] == [], payload
    return dict(payload)


async def test_what_may_not_ship(gql: Any, tokens: dict[str, str], ship: Ship, engine: AsyncEngine) -> None:
    a, b = ship.plain[0], ship.plain[1]
    qa, qb = ship.qty[a], ship.qty[b]
    order = await place_order(engine, ship, {a: qa, b: qb}, "rules-1")
    oid, admin = gid("Order", order.id), tokens[ADMIN]

    def ship_(*lines: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"orderId": oid, "carrier": "顺丰", "lines": list(lines), **extra}

    line_a = {"skuId": gid("Sku", a), "quantity": qa}
    err = await _refused(gql, engine, CREATE, "shipmentCreate", ship_({"skuId": gid("Sku", a), "quantity": qa + 1}),
                         admin)
    assert err["code"] == "MORE_THAN_ORDERED" and err["field"] == ["lines", "0", "quantity"]
    assert ship.codes[a] in err["message"] and f"ordered {qa}" in err["message"] and f"at most {qa}" in err["message"]
    # Shipped so far counts: after shipping all of A, one more unit is too many.
    await _ok(gql, CREATE, "shipmentCreate", ship_(line_a), admin)
    err = await _refused(gql, engine, CREATE, "shipmentCreate",
                         ship_({"skuId": gid("Sku", b), "quantity": qb}, {"skuId": gid("Sku", a), "quantity": 1}),
                         admin)
    assert err["code"] == "MORE_THAN_ORDERED" and err["field"] == ["lines", "1", "quantity"]
    assert f"shipped {qa} already" in err["message"]
    for inp, code, field in (
        (ship_({"skuId": gid("Sku", ship.plain[2]), "quantity": 1}), "LINE_NOT_IN_ORDER", ["lines", "0", "skuId"]),
        (ship_({"orderLineId": gid("OrderLine", 999_999), "quantity": 1}), "LINE_NOT_IN_ORDER",
         ["lines", "0", "orderLineId"]),
        (ship_({"skuId": gid("Sku", b), "quantity": 1}, {"skuId": gid("Sku", b), "quantity": 1}), "DUPLICATE_LINE",
         ["lines", "1"]),
        (ship_({"skuId": gid("Sku", b), "quantity": 0}), "QUANTITY_INVALID", ["lines", "0", "quantity"]),
        (ship_(), "LINES_EMPTY", ["lines"]),
        ({**ship_({"skuId": gid("Sku", b), "quantity": 1}), "carrier": "  "}, "CARRIER_REQUIRED", ["carrier"]),
        (ship_({"skuId": gid("Sku", b), "quantity": 1}, estimatedArrival="2020-01-01T00:00:00Z"),
         "ESTIMATED_ARRIVAL_INVALID", ["estimatedArrival"]),
        (ship_({"skuId": gid("Sku", b), "quantity": 1, "serials": ["X1"]}), "SERIALS_MISMATCH",
         ["lines", "0", "serials"]),
        ({**ship_({"skuId": gid("Sku", b), "quantity": 1}), "orderId": gid("Order", 999_999)}, "ORDER_NOT_FOUND",
         ["orderId"]),
    ):
        err = await _refused(gql, engine, CREATE, "shipmentCreate", inp, admin)
        assert (err["code"], err["field"]) == (code, field), (inp, err)

    # Another dealer's order is not found; the buyer, HQ sales and analysts see it but may not ship it.
    err = await _refused(gql, engine, CREATE, "shipmentCreate", ship_({"skuId": gid("Sku", b), "quantity": 1}),
                         tokens[DEALER2])
    assert err["code"] == "ORDER_NOT_FOUND"
    for who in (DEALER1, STAFF1, SALES, ANALYST):
        await _forbidden(gql, engine, CREATE, ship_({"skuId": gid("Sku", b), "quantity": 1}), tokens[who])

    # A key reused for another request is refused; replaying the first request is not.
    first = await _ok(gql, CREATE, "shipmentCreate", ship_({"skuId": gid("Sku", b), "quantity": 1},
                                                           idempotencyKey="rules-key"), admin)
    err = await _refused(gql, engine, CREATE, "shipmentCreate",
                         ship_({"skuId": gid("Sku", b), "quantity": 2}, idempotencyKey="rules-key"), admin)
    assert err["code"] == "IDEMPOTENCY_KEY_REUSED"
    again = await _ok(gql, CREATE, "shipmentCreate", ship_({"skuId": gid("Sku", b), "quantity": 1},
                                                           idempotencyKey="rules-key"), admin)
    assert again["shipment"]["id"] == first["shipment"]["id"]


async def test_pending_or_cancelled_orders_do_not_ship(
    gql: Any, tokens: dict[str, str], ship: Ship, engine: AsyncEngine
) -> None:
    a = ship.plain[1]
    async with engine.begin() as c:
        await c.execute(sa.text("UPDATE dealers SET credit_limit = 1 WHERE code = 'D0001'"))
    try:
        pending = await place_order(engine, ship, {a: ship.qty[a]}, "rules-pending", approve=False)
    finally:
        async with engine.begin() as c:
            await c.execute(sa.text("UPDATE dealers SET credit_limit = 100000000 WHERE code = 'D0001'"))
    cancelled = await place_order(engine, ship, {a: ship.qty[a]}, "rules-cancelled")
    async with engine.begin() as c:
        await orders.cancel(c, ship.p(DEALER1), cancelled.id)
    for o, status in ((pending, "PENDING_APPROVAL"), (cancelled, "CANCELLED")):
        err = await _refused(gql, engine, CREATE, "shipmentCreate", {
            "orderId": gid("Order", o.id), "carrier": "顺丰", "lines": [{"skuId": gid("Sku", a), "quantity": 1}]},
            tokens[ADMIN])
        assert err["code"] == "NOT_SHIPPABLE" and err["field"] == ["orderId"] and status in err["message"]


async def test_tracking_events_follow_in_order_and_in_time(
    gql: Any, tokens: dict[str, str], ship: Ship, engine: AsyncEngine
) -> None:
    a = ship.plain[2]
    order = await place_order(engine, ship, {a: ship.qty[a]}, "rules-events")
    admin = tokens[ADMIN]
    s = (await _ok(gql, CREATE, "shipmentCreate", {
        "orderId": gid("Order", order.id), "carrier": "中通",
        "lines": [{"skuId": gid("Sku", a), "quantity": ship.qty[a]}]}, admin))["shipment"]
    sid = s["id"]
    now = datetime.now(UTC)
    for inp, code, field in (
        ({"kind": "PICKED", "at": (now + timedelta(hours=1)).isoformat()}, "EVENT_TIME_INVALID", ["at"]),
        ({"kind": "PICKED", "at": (now - timedelta(days=1)).isoformat()}, "EVENT_TIME_INVALID", ["at"]),
        ({"kind": "IN_TRANSIT"}, "LOCATION_REQUIRED", ["location"]),
        ({"kind": "PICKED", "location": "x" * 201}, "TEXT_TOO_LONG", ["location"]),
    ):
        err = await _refused(gql, engine, EVENT, "shipmentEventAdd", {"shipmentId": sid, **inp}, admin)
        assert (err["code"], err["field"]) == (code, field), (inp, err)
    moved = await _ok(gql, EVENT, "shipmentEventAdd", {"shipmentId": sid, "kind": "IN_TRANSIT", "location": "广州"},
                      admin)
    assert moved["shipment"]["status"] == "IN_TRANSIT"
    # Steps never go back; IN_TRANSIT repeats (hub after hub), but not back in time.
    err = await _refused(gql, engine, EVENT, "shipmentEventAdd", {"shipmentId": sid, "kind": "PICKED"}, admin)
    assert err["code"] == "EVENT_OUT_OF_ORDER" and "IN_TRANSIT" in err["message"]
    at = moved["shipment"]["events"][-1]["at"]
    earlier = (datetime.fromisoformat(at) - timedelta(seconds=30)).isoformat()
    err = await _refused(gql, engine, EVENT, "shipmentEventAdd",
                         {"shipmentId": sid, "kind": "IN_TRANSIT", "location": "长沙", "at": earlier}, admin)
    assert err["code"] == "EVENT_OUT_OF_ORDER" and err["field"] == ["at"]
    await _ok(gql, EVENT, "shipmentEventAdd", {"shipmentId": sid, "kind": "IN_TRANSIT", "location": "长沙"}, admin)
    # Who: the seller's side; the buyer sees the shipment but may not track it; dealer2 does not see it.
    await _forbidden(gql, engine, EVENT, {"shipmentId": sid, "kind": "OUT_FOR_DELIVERY"}, tokens[DEALER1])
    err = await _refused(gql, engine, EVENT, "shipmentEventAdd", {"shipmentId": sid, "kind": "OUT_FOR_DELIVERY"},
                         tokens[DEALER2])
    assert (err["code"], err["field"]) == ("SHIPMENT_NOT_FOUND", ["shipmentId"])
    done = await _ok(gql, EVENT, "shipmentEventAdd", {"shipmentId": sid, "kind": "DELIVERED"}, admin)
    assert done["shipment"]["order"]["status"] == "DELIVERED"
    err = await _refused(gql, engine, EVENT, "shipmentEventAdd", {"shipmentId": sid, "kind": "DELIVERED"}, admin)
    assert err["code"] == "EVENT_OUT_OF_ORDER"


async def test_what_may_not_be_received(gql: Any, tokens: dict[str, str], ship: Ship, engine: AsyncEngine) -> None:
    a, t = ship.plain[0], ship.tracked
    qa = ship.qty[a]
    order = await place_order(engine, ship, {a: 2 * qa, t: 2}, "rules-receive")
    lines = await order_lines(engine, order.id)
    oid, admin = gid("Order", order.id), tokens[ADMIN]
    s1 = {"orderId": oid, "carrier": "顺丰", "lines": [{"skuId": gid("Sku", a), "quantity": qa}]}
    await _ok(gql, CREATE, "shipmentCreate", s1, admin)

    def receipt(*lines_: dict[str, Any]) -> dict[str, Any]:
        return {"orderId": oid, "lines": list(lines_)}

    # Partly shipped: nothing to receive yet.
    err = await _refused(gql, engine, RECEIVE, "orderReceive", receipt({"skuId": gid("Sku", a), "received": qa}),
                         tokens[DEALER1])
    assert err["code"] == "NOT_RECEIVABLE" and "PARTIALLY_SHIPPED" in err["message"]
    # The rest ships: the e-bikes by serial (two units registered at HQ for this test).
    vins = ["RULES-VIN-1", "RULES-VIN-2"]
    async with engine.begin() as c:
        await inventory.adjust(c, ship.p(ADMIN), ship.wh["W-HQ-EAST"], t, 2, "test units", vins)
    bad = await _refused(gql, engine, CREATE, "shipmentCreate", {
        "orderId": oid, "carrier": "顺丰", "lines": [{"skuId": gid("Sku", t), "quantity": 2,
                                                      "serials": [vins[0], "NO-SUCH-VIN"]}]}, admin)
    assert (bad["code"], bad["field"]) == ("SERIAL_NOT_FOUND", ["lines", "0", "serials"])
    assert "NO-SUCH-VIN" in bad["message"]
    bad = await _refused(gql, engine, CREATE, "shipmentCreate", {
        "orderId": oid, "carrier": "顺丰", "lines": [{"skuId": gid("Sku", t), "quantity": 2, "serials": [vins[0]]}]},
        admin)
    assert (bad["code"], bad["field"]) == ("SERIALS_MISMATCH", ["lines", "0", "serials"])
    await _ok(gql, CREATE, "shipmentCreate", {"orderId": oid, "carrier": "顺丰", "lines": [
        {"skuId": gid("Sku", a), "quantity": qa}, {"skuId": gid("Sku", t), "quantity": 2, "serials": vins}]}, admin)

    ok_a = {"skuId": gid("Sku", a), "received": 2 * qa}
    for inp, code, field in (
        (receipt({"skuId": gid("Sku", a), "received": qa, "short": qa - 1}), "QUANTITIES_DO_NOT_ADD_UP",
         ["lines", "0"]),
        (receipt(ok_a), "LINE_MISSING", ["lines"]),
        (receipt(ok_a, {"skuId": gid("Sku", t), "received": 2}), "SERIALS_REQUIRED", ["lines", "1", "serials"]),
        (receipt(ok_a, {"skuId": gid("Sku", t), "received": 2, "serials": [vins[0], "OTHER-VIN"]}),
         "SERIALS_MISMATCH", ["lines", "1", "serials"]),
        (receipt(ok_a, {"skuId": gid("Sku", t), "received": 1, "damaged": 1, "serials": [vins[0]],
                        "damagedSerials": [vins[0]]}), "SERIALS_MISMATCH", ["lines", "1", "damagedSerials"]),
        (receipt({**ok_a, "serials": ["X"]}, {"skuId": gid("Sku", t), "received": 2, "serials": vins}),
         "SERIALS_MISMATCH", ["lines", "0", "serials"]),
        (receipt(ok_a, ok_a), "DUPLICATE_LINE", ["lines", "1"]),
        (receipt({"skuId": gid("Sku", a), "received": -1}), "QUANTITY_INVALID", ["lines", "0", "received"]),
        (receipt({"orderLineId": gid("OrderLine", lines[t].id), "skuId": gid("Sku", a), "received": 1}),
         "LINE_NOT_IN_ORDER", ["lines", "0", "skuId"]),
    ):
        err = await _refused(gql, engine, RECEIVE, "orderReceive", inp, tokens[DEALER1])
        assert (err["code"], err["field"]) == (code, field), (inp, err)
    # The seller side and onlookers see the order but do not receive it; dealer2 does not see it.
    for who in (SALES, ANALYST):
        await _forbidden(gql, engine, RECEIVE, receipt(ok_a), tokens[who])
    err = await _refused(gql, engine, RECEIVE, "orderReceive", receipt(ok_a), tokens[DEALER2])
    assert err["code"] == "ORDER_NOT_FOUND"
    # One e-bike short (its serial is known: it shipped by serial), one received.
    done = await _ok(gql, RECEIVE, "orderReceive", receipt(
        ok_a, {"skuId": gid("Sku", t), "received": 1, "short": 1, "serials": [vins[1]]}), tokens[DEALER1])
    assert done["order"]["status"] == "RECEIVED"
    assert [(c["shortQuantity"], c["damagedQuantity"], c["missingSerials"]) for c in done["claims"]] == [
        (1, 0, [vins[0]])]


async def test_a_dealer_sold_order_is_shipped_by_the_seller(ship: Ship, engine: AsyncEngine) -> None:
    """D0001 sells to its sub-dealer: D0001's staff ship it, the sub-dealer receives; neither
    the buyer ships nor the seller receives."""
    a = ship.plain[0]
    order = await place_order(engine, ship, {a: ship.qty[a]}, "rules-sub", buyer="D0001-01")
    assert order.seller_dealer_id == ship.dealers["D0001"].id
    req = service.ShipmentRequest(order.id, "自提车", (service.ShipLine(None, a, ship.qty[a]),))
    before = await snapshot(engine)
    with pytest.raises(Forbidden):
        async with engine.begin() as c:
            await service.create_shipment(c, ship.p(SUB1), req)
    with pytest.raises(DomainError) as refused:
        async with engine.begin() as c:
            await service.create_shipment(c, ship.p(DEALER2), req)
    assert refused.value.code is service.ShippingErrorCode.ORDER_NOT_FOUND
    assert await snapshot(engine) == before
    async with engine.begin() as c:
        sid = await service.create_shipment(c, ship.p(STAFF1), req)
        await service.add_event(c, ship.p(STAFF1), service.EventRequest(sid, service.EventKind.DELIVERED))
    receive = service.ReceiveRequest(order.id, (service.ReceiveLine(None, a, ship.qty[a]),))
    with pytest.raises(Forbidden):
        async with engine.begin() as c:
            await service.receive(c, ship.p(DEALER1), receive)
    async with engine.begin() as c:
        await service.receive(c, ship.p(SUB1), receive)
    async with engine.connect() as c:
        status = (await c.execute(sa.select(orders.orders.c.status).where(orders.orders.c.id == order.id))).scalar_one()
    assert status == "RECEIVED"


def test_who_ships_and_who_receives() -> None:
    """access.may_ship_order / may_receive_order, role by role (API keys need warehouses:write)."""
    from ymt_graph import access
    from ymt_graph.access import Principal, Role

    def p(role: Role, dealer: int | None = None, store: int | None = None, scopes: str = "") -> Principal:
        return Principal(tenant_id=1, role=role, dealer_id=dealer, dealer_path=f"/{dealer}/" if dealer else None,
                         store_id=store, scopes=frozenset(scopes.split()))

    hq_admin, sales, analyst = p(Role.HQ_ADMIN), p(Role.HQ_SALES), p(Role.ANALYST)
    d1_admin, d1_staff, d2_admin = p(Role.DEALER_ADMIN, 1), p(Role.DEALER_STAFF, 1), p(Role.DEALER_ADMIN, 2)
    store_staff = p(Role.STORE_STAFF, 1, store=7)
    hq_key, hq_key_ro = p(Role.INTEGRATION, scopes="warehouses:write"), p(Role.INTEGRATION, scopes="warehouses:read")
    d1_key = p(Role.INTEGRATION, 1, scopes="warehouses:write")
    # HQ sells: HQ_ADMIN and HQ's (tenant-wide) warehouse keys ship.
    assert [access.may_ship_order(x, None) for x in (hq_admin, hq_key, hq_key_ro, sales, analyst, d1_admin, d1_key)] \
        == [True, True, False, False, False, False, False]
    # D0001 sells: its admin, staff and key ship (and HQ_ADMIN); not another dealer, not HQ's key.
    assert [access.may_ship_order(x, 1) for x in (hq_admin, d1_admin, d1_staff, d1_key, d2_admin, hq_key, sales)] \
        == [True, True, True, True, False, False, False]
    # A dealer buys: its own people receive (and HQ_ADMIN); a store buys: its staff.
    assert [access.may_receive_order(x, 1, None) for x in (hq_admin, d1_admin, d1_staff, d1_key, d2_admin, sales,
                                                           analyst, hq_key)] \
        == [True, True, True, True, False, False, False, False]
    assert [access.may_receive_order(x, None, 7) for x in (store_staff, d1_admin, hq_admin)] == [True, False, True]


def test_inventory_refusals_become_shipping_ones_at_the_same_field() -> None:
    from ymt_graph.inventory.service import InventoryErrorCode as Inv

    code = service.ShippingErrorCode

    def mapped(inv: Inv, field: list[str], named: list[bool]) -> tuple[Any, list[str] | None]:
        out = service._from_inventory(DomainError(inv, "…", field), named, code.NOT_SHIPPABLE)
        return out.code, out.field

    serials = ["lines", "1", "serials"]
    # "Name the serials of the units that move" on a line that named none: they are required.
    assert mapped(Inv.SERIAL_COUNT_MISMATCH, serials, [True, False]) == (code.SERIALS_REQUIRED, serials)
    assert mapped(Inv.SERIAL_COUNT_MISMATCH, serials, [False, True]) == (code.SERIALS_MISMATCH, serials)
    assert mapped(Inv.SERIAL_NOT_FOUND, serials, [True, True]) == (code.SERIAL_NOT_FOUND, serials)
    assert mapped(Inv.SERIAL_DUPLICATE, serials, [True, True]) == (code.SERIAL_INVALID, serials)
    assert mapped(Inv.INSUFFICIENT_STOCK, ["lines", "0", "quantity"], [False]) == (
        code.INSUFFICIENT_STOCK, ["lines", "0", "quantity"])
    assert mapped(Inv.SAME_WAREHOUSE, ["toWarehouseId"], []) == (code.NOT_SHIPPABLE, ["toWarehouseId"])
