"""Dealer and store lists: filters, keyset pagination, and a constant SQL statement count."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.db import count_statements

# These tests pin the resolver path (its statement counts); tests/compiled covers the compiled one.
COMPILED_READS = False

ADMIN, DEALER1 = "admin@demo.example", "dealer1@demo.example"

PAGE = """
query($first: Int!, $after: String) {
  dealers(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { code } }
  }
}
"""


@pytest.mark.parametrize("page_size", [1, 7, 250])
async def test_pagination_walks_all_dealers_without_gaps_or_repeats(
    page_size: int, gql: Any, tokens: dict[str, str]
) -> None:
    seen: list[str] = []
    after = None
    total = None
    for _ in range(1000):
        conn = (await gql(PAGE, {"first": page_size, "after": after}, token=tokens[ADMIN]))["data"]["dealers"]
        total = conn["totalCount"]
        seen += [e["node"]["code"] for e in conn["edges"]]
        if conn["edges"]:
            assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
            assert conn["pageInfo"]["startCursor"] == conn["edges"][0]["cursor"]
        assert conn["pageInfo"]["hasPreviousPage"] == (after is not None)
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == total
    assert seen == sorted(seen)
    assert total is not None and total >= 40


async def test_pagination_is_stable_while_rows_are_added(gql: Any, tokens: dict[str, str]) -> None:
    first = (await gql(PAGE, {"first": 5, "after": None}, token=tokens[ADMIN]))["data"]["dealers"]
    create = "mutation($i: DealerCreateInput!) { dealerCreate(input: $i) { userErrors { code } } }"
    # A dealer that sorts before the cursor must not shift the next page.
    body = await gql(create, {"i": {"code": "A-EARLY", "name": "插队经销商", "regionCode": "EAST"}},
                     token=tokens[ADMIN])
    assert body["data"]["dealerCreate"]["userErrors"] == []
    after = first["pageInfo"]["endCursor"]
    nxt = (await gql(PAGE, {"first": 5, "after": after}, token=tokens[ADMIN]))["data"]["dealers"]
    codes = [e["node"]["code"] for e in nxt["edges"]]
    assert "A-EARLY" not in codes
    assert codes[0] > first["edges"][-1]["node"]["code"]


async def test_dealer_sees_only_its_subtree_in_lists(gql: Any, tokens: dict[str, str]) -> None:
    q = """{ dealers(first: 250) { edges { node { code } } }
             stores(first: 250) { edges { node { code dealer { code } } } } }"""
    data = (await gql(q, token=tokens[DEALER1]))["data"]
    dealer_codes = {e["node"]["code"] for e in data["dealers"]["edges"]}
    assert "D0001" in dealer_codes and "D0002" not in dealer_codes
    assert all(c == "D0001" or c.startswith("D0001-") for c in dealer_codes)
    store_dealers = {e["node"]["dealer"]["code"] for e in data["stores"]["edges"]}
    assert store_dealers and all(c == "D0001" or c.startswith("D0001-") for c in store_dealers)


async def test_filters(gql: Any, tokens: dict[str, str]) -> None:
    q = """query($f: DealerFilter) { dealers(first: 250, filter: $f) { totalCount
            edges { node { code level tier status region { code } parent { code } } } } }"""

    async def codes(f: dict[str, Any]) -> list[dict[str, Any]]:
        return [e["node"] for e in (await gql(q, {"f": f}, token=tokens[ADMIN]))["data"]["dealers"]["edges"]]

    assert all(d["level"] == 2 for d in await codes({"level": 2}))
    assert all(d["tier"] == "A" for d in await codes({"tier": "A"}))
    subs = await codes({"parentId": (await gql('{ dealer(code: "D0001") { id } }', token=tokens[ADMIN]))
                        ["data"]["dealer"]["id"]})
    assert subs and all(d["parent"]["code"] == "D0001" for d in subs)
    assert next(d["code"] for d in await codes({"search": "d0001"})) == "D0001"  # case-insensitive code search
    east = await codes({"regionCode": "EAST"})
    assert "D0001" in {d["code"] for d in east} and "D0002" not in {d["code"] for d in east}
    assert await codes({"search": "%"}) == []  # LIKE wildcards are literal


async def test_chinese_name_search(gql: Any, tokens: dict[str, str]) -> None:
    q = '{ dealer(code: "D0001") { name } }'
    name = (await gql(q, token=tokens[ADMIN]))["data"]["dealer"]["name"]
    fragment = name[:2]
    q2 = "query($s: String) { dealers(first: 250, filter: {search: $s}) { edges { node { code name } } } }"
    found = (await gql(q2, {"s": fragment}, token=tokens[ADMIN]))["data"]["dealers"]["edges"]
    assert any(e["node"]["code"] == "D0001" for e in found)
    assert all(fragment in e["node"]["name"] or fragment.lower() in e["node"]["code"].lower() for e in found)


NESTED = """
query($first: Int!) {
  dealers(first: $first) {
    edges { node { code name region { name } parent { name }
      stores(first: 5) { totalCount edges { node { code name location { lat lng } region { code } } } }
      children(first: 5) { totalCount edges { node { code } } }
      warehouses { edges { node { code } } } } }
  }
}
"""


async def test_nested_query_statement_count_does_not_grow(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    counts = {}
    for first in (10, 50, 250):  # each page holds sub-dealers, so every relation is asked
        with count_statements(engine) as counter:
            data = (await gql(NESTED, {"first": first}, token=tokens[ADMIN]))["data"]
        assert len(data["dealers"]["edges"]) == min(first, len(data["dealers"]["edges"]))
        counts[first] = counter.count
    assert counts[10] == counts[50] == counts[250], counts
    # The page (regions joined), then one statement each for parents, stores (regions
    # joined), children and warehouses. It also proves the counter sees raw reads.
    assert counts[10] == 5, counts


async def test_nested_connections_are_correct(gql: Any, tokens: dict[str, str]) -> None:
    """The batched per-parent pages must equal asking each dealer on its own."""
    data = (await gql(NESTED, {"first": 20}, token=tokens[ADMIN]))["data"]["dealers"]["edges"]
    for edge in data[:5]:
        code = edge["node"]["code"]
        q = """query($c: String) { dealer(code: $c) { stores(first: 5) { totalCount edges { node { code } } }
                 children(first: 5) { totalCount edges { node { code } } } } }"""
        single = (await gql(q, {"c": code}, token=tokens[ADMIN]))["data"]["dealer"]
        assert single["stores"]["totalCount"] == edge["node"]["stores"]["totalCount"]
        assert [e["node"]["code"] for e in single["stores"]["edges"]] == [
            e["node"]["code"] for e in edge["node"]["stores"]["edges"]
        ]
        assert single["children"]["totalCount"] == edge["node"]["children"]["totalCount"]


async def test_nested_pagination_after_cursor(gql: Any, tokens: dict[str, str]) -> None:
    q = """query($after: String) { dealer(code: "D0001") { stores(first: 1, after: $after) {
             totalCount pageInfo { hasNextPage endCursor } edges { node { code } } } } }"""
    seen: list[str] = []
    after = None
    while True:
        conn = (await gql(q, {"after": after}, token=tokens[ADMIN]))["data"]["dealer"]["stores"]
        seen += [e["node"]["code"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(seen) == conn["totalCount"] >= 2
    assert seen == sorted(set(seen))
