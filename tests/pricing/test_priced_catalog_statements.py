"""A priced catalog page costs the same few statements for 5 SKUs as for 50 (no N+1)."""

from __future__ import annotations

from typing import Any

from pricing_helpers import ADMIN, DEALER1, Demo
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.db import count_statements

# These tests pin the resolver path (its statement counts); tests/compiled covers the compiled one.
COMPILED_READS = False

PRICED_PAGE = """query($first: Int, $d: ID!) { skus(first: $first, filter: {status: ACTIVE}) { edges { node {
  code guideRetailPrice { amount currency }
  price(dealerId: $d, quantity: 10) { amount { amount } list { code kind priority } break { minQuantity } why }
  priceLimit(regionCode: "EAST") { floor { amount } ceiling { amount } region { code } }
} } } }"""


async def test_priced_page_statement_count_is_constant(
    gql: Any, tokens: dict[str, str], demo: Demo, engine: AsyncEngine
) -> None:
    for who in (ADMIN, DEALER1):
        counts = []
        for first in (5, 50):
            with count_statements(engine) as c:
                out = await gql(PRICED_PAGE, {"first": first, "d": demo.dealers["D0001"]}, token=tokens[who])
            nodes = [e["node"] for e in out["data"]["skus"]["edges"]]
            assert len(nodes) == first
            assert all(n["guideRetailPrice"] and n["priceLimit"] and n["price"] for n in nodes), nodes
            counts.append(c.count)
        # The page; one resolution statement for (D0001, 10); one for the EAST bands; one for guide prices.
        assert counts == [4, 4], (who, counts, c.statements)


async def test_several_dealers_and_quantities_cost_one_statement_each(
    gql: Any, tokens: dict[str, str], demo: Demo, engine: AsyncEngine
) -> None:
    q = """query($a: ID!, $b: ID!) { skus(first: 50) { edges { node {
      a1: price(dealerId: $a) { amount { amount } } a10: price(dealerId: $a, quantity: 10) { amount { amount } }
      b1: price(dealerId: $b) { amount { amount } } } } } }"""
    with count_statements(engine) as c:
        await gql(q, {"a": demo.dealers["D0001"], "b": demo.dealers["D0002"]}, token=tokens[ADMIN])
    assert c.count == 1 + 3, c.statements
