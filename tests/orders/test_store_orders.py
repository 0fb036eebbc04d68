"""A store orders from its dealer: its dealer's downstream prices, the dealer's stock, no credit
check, the store's own warehouse as destination; who sees and who may act."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from order_helpers import DEALER1, DEALER2, SUB1, Shop, good_quantity, level, snapshot
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.access import Principal, Role
from ymt_graph.catalog import service as catalog_service
from ymt_graph.graph.ids import encode_gid
from ymt_graph.orders import service
from ymt_graph.pricing import service as pricing_service

STORE1 = "store1@demo.example"
LINES = """lines { sku { id } quantity unitPrice { amount } priceWhy problems { code } } hasProblems
           total { amount }"""
ADD = f"""mutation($i: CartLinesAddInput!) {{ cartLinesAdd(input: $i) {{
  cart {{ {LINES} buyer {{ code }} buyerStore {{ code }} }} userErrors {{ code field message }} }} }}"""
REMOVE = f"""mutation($i: CartLinesRemoveInput!) {{ cartLinesRemove(input: $i) {{
  cart {{ {LINES} }} userErrors {{ code }} }} }}"""
ORDER_FIELDS = """id number status sellerIsHq buyer { code } buyerStore { code } seller { code }
  sellerWarehouse { code } buyerWarehouse { code } total { amount } timeline { kind status details }"""
SUBMIT = f"""mutation($i: OrderSubmitInput!) {{ orderSubmit(input: $i) {{
  order {{ {ORDER_FIELDS} }} userErrors {{ code field message }} }} }}"""
CANCEL = """mutation($i: OrderDecisionInput!) { orderCancel(input: $i) {
  order { status } userErrors { code } } }"""
ORDER = f"query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"
ORDERS = """query($f: OrderFilter) { orders(filter: $f, first: 50) { edges { node { id buyerStore { code } } } } }"""


async def _store(engine: AsyncEngine) -> tuple[int, int]:
    """(S00001's pk, its STORE warehouse's pk)."""
    async with engine.connect() as c:
        row = (await c.execute(sa.text(
            "SELECT s.id, w.id AS wid FROM stores s JOIN warehouses w ON w.store_id = s.id AND w.owner_kind = 'STORE' "
            "WHERE s.code = 'S00001'"))).one()
    return row.id, row.wid


async def _store_skus(engine: AsyncEngine, shop: Shop, store_id: int) -> tuple[list[int], int]:
    """Two SKUs the store's dealer prices for its buyers and has in stock at W-D0001 (e-bikes and
    scooters: what D0001's downstream list covers), and one SKU D0001 may order but has not
    priced downstream."""
    p = shop.admin()
    async with engine.begin() as c:
        dealer = (await c.execute(service._dealer_select().where(service.dealers.c.code == "D0001"))).one()
        skus = catalog_service.skus
        rows = (await c.execute(
            sa.select(skus).where(catalog_service.orderable_clause(dealer)).order_by(skus.c.code)
        )).all()
        priced, unpriced = [], []
        for r in rows:
            q = good_quantity(r.moq, r.order_multiple)
            found = await pricing_service.resolve_store_prices(c, p, store_id, [r.id], q)
            if r.id not in found:
                unpriced.append(r.id)
            elif (await level(engine, shop.wh["W-D0001"], r.id))[0] >= 10 * q:
                priced.append(r.id)
    assert len(priced) >= 2 and unpriced, "D0001 must price some SKUs downstream and not others"
    return priced[:2], unpriced[0]


def _qty(shop: Shop, engine: AsyncEngine) -> Any:
    async def qty(sku: int) -> int:
        async with engine.connect() as c:
            r = (await c.execute(sa.text("SELECT moq, order_multiple FROM skus WHERE id = :s"), {"s": sku})).one()
        return good_quantity(r.moq, r.order_multiple)
    return qty


async def test_store_orders_from_its_dealer(gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine) -> None:
    store_id, store_wh = await _store(engine)
    (a, b), unpriced = await _store_skus(engine, shop, store_id)
    qty = _qty(shop, engine)
    sgid = encode_gid("Store", store_id)
    t = tokens[STORE1]
    # Browse: the store sees its dealer's prices for it (none where the dealer has set none).
    browse = await gql(
        """query($d: ID!, $s: ID!) { skus(filter: {orderableBy: $d}, first: 250) { edges { node {
             id storePrice(storeId: $s) { amount { amount } list { code } } } } } }""",
        {"d": shop.dgid("D0001"), "s": sgid}, token=t,
    )
    shown = {e["node"]["id"]: e["node"]["storePrice"] for e in browse["data"]["skus"]["edges"]}
    assert shown[shop.sgid(a)]["list"] == {"code": "XF-D0001"} and shown[shop.sgid(unpriced)] is None
    hidden = await gql("query($id: ID!, $s: ID!) { node(id: $id) { ... on Sku { storePrice(storeId: $s) { why } } } }",
                       {"id": shop.sgid(a), "s": sgid}, token=tokens[DEALER2])
    assert hidden["data"]["node"]["storePrice"] is None
    lines = [{"skuId": shop.sgid(s), "quantity": await qty(s)} for s in (a, b, unpriced)]
    body = await gql(ADD, {"i": {"buyerId": sgid, "lines": lines}}, token=t)
    payload = body["data"]["cartLinesAdd"]
    assert payload["userErrors"] == [], payload
    cart = payload["cart"]
    assert cart["buyer"] is None and cart["buyerStore"] == {"code": "S00001"}
    first, _, third = cart["lines"]
    # The dealer's downstream list prices the store; a SKU it has not priced has no price.
    assert "downstream list XF-D0001 of D0001" in first["priceWhy"] and first["problems"] == []
    assert [pr["code"] for pr in third["problems"]] == ["NO_PRICE"] and third["unitPrice"] is None
    async with engine.connect() as c:
        xf = Decimal((await c.execute(sa.text(
            "SELECT l.amount FROM price_list_lines l JOIN price_lists pl ON pl.id = l.price_list_id "
            "WHERE pl.code = 'XF-D0001' AND l.sku_id = :s AND l.min_quantity = 1"), {"s": a})).scalar_one())
    assert Decimal(first["unitPrice"]["amount"]) == xf
    # A problem line blocks the submit; removed, the order goes through.
    refused = (await gql(SUBMIT, {"i": {"buyerId": sgid, "idempotencyKey": "store-1"}}, token=t))["data"]
    assert refused["orderSubmit"]["userErrors"][0]["code"] == "CART_HAS_PROBLEMS"
    await gql(REMOVE, {"i": {"buyerId": sgid, "skuIds": [shop.sgid(unpriced)]}}, token=t)
    before = await level(engine, shop.wh["W-D0001"], a)
    done = (await gql(SUBMIT, {"i": {"buyerId": sgid, "idempotencyKey": "store-1"}}, token=t))["data"]
    assert done["orderSubmit"]["userErrors"] == []
    order = done["orderSubmit"]["order"]
    # No credit check for a store: approved at once; its dealer sells from its own warehouse.
    assert order["status"] == "APPROVED" and not order["sellerIsHq"]
    assert order["buyer"] is None and order["buyerStore"] == {"code": "S00001"}
    # The dealer's warehouse is the dealer's business: the store does not see it, the dealer does.
    assert order["seller"] == {"code": "D0001"} and order["sellerWarehouse"] is None
    as_dealer = (await gql(ORDER, {"id": order["id"]}, token=tokens[DEALER1]))["data"]["order"]
    assert as_dealer["sellerWarehouse"] == {"code": "W-D0001"}
    async with engine.connect() as c:
        wh_code = (await c.execute(sa.text("SELECT code FROM warehouses WHERE id = :w"), {"w": store_wh})).scalar()
    assert order["buyerWarehouse"] == {"code": wh_code}
    assert [e["kind"] for e in order["timeline"]] == ["SUBMITTED", "APPROVED"]
    assert "creditLimit" not in order["timeline"][1]["details"]
    assert await level(engine, shop.wh["W-D0001"], a) == (before[0], before[1] + await qty(a))
    async with engine.connect() as c:
        topics = (await c.execute(sa.text(
            "SELECT topics FROM outbox_events WHERE subject_type = 'Order' ORDER BY id DESC LIMIT 1"))).scalar()
    assert f"buyer:store:{store_id}" in topics and f"seller:dealer:{shop.dealers['D0001']}" in topics

    # Who sees it: the store, its dealer; not another dealer, not a sibling sub-dealer.
    for who, sees in ((STORE1, True), (DEALER1, True), (DEALER2, False), (SUB1, False)):
        got = (await gql(ORDER, {"id": order["id"]}, token=tokens[who]))["data"]["order"]
        assert (got is not None) is sees, who
    listed = (await gql(ORDERS, {"f": {"buyerId": sgid}}, token=tokens[DEALER1]))["data"]["orders"]["edges"]
    assert [e["node"]["id"] for e in listed] == [order["id"]]
    mine = (await gql(ORDERS, {}, token=t))["data"]["orders"]["edges"]
    assert {e["node"]["buyerStore"]["code"] for e in mine} == {"S00001"}

    # The buyer cancels; the dealer's stock comes back.
    cancelled = (await gql(CANCEL, {"i": {"orderId": order["id"]}}, token=t))["data"]["orderCancel"]
    assert cancelled == {"order": {"status": "CANCELLED"}, "userErrors": []}
    assert await level(engine, shop.wh["W-D0001"], a) == before


async def test_only_the_store_orders_for_the_store(
    gql: Any, tokens: dict[str, str], shop: Shop, engine: AsyncEngine
) -> None:
    store_id, _ = await _store(engine)
    (a, _b), _ = await _store_skus(engine, shop, store_id)
    line = [{"skuId": shop.sgid(a), "quantity": await _qty(shop, engine)(a)}]
    snap = await snapshot(engine)
    # The dealer sells to its store; it does not fill the store's cart. Nor does another dealer.
    for who, buyer in ((DEALER1, encode_gid("Store", store_id)), (DEALER2, encode_gid("Store", store_id)),
                       (STORE1, shop.dgid("D0001")), (STORE1, encode_gid("Sku", a))):
        body = await gql(ADD, {"i": {"buyerId": buyer, "lines": line}}, token=tokens[who])
        assert [e["code"] for e in body["data"]["cartLinesAdd"]["userErrors"]] == ["BUYER_NOT_FOUND"], who
    body = await gql("query($b: ID!) { cart(buyerId: $b) { total { amount } } }",
                     {"b": encode_gid("Store", store_id)}, token=tokens[DEALER1])
    assert body["data"]["cart"] is None
    assert await snapshot(engine) == snap


async def test_store_price_rule_sees_only_its_dealers_open_lists(shop: Shop, engine: AsyncEngine) -> None:
    """HQ's lists never price a store, nor do the dealer's lists aimed at sub-dealers."""
    store_id, _ = await _store(engine)
    (a, _b), _ = await _store_skus(engine, shop, store_id)
    p = shop.admin()
    async with engine.begin() as c:
        got = await pricing_service.resolve_store_prices(c, p, store_id, [a], 1)
        assert got[a].price_list["code"] == "XF-D0001"
        # Aim D0001's list at level-2 dealers only: the store has no price any more.
        await c.execute(sa.text("UPDATE price_lists SET dealer_level = 2 WHERE code = 'XF-D0001'"))
        assert await pricing_service.resolve_store_prices(c, p, store_id, [a], 1) == {}
        await c.execute(sa.text("UPDATE price_lists SET dealer_level = NULL WHERE code = 'XF-D0001'"))
        # Someone who cannot see the store learns nothing.
        other = Principal(tenant_id=shop.tenant_id, role=Role.DEALER_ADMIN, dealer_id=shop.dealers["D0002"],
                          dealer_path=f"/{shop.dealers['D0002']}/")
        assert await pricing_service.resolve_store_prices(c, other, store_id, [a], 1) == {}
