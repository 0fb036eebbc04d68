"""The five steps over GraphQL: browse, cart, review, submit, track; approve, reject, cancel; scoping."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from order_helpers import ADMIN, DEALER1, DEALER2, SALES, STAFF1, SUB1, Shop, level, snapshot
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.graph.ids import encode_gid

CART_FIELDS = """
  lines { sku { id code } quantity unitPrice { amount currency } lineTotal { amount } priceWhy
          problems { code message } }
  subtotal { amount currency } rebateProposal { amount } total { amount } hasProblems
"""
ADD = f"""mutation($i: CartLinesAddInput!) {{ cartLinesAdd(input: $i) {{
  cart {{ {CART_FIELDS} }} userErrors {{ code field message }} }} }}"""
UPDATE = f"""mutation($i: CartLinesUpdateInput!) {{ cartLinesUpdate(input: $i) {{
  cart {{ {CART_FIELDS} }} userErrors {{ code field message }} }} }}"""
REMOVE = f"""mutation($i: CartLinesRemoveInput!) {{ cartLinesRemove(input: $i) {{
  cart {{ {CART_FIELDS} }} userErrors {{ code field message }} }} }}"""
CART = f"query($b: ID!) {{ cart(buyerId: $b) {{ {CART_FIELDS} }} }}"
ORDER_FIELDS = """
  id number status sellerIsHq total { amount currency } subtotal { amount } note
  buyer { code } seller { code } sellerWarehouse { code } submittedBy { email }
  lines { sku { id } quantity unitPrice { amount } lineTotal { amount } }
  timeline { kind status at bySystem actor { email } details }
"""
SUBMIT = f"""mutation($i: OrderSubmitInput!) {{ orderSubmit(input: $i) {{
  order {{ {ORDER_FIELDS} }} userErrors {{ code field message }} }} }}"""
DECIDE = {
    name: f"""mutation($i: OrderDecisionInput!) {{ {name}(input: $i) {{
  order {{ {ORDER_FIELDS} }} userErrors {{ code field message }} }} }}"""
    for name in ("orderApprove", "orderReject", "orderCancel")
}
ORDER = f"query($id: ID, $n: String) {{ order(id: $id, number: $n) {{ {ORDER_FIELDS} }} }}"
ORDERS = """query($f: OrderFilter, $first: Int, $after: String) { orders(filter: $f, first: $first, after: $after) {
  totalCount edges { node { id number status buyer { code } } } pageInfo { hasNextPage endCursor } } }"""


async def _set_credit(engine: AsyncEngine, code: str, amount: str) -> None:
    async with engine.begin() as c:
        await c.execute(sa.text("UPDATE dealers SET credit_limit = :a WHERE code = :c"),
                        {"a": Decimal(amount), "c": code})


async def _fill(gql: Any, token: str, shop: Shop, buyer: str, skus: list[int]) -> dict[str, Any]:
    lines = [{"skuId": shop.sgid(s), "quantity": shop.qty[s]} for s in skus]
    body = await gql(ADD, {"i": {"buyerId": shop.dgid(buyer), "lines": lines}}, token=token)
    payload = body["data"]["cartLinesAdd"]
    assert payload["userErrors"] == [], payload
    return payload["cart"]


async def _submit(gql: Any, token: str, shop: Shop, buyer: str, key: str, note: str | None = None) -> dict[str, Any]:
    body = await gql(SUBMIT, {"i": {"buyerId": shop.dgid(buyer), "idempotencyKey": key, "note": note}}, token=token)
    return body["data"]["orderSubmit"]


async def _decide(gql: Any, token: str, name: str, order_id: str, reason: str | None = None) -> dict[str, Any]:
    body = await gql(DECIDE[name], {"i": {"orderId": order_id, "reason": reason}}, token=token)
    return body["data"][name]


async def test_dealer_browses_fills_reviews_submits_within_credit(
    gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine
) -> None:
    t = tokens[DEALER1]
    # (1) browse: the priced, stocked catalog for D0001.
    browse = await gql(
        """query($d: ID!, $w: ID!) { skus(filter: {orderableBy: $d}, first: 250) { edges { node {
             id code moq orderMultiple price(dealerId: $d) { amount { amount } } available(warehouseId: $w) } } } }""",
        {"d": shop.dgid("D0001"), "w": encode_gid("Warehouse", shop.wh["W-HQ-EAST"])}, token=t,
    )
    seen = {e["node"]["id"]: e["node"] for e in browse["data"]["skus"]["edges"]}
    a, b = shop.skus[0], shop.skus[1]
    assert seen[shop.sgid(a)]["price"] is not None and seen[shop.sgid(a)]["available"] >= shop.qty[a]
    # (2) cart: server-side, the same for dealer1 and its staff (another device, another person).
    cart = await _fill(gql, t, shop, "D0001", [a, b])
    assert [ln["quantity"] for ln in cart["lines"]] == [shop.qty[a], shop.qty[b]]
    again = await _fill(gql, tokens[STAFF1], shop, "D0001", [a])
    assert again["lines"][0]["quantity"] == 2 * shop.qty[a]
    body = await gql(UPDATE, {"i": {"buyerId": shop.dgid("D0001"),
                                    "lines": [{"skuId": shop.sgid(a), "quantity": shop.qty[a]}]}}, token=t)
    assert body["data"]["cartLinesUpdate"]["userErrors"] == []
    # (3) review: prices from the server, totals add up, no problems, rebate still to come.
    cart = (await gql(CART, {"b": shop.dgid("D0001")}, token=t))["data"]["cart"]
    assert cart["rebateProposal"] is None and cart["hasProblems"] is False
    totals = [Decimal(ln["lineTotal"]["amount"]) for ln in cart["lines"]]
    for ln in cart["lines"]:
        assert Decimal(ln["lineTotal"]["amount"]) == Decimal(ln["unitPrice"]["amount"]) * ln["quantity"]
        assert ln["priceWhy"] and ln["problems"] == []
    assert Decimal(cart["subtotal"]["amount"]) == sum(totals) == Decimal(cart["total"]["amount"])
    # Too many units: the review says so before submit.
    before = await level(engine, shop.wh["W-HQ-EAST"], a)
    body = await gql(UPDATE, {"i": {"buyerId": shop.dgid("D0001"),
                                    "lines": [{"skuId": shop.sgid(a), "quantity": 999_990}]}}, token=t)
    problems = body["data"]["cartLinesUpdate"]["cart"]["lines"][0]["problems"]
    assert "NOT_ENOUGH_STOCK" in [pr["code"] for pr in problems]
    await gql(UPDATE, {"i": {"buyerId": shop.dgid("D0001"),
                             "lines": [{"skuId": shop.sgid(a), "quantity": shop.qty[a]}]}}, token=t)
    # (4) submit: APPROVED within the credit limit, stock reserved at HQ's east warehouse.
    payload = await _submit(gql, t, shop, "D0001", "flow-1", "请尽快发货")
    assert payload["userErrors"] == []
    order = payload["order"]
    assert re.fullmatch(r"SO\d{8}-\d{6}", order["number"])
    assert order["status"] == "APPROVED" and order["sellerIsHq"] and order["seller"] is None
    assert order["sellerWarehouse"]["code"] == "W-HQ-EAST" and order["buyer"]["code"] == "D0001"
    assert order["submittedBy"]["email"] == DEALER1 and order["note"] == "请尽快发货"
    assert Decimal(order["total"]["amount"]) == sum(totals)
    assert [(ln["sku"]["id"], ln["quantity"]) for ln in order["lines"]] == [
        (shop.sgid(a), shop.qty[a]), (shop.sgid(b), shop.qty[b])]
    assert [(e["kind"], e["bySystem"]) for e in order["timeline"]] == [("SUBMITTED", False), ("APPROVED", True)]
    assert order["timeline"][0]["actor"]["email"] == DEALER1
    after = await level(engine, shop.wh["W-HQ-EAST"], a)
    assert after == (before[0], before[1] + shop.qty[a])
    # The cart is empty now; the events are in the outbox for both sides.
    cart = (await gql(CART, {"b": shop.dgid("D0001")}, token=t))["data"]["cart"]
    assert cart["lines"] == [] and cart["total"]["amount"] == "0"
    async with engine.connect() as c:
        events = (await c.execute(sa.text(
            "SELECT event_type, topics FROM outbox_events WHERE subject_type = 'Order' AND subject_id = :o ORDER BY id"
        ), {"o": int(order["id"] and (await _pk(engine, order["number"])))})).all()
    assert [e.event_type for e in events] == ["order.submitted", "order.approved"]
    assert f"buyer:dealer:{shop.dealers['D0001']}" in events[0].topics and "hq" in events[0].topics
    # The same key again: the same order, nothing new (the cart is empty, yet no CART_EMPTY).
    snap = await snapshot(engine)
    replay = await _submit(gql, t, shop, "D0001", "flow-1")
    assert replay["userErrors"] == [] and replay["order"]["id"] == order["id"]
    assert await snapshot(engine) == snap
    # (5) track: by number and in the list.
    by_number = (await gql(ORDER, {"n": order["number"]}, token=t))["data"]["order"]
    assert by_number["id"] == order["id"]
    listed = (await gql(ORDERS, {"f": {"buyerId": shop.dgid("D0001"), "search": order["number"][-6:]}}, token=t))
    assert [e["node"]["id"] for e in listed["data"]["orders"]["edges"]] == [order["id"]]


async def _pk(engine: AsyncEngine, number: str) -> int:
    async with engine.connect() as c:
        return int((await c.execute(sa.text("SELECT id FROM orders WHERE number = :n"), {"n": number})).scalar_one())


async def test_over_credit_waits_for_approval(
    gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine
) -> None:
    await _set_credit(engine, "D0001", "1")
    try:
        await _fill(gql, tokens[DEALER1], shop, "D0001", [shop.skus[2]])
        order = (await _submit(gql, tokens[DEALER1], shop, "D0001", "credit-1"))["order"]
    finally:
        await _set_credit(engine, "D0001", "5000000")
    assert order["status"] == "PENDING_APPROVAL"
    assert order["timeline"][-1]["details"]["creditLimit"] == "1.00"
    # The buyer cannot approve its own order; another dealer does not see it.
    body = await gql(DECIDE["orderApprove"], {"i": {"orderId": order["id"]}}, token=tokens[DEALER1], expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = await _decide(gql, tokens[DEALER2], "orderApprove", order["id"])
    assert other["order"] is None and other["userErrors"][0]["code"] == "ORDER_NOT_FOUND"
    # HQ sales of the buyer's area approves.
    done = await _decide(gql, tokens[SALES], "orderApprove", order["id"], "known customer")
    assert done["userErrors"] == [] and done["order"]["status"] == "APPROVED"
    last = done["order"]["timeline"][-1]
    assert last["kind"] == "APPROVED" and last["actor"]["email"] == SALES
    assert last["details"]["reason"] == "known customer"
    snap = await snapshot(engine)
    again = await _decide(gql, tokens[ADMIN], "orderApprove", order["id"])
    assert again["userErrors"][0]["code"] == "INVALID_TRANSITION"
    assert await snapshot(engine) == snap


async def test_reject_releases_stock(gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine) -> None:
    sku, wh = shop.skus[3], shop.wh["W-HQ-EAST"]
    start = await level(engine, wh, sku)
    await _set_credit(engine, "D0001", "1")
    try:
        await _fill(gql, tokens[DEALER1], shop, "D0001", [sku])
        order = (await _submit(gql, tokens[DEALER1], shop, "D0001", "reject-1"))["order"]
    finally:
        await _set_credit(engine, "D0001", "5000000")
    assert order["status"] == "PENDING_APPROVAL"
    assert await level(engine, wh, sku) == (start[0], start[1] + shop.qty[sku])
    done = await _decide(gql, tokens[ADMIN], "orderReject", order["id"], "over credit")
    assert done["order"]["status"] == "REJECTED"
    assert await level(engine, wh, sku) == start
    # A rejected order cannot be cancelled or approved.
    for name, token in (("orderCancel", tokens[DEALER1]), ("orderApprove", tokens[ADMIN])):
        assert (await _decide(gql, token, name, order["id"]))["userErrors"][0]["code"] == "INVALID_TRANSITION"


async def test_buyer_cancels_and_stock_comes_back(
    gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine
) -> None:
    sku, wh = shop.skus[0], shop.wh["W-HQ-EAST"]
    start = await level(engine, wh, sku)
    await _fill(gql, tokens[DEALER1], shop, "D0001", [sku])
    order = (await _submit(gql, tokens[DEALER1], shop, "D0001", "cancel-1"))["order"]
    assert order["status"] == "APPROVED"
    # HQ sales may decide, not cancel: cancelling is the buyer's.
    body = await gql(DECIDE["orderCancel"], {"i": {"orderId": order["id"]}}, token=tokens[SALES], expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    done = await _decide(gql, tokens[STAFF1], "orderCancel", order["id"], "ordered twice")
    assert done["order"]["status"] == "CANCELLED"
    assert [e["kind"] for e in done["order"]["timeline"]] == ["SUBMITTED", "APPROVED", "CANCELLED"]
    assert await level(engine, wh, sku) == start
    assert (await _decide(gql, tokens[DEALER1], "orderCancel", order["id"]))["userErrors"][0]["code"] == \
        "INVALID_TRANSITION"


async def test_sub_dealer_orders_from_its_distributor(
    gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine
) -> None:
    sku, wh = shop.skus[1], shop.wh["W-D0001"]
    start = await level(engine, wh, sku)
    await _set_credit(engine, "D0001-01", "1")
    try:
        await _fill(gql, tokens[SUB1], shop, "D0001-01", [sku])
        order = (await _submit(gql, tokens[SUB1], shop, "D0001-01", "sub-1"))["order"]
    finally:
        await _set_credit(engine, "D0001-01", "1200000")
    assert order["status"] == "PENDING_APPROVAL" and order["sellerIsHq"] is False
    # The buyer sees who sells, not the supplier's warehouse (a supplier's stock is not its business).
    assert order["seller"]["code"] == "D0001" and order["sellerWarehouse"] is None
    as_seller = (await gql(ORDER, {"id": order["id"]}, token=tokens[DEALER1]))["data"]["order"]
    assert as_seller["sellerWarehouse"]["code"] == "W-D0001" and as_seller["buyer"]["code"] == "D0001-01"
    assert await level(engine, wh, sku) == (start[0], start[1] + shop.qty[sku])
    # The seller sees it on its side and approves it; the buyer may not; dealer2 sees nothing.
    sold = (await gql(ORDERS, {"f": {"sellerId": shop.dgid("D0001")}}, token=tokens[DEALER1]))["data"]["orders"]
    assert order["id"] in [e["node"]["id"] for e in sold["edges"]]
    body = await gql(DECIDE["orderApprove"], {"i": {"orderId": order["id"]}}, token=tokens[SUB1], expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql(ORDER, {"id": order["id"]}, token=tokens[DEALER2]))["data"]["order"] is None
    node = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": order["id"]}, token=tokens[DEALER2])
    assert node["data"]["node"] is None
    done = await _decide(gql, tokens[DEALER1], "orderApprove", order["id"])
    assert done["order"]["status"] == "APPROVED"
    assert done["order"]["timeline"][-1]["actor"]["email"] == DEALER1


async def test_orders_are_scoped(gql: Any, tokens: dict[str, str], shop: Shop) -> None:
    mine = (await gql(ORDERS, {"first": 250}, token=tokens[DEALER1]))["data"]["orders"]
    assert mine["totalCount"] >= 4
    assert {e["node"]["buyer"]["code"] for e in mine["edges"]} <= {"D0001", "D0001-01"}
    sub = (await gql(ORDERS, {"first": 250}, token=tokens[SUB1]))["data"]["orders"]
    assert {e["node"]["buyer"]["code"] for e in sub["edges"]} == {"D0001-01"}
    assert (await gql(ORDERS, {}, token=tokens[DEALER2]))["data"]["orders"]["totalCount"] == 0
    assert (await gql(ORDERS, {}, token=tokens[ADMIN]))["data"]["orders"]["totalCount"] == mine["totalCount"]
    # Pages: newest first, no gaps or repeats.
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(ORDERS, {"first": 2, "after": after}, token=tokens[ADMIN]))["data"]["orders"]
        seen += [e["node"]["number"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == mine["totalCount"]
    # Someone else's cart is absent.
    assert (await gql(CART, {"b": shop.dgid("D0001")}, token=tokens[DEALER2]))["data"]["cart"] is None
    assert (await gql(CART, {"b": shop.dgid("D0001")}, token=tokens[SUB1]))["data"]["cart"] is None


async def test_bad_inputs_change_nothing(gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine) -> None:
    t, a = tokens[DEALER1], shop.skus[0]
    snap = await snapshot(engine)
    d1 = shop.dgid("D0001")
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (ADD, {"buyerId": d1, "lines": [{"skuId": encode_gid("Sku", 999_999), "quantity": 1}]}, "SKU_NOT_FOUND",
         "cartLinesAdd"),
        (ADD, {"buyerId": d1, "lines": [{"skuId": "garbage", "quantity": 1}]}, "SKU_NOT_FOUND", "cartLinesAdd"),
        (ADD, {"buyerId": d1, "lines": [{"skuId": shop.sgid(a), "quantity": 0}]}, "QUANTITY_INVALID", "cartLinesAdd"),
        (ADD, {"buyerId": d1, "lines": [{"skuId": shop.sgid(a), "quantity": -3}]}, "QUANTITY_INVALID", "cartLinesAdd"),
        (ADD, {"buyerId": d1, "lines": []}, "QUANTITY_INVALID", "cartLinesAdd"),
        (ADD, {"buyerId": d1, "lines": [{"skuId": shop.sgid(a), "quantity": 1}] * 2}, "DUPLICATE_SKU",
         "cartLinesAdd"),
        (ADD, {"buyerId": shop.dgid("D0002"), "lines": [{"skuId": shop.sgid(a), "quantity": 1}]}, "BUYER_NOT_FOUND",
         "cartLinesAdd"),
        (UPDATE, {"buyerId": d1, "lines": [{"skuId": shop.sgid(a), "quantity": -1}]}, "QUANTITY_INVALID",
         "cartLinesUpdate"),
        (UPDATE, {"buyerId": d1, "lines": [{"skuId": shop.sgid(a), "quantity": 5}]}, "LINE_NOT_IN_CART",
         "cartLinesUpdate"),
        (REMOVE, {"buyerId": d1, "skuIds": [shop.sgid(a)]}, "LINE_NOT_IN_CART", "cartLinesRemove"),
        (SUBMIT, {"buyerId": d1, "idempotencyKey": "empty-1"}, "CART_EMPTY", "orderSubmit"),
        (SUBMIT, {"buyerId": d1, "idempotencyKey": " "}, "IDEMPOTENCY_KEY_INVALID", "orderSubmit"),
        (SUBMIT, {"buyerId": shop.dgid("D0002"), "idempotencyKey": "x"}, "BUYER_NOT_FOUND", "orderSubmit"),
    ]
    for query, variables, code, field in cases:
        body = await gql(query, {"i": variables}, token=t)
        errors = body["data"][field]["userErrors"]
        assert [e["code"] for e in errors] == [code], (variables, errors)
    assert await snapshot(engine) == snap
    # Someone else's order: not found, nothing changes.
    async with engine.connect() as c:
        foreign = (await c.execute(sa.text("SELECT id FROM orders ORDER BY id LIMIT 1"))).scalar_one()
    for name in ("orderCancel", "orderApprove", "orderReject"):
        out = await _decide(gql, tokens[DEALER2], name, encode_gid("Order", foreign))
        assert out["userErrors"][0]["code"] == "ORDER_NOT_FOUND"
    assert await snapshot(engine) == snap


async def test_problem_cart_is_refused_whole(gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine) -> None:
    t, a, b = tokens[DEALER1], shop.skus[0], shop.skus[1]
    await _fill(gql, t, shop, "D0001", [a, b])
    await gql(UPDATE, {"i": {"buyerId": shop.dgid("D0001"), "lines": [{"skuId": shop.sgid(b), "quantity": 999_990}]}},
              token=t)
    snap = await snapshot(engine)
    out = await _submit(gql, t, shop, "D0001", "short-1")
    assert out["order"] is None and out["userErrors"][0]["code"] == "INSUFFICIENT_STOCK"
    assert shop.codes[b] in out["userErrors"][0]["message"]
    assert await snapshot(engine) == snap
    body = await gql(REMOVE, {"i": {"buyerId": shop.dgid("D0001"), "skuIds": [shop.sgid(a), shop.sgid(b)]}}, token=t)
    assert body["data"]["cartLinesRemove"]["cart"]["lines"] == []


async def test_same_key_twice_at_once_makes_one_order(
    app: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine, gql: Any
) -> None:
    await _fill(gql, tokens[DEALER1], shop, "D0001", [shop.skus[2]])
    variables = {"i": {"buyerId": shop.dgid("D0001"), "idempotencyKey": "race-key"}}

    async def one() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.post("/graphql", json={"query": SUBMIT, "variables": variables},
                             headers={"Authorization": f"Bearer {tokens[DEALER1]}"})
            return dict(r.json())

    results = await asyncio.gather(one(), one())
    assert all("errors" not in r for r in results), results
    ids = {r["data"]["orderSubmit"]["order"]["id"] for r in results}
    assert len(ids) == 1
    async with engine.connect() as c:
        n = (await c.execute(sa.text("SELECT count(*) FROM orders WHERE idempotency_key = 'race-key'"))).scalar_one()
    assert n == 1


async def test_a_key_sent_again_for_another_request_is_refused(
    gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine
) -> None:
    """An idempotency key answers retries only: the same note (or none), and nothing added to the
    cart since. Anything else would tell the client that lines it added were ordered."""
    t = tokens[DEALER1]
    await _fill(gql, t, shop, "D0001", [shop.skus[1]])
    first = await _submit(gql, t, shop, "D0001", "reuse-1", note="rush")
    assert first["userErrors"] == [] and first["order"]["number"]
    number = first["order"]["number"]
    # A retry: the same order, nothing written.
    snap = await snapshot(engine)
    again = await _submit(gql, t, shop, "D0001", "reuse-1", note="rush")
    assert again["userErrors"] == [] and again["order"]["id"] == first["order"]["id"]
    assert (await _submit(gql, t, shop, "D0001", "reuse-1"))["order"]["id"] == first["order"]["id"]
    assert await snapshot(engine) == snap
    # Another note with the same key: refused, nothing written.
    other = await _submit(gql, t, shop, "D0001", "reuse-1", note="not rush")
    assert other["order"] is None
    assert [(e["code"], e["field"]) for e in other["userErrors"]] == [("IDEMPOTENCY_KEY_REUSED", ["idempotencyKey"])]
    assert number in other["userErrors"][0]["message"]
    assert await snapshot(engine) == snap
    # New lines in the cart and the old key: refused, and the cart keeps them.
    await _fill(gql, t, shop, "D0001", [shop.skus[2]])
    snap = await snapshot(engine)
    stale = await _submit(gql, t, shop, "D0001", "reuse-1", note="rush")
    assert stale["order"] is None
    (refusal,) = stale["userErrors"]
    assert refusal["code"] == "IDEMPOTENCY_KEY_REUSED" and "1 line(s)" in refusal["message"]
    assert await snapshot(engine) == snap
    # A new key orders them.
    fresh = await _submit(gql, t, shop, "D0001", "reuse-2", note="rush")
    assert fresh["userErrors"] == [] and fresh["order"]["id"] != first["order"]["id"]


async def test_review_names_every_problem_and_submit_refuses_them(
    gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine
) -> None:
    t = tokens[DEALER1]
    async with engine.begin() as c:
        rows = (await c.execute(sa.text(
            "SELECT id, moq, order_multiple FROM skus WHERE status = 'ACTIVE' AND NOT serial_tracked ORDER BY code"
        ))).all()
    big_moq = next(r for r in rows if r.moq > 1 and r.moq % r.order_multiple == 0 and r.id not in shop.skus)
    multiple = next(r for r in rows if r.order_multiple > 1 and r.id not in shop.skus and r.id != big_moq.id)
    discontinued = shop.skus[3]
    lines = [
        {"skuId": shop.sgid(big_moq.id), "quantity": big_moq.order_multiple if big_moq.order_multiple < big_moq.moq
         else 1},
        {"skuId": shop.sgid(multiple.id), "quantity": multiple.moq * multiple.order_multiple + 1},
        {"skuId": shop.sgid(discontinued), "quantity": shop.qty[discontinued]},
    ]
    async with engine.begin() as c:
        await c.execute(sa.text("UPDATE skus SET status = 'DISCONTINUED' WHERE id = :s"), {"s": discontinued})
    try:
        body = await gql(ADD, {"i": {"buyerId": shop.dgid("D0001"), "lines": lines}}, token=t)
        cart = body["data"]["cartLinesAdd"]["cart"]
        codes = [{pr["code"] for pr in ln["problems"]} for ln in cart["lines"]]
        assert "BELOW_MOQ" in codes[0]
        assert "NOT_A_MULTIPLE" in codes[1]
        assert "DISCONTINUED" in codes[2] and "NO_PRICE" not in codes[2]
        assert cart["hasProblems"] is True
        snap = await snapshot(engine)
        out = await _submit(gql, t, shop, "D0001", "problems-1")
        assert out["order"] is None and out["userErrors"][0]["code"] == "CART_HAS_PROBLEMS"
        assert out["userErrors"][0]["field"] == ["lines", "0"]
        assert await snapshot(engine) == snap
    finally:
        async with engine.begin() as c:
            await c.execute(sa.text("UPDATE skus SET status = 'ACTIVE' WHERE id = :s"), {"s": discontinued})
            await c.execute(sa.text("DELETE FROM cart_lines"))


async def test_not_in_assortment_and_no_price(
    gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine
) -> None:
    """A tier-B sub-dealer and the premium range (granted to tier A only); a new SKU no list prices yet."""
    async with engine.begin() as c:
        premium = (await c.execute(sa.text(
            "SELECT s.id FROM skus s JOIN assortment_rules r ON r.category_id = s.category_id "
            "WHERE r.dealer_tier = 'A' AND s.status = 'ACTIVE' ORDER BY s.code LIMIT 1"))).scalar_one()
        unpriced = (await c.execute(sa.text(
            "INSERT INTO skus (tenant_id, code, name, model_id, category_id, unit, moq, order_multiple, "
            "serial_tracked, status, attributes) SELECT tenant_id, 'ZZ-NEW', 'new', model_id, category_id, unit, "
            "1, 1, false, 'ACTIVE', attributes FROM skus WHERE id = :s RETURNING id"), {"s": shop.skus[0]}
        )).scalar_one()
    lines = [{"skuId": shop.sgid(premium), "quantity": 10}, {"skuId": shop.sgid(unpriced), "quantity": 1}]
    body = await gql(ADD, {"i": {"buyerId": shop.dgid("D0001-01"), "lines": lines}}, token=tokens[SUB1])
    got = [{pr["code"] for pr in ln["problems"]} for ln in body["data"]["cartLinesAdd"]["cart"]["lines"]]
    assert "NOT_IN_ASSORTMENT" in got[0]
    assert "NO_PRICE" in got[1] and "NOT_IN_ASSORTMENT" not in got[1]
    assert body["data"]["cartLinesAdd"]["cart"]["lines"][1]["unitPrice"] is None
    out = await _submit(gql, tokens[SUB1], shop, "D0001-01", "assortment-1")
    assert out["userErrors"][0]["code"] == "CART_HAS_PROBLEMS"
    await gql(REMOVE, {"i": {"buyerId": shop.dgid("D0001-01"), "skuIds": [shop.sgid(premium), shop.sgid(unpriced)]}},
              token=tokens[SUB1])


async def test_order_lists_cost_constant_statements(gql: Any, tokens: dict[str, str], engine: AsyncEngine) -> None:
    from ymt_graph.db import count_statements

    q = """query($first: Int) { orders(first: $first) { edges { node { id buyer { code } seller { code }
      lines { quantity sku { code } } timeline { kind actor { email } } } } } }"""
    counts = []
    for first in (1, 50):
        with count_statements(engine) as c:
            await gql(q, {"first": first}, token=tokens[ADMIN])
        counts.append(c.count)
    assert counts[0] == counts[1], counts
