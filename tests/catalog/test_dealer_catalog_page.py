"""The storefront's main screen: a dealer's priced, stocked catalog page, in a constant
number of SQL statements however many SKUs it shows (issue 3's benchmark query)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.db import count_statements

# These tests pin the resolver path (its statement counts); tests/compiled covers the compiled one.
COMPILED_READS = False

DEALER1 = "dealer1@demo.example"

PAGE = """
query DealerCatalogPage($first: Int!, $dealerId: ID!, $warehouseId: ID!, $quantity: Int!) {
  skus(first: $first, filter: {orderableBy: $dealerId}) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id code name unit moq orderMultiple
      guideRetailPrice { amount currency }
      price(dealerId: $dealerId, quantity: $quantity) {
        amount { amount currency } list { code } break { minQuantity } why }
      priceLimit { floor { amount } ceiling { amount } }
      available(warehouseId: $warehouseId) } } } }
"""


async def _variables(gql: Any, token: str, first: int) -> dict[str, Any]:
    d = (await gql('{ dealer(code: "D0001") { id warehouses { edges { node { id code } } } } }', token=token))
    dealer = d["data"]["dealer"]
    warehouse = next(e["node"]["id"] for e in dealer["warehouses"]["edges"] if e["node"]["code"] == "W-D0001")
    return {"first": first, "dealerId": dealer["id"], "warehouseId": warehouse, "quantity": 10}


async def test_page_is_priced_and_stocked(gql: Any, tokens: dict[str, str]) -> None:
    data = (await gql(PAGE, await _variables(gql, tokens[DEALER1], 50), token=tokens[DEALER1]))["data"]
    nodes = [e["node"] for e in data["skus"]["edges"]]
    assert len(nodes) == 50
    priced = [n for n in nodes if n["price"] is not None]
    assert priced, "the demo prices D0001's orderable SKUs"
    for n in priced:
        assert n["price"]["amount"]["currency"] == "CNY" and n["price"]["why"]
        assert n["guideRetailPrice"] is not None
        # Supply prices sit below the consumer price the brand guides to.
        assert float(n["price"]["amount"]["amount"]) < float(n["guideRetailPrice"]["amount"])
    assert any(n["available"] for n in nodes), "D0001's warehouse holds some of them"


async def test_page_statement_count_is_constant(gql: Any, tokens: dict[str, str], engine: AsyncEngine) -> None:
    counts = []
    for first in (5, 50):
        variables = await _variables(gql, tokens[DEALER1], first)
        with count_statements(engine) as counter:
            body = await gql(PAGE, variables, token=tokens[DEALER1])
        assert len(body["data"]["skus"]["edges"]) == first
        counts.append(counter.count)
    # The dealer (for orderableBy), the page, guide prices, prices, limits, stock: one each.
    assert counts == [6, 6], (counts, [s[:60] for s in counter.statements])
