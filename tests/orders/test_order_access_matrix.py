"""Orders as an authorization matrix: every demo role against an order of each kind of buyer —
a dealer from HQ, a sub-dealer from its distributor, a store from its dealer, another dealer's —
for reading (``node``), deciding (approve), cancelling, shipping and receiving. Expectations are stated per role,
not derived from the code under test."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from order_helpers import ADMIN, DEALER1, DEALER2, SALES, STAFF1, SUB1, Shop, good_quantity, orderable_priced
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.graph.ids import encode_gid
from ymt_graph.inventory import service as inventory_service
from ymt_graph.orders import service
from ymt_graph.pricing import service as pricing_service

ANALYST, STORE1 = "analyst@demo.example", "store1@demo.example"
ROLES = (ADMIN, SALES, ANALYST, DEALER1, STAFF1, DEALER2, SUB1, STORE1)
KINDS = ("d1", "sub", "store", "d2")

VISIBLE = {
    ADMIN: set(KINDS),
    ANALYST: set(KINDS),
    SALES: {"d1", "sub", "store"},  # area EAST: D0001's tree, not D0002
    DEALER1: {"d1", "sub", "store"},  # its own, its sub-dealer's, its store's
    STAFF1: {"d1", "sub", "store"},
    DEALER2: {"d2"},
    SUB1: {"sub"},
    STORE1: {"store"},
}
# Approving: HQ_ADMIN; HQ_SALES in its area; the selling dealer's admin (D0001 sells to D0001-01
# and to S00001). Seen-but-not-yours is FORBIDDEN; unseen is ORDER_NOT_FOUND.
MAY_DECIDE = {
    ADMIN: set(KINDS),
    SALES: {"d1", "sub", "store"},
    ANALYST: set(),
    DEALER1: {"sub", "store"},
    STAFF1: set(),
    DEALER2: set(),
    SUB1: set(),
    STORE1: set(),
}
# Cancelling: the buyer's own people (and HQ_ADMIN).
MAY_CANCEL = {
    ADMIN: set(KINDS),
    SALES: set(),
    ANALYST: set(),
    DEALER1: {"d1"},
    STAFF1: {"d1"},
    DEALER2: {"d2"},
    SUB1: {"sub"},
    STORE1: {"store"},
}
# Shipping: the seller's side — HQ_ADMIN for HQ's sales, the selling dealer's people for theirs.
MAY_SHIP = {
    ADMIN: set(KINDS),
    SALES: set(),
    ANALYST: set(),
    DEALER1: {"sub", "store"},
    STAFF1: {"sub", "store"},
    DEALER2: set(),
    SUB1: set(),
    STORE1: set(),
}
# Receiving: the buyer's side, as cancelling.
MAY_RECEIVE = MAY_CANCEL


async def _place(engine: AsyncEngine, shop: Shop, buyer: service.BuyerRef, key: str) -> int:
    """An order of one line for the buyer, PENDING_APPROVAL for dealers (credit set to 0)."""
    p = shop.admin()
    async with engine.begin() as c:
        pt = await service.party(c, p, buyer)
        if buyer.kind is service.BuyerKind.STORE:
            stocked = list((await c.execute(sa.text(
                "SELECT l.sku_id FROM stock_levels l JOIN skus s ON s.id = l.sku_id WHERE l.warehouse_id = :w "
                "AND s.moq = 1 AND s.order_multiple = 1 AND l.on_hand - l.reserved >= 10 ORDER BY l.sku_id"
            ), {"w": pt.seller_warehouse_id})).scalars())
            sku = next(iter(await pricing_service.resolve_store_prices(c, p, buyer.id, stocked, 1)))
            qty = 1
        else:
            await c.execute(sa.text("UPDATE dealers SET credit_limit = 0 WHERE id = :d"), {"d": buyer.id})
            offered = await orderable_priced(c, p, buyer.id)
            sku = next(iter(offered))
            qty = good_quantity(offered[sku].moq, offered[sku].order_multiple)
            await inventory_service.adjust(c, p, pt.seller_warehouse_id or 0, sku, qty, "matrix")
        await service.add_lines(c, p, buyer, [service.LineInput(sku, qty)])
        return await service.submit(c, p, service.SubmitRequest(buyer, key))


@pytest.fixture
async def orders(engine: AsyncEngine, shop: Shop, request: pytest.FixtureRequest) -> dict[str, str]:
    async with engine.connect() as c:
        store = (await c.execute(sa.text("SELECT id FROM stores WHERE code = 'S00001'"))).scalar_one()
    key = request.node.name
    buyers = {
        "d1": service.BuyerRef.dealer(shop.dealers["D0001"]),
        "sub": service.BuyerRef.dealer(shop.dealers["D0001-01"]),
        "store": service.BuyerRef.store(store),
        "d2": service.BuyerRef.dealer(shop.dealers["D0002"]),
    }
    return {kind: encode_gid("Order", await _place(engine, shop, b, key)) for kind, b in buyers.items()}


@pytest.mark.parametrize("role", ROLES)
async def test_read_matrix(role: str, orders: dict[str, str], tokens: dict[str, str], gql: Any) -> None:
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    got = (await gql(query, {"ids": [orders[k] for k in KINDS]}, token=tokens[role]))["data"]["nodes"]
    seen = {k for k, node in zip(KINDS, got, strict=True) if node is not None}
    assert seen == VISIBLE[role]


async def _outcome(gql: Any, token: str, mutation: str, order_id: str) -> str:
    inputs = {
        "orderApprove": ("OrderDecisionInput", {"orderId": order_id}, "order { id }"),
        "orderCancel": ("OrderDecisionInput", {"orderId": order_id}, "order { id }"),
        "shipmentCreate": ("ShipmentCreateInput", {"orderId": order_id, "carrier": "EMS",
                                                   "lines": [{"skuId": "U2t1OjE", "quantity": 1}]}, "shipment { id }"),
        "orderReceive": ("OrderReceiveInput", {"orderId": order_id, "lines": [{"skuId": "U2t1OjE", "received": 1}]},
                         "order { id }"),
    }
    input_type, value, result = inputs[mutation]
    body = await gql(f"""mutation($i: {input_type}!) {{ {mutation}(input: $i) {{
        {result} userErrors {{ code }} }} }}""", {"i": value}, token=token, expect_errors=True)
    if body.get("errors"):
        return str(body["errors"][0]["extensions"]["code"])
    codes = [e["code"] for e in body["data"][mutation]["userErrors"]]
    # Permitted: done, or refused for the order's state or the request's lines.
    return "NOT_FOUND" if codes == ["ORDER_NOT_FOUND"] else "OK"


@pytest.mark.parametrize(("mutation", "rights"), [
    ("orderApprove", MAY_DECIDE), ("orderCancel", MAY_CANCEL), ("shipmentCreate", MAY_SHIP),
    ("orderReceive", MAY_RECEIVE),
])
@pytest.mark.parametrize("role", ROLES)
async def test_action_matrix(
    role: str, mutation: str, rights: dict[str, set[str]], orders: dict[str, str], tokens: dict[str, str], gql: Any
) -> None:
    for kind in KINDS:
        expected = "OK" if kind in rights[role] else ("FORBIDDEN" if kind in VISIBLE[role] else "NOT_FOUND")
        assert await _outcome(gql, tokens[role], mutation, orders[kind]) == expected, (role, kind)


async def test_store_orders_skip_the_credit_check(engine: AsyncEngine, shop: Shop) -> None:
    """A dealer's credit limit of 0 holds its own orders for approval, never its store's."""
    async with engine.connect() as c:
        store = (await c.execute(sa.text("SELECT id FROM stores WHERE code = 'S00001'"))).scalar_one()
    await _place(engine, shop, service.BuyerRef.dealer(shop.dealers["D0001"]), "credit-0")
    order_id = await _place(engine, shop, service.BuyerRef.store(store), "credit-store")
    async with engine.connect() as c:
        status, limit = (await c.execute(sa.text(
            "SELECT o.status, d.credit_limit FROM orders o JOIN stores s ON s.id = o.buyer_store_id "
            "JOIN dealers d ON d.id = s.dealer_id WHERE o.id = :o"), {"o": order_id})).one()
    assert status == "APPROVED" and limit == Decimal("0")

