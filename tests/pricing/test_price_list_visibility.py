"""Who sees which price list, and whose prices: stated per role against the demo lists.

Demo lists: BASE, TIER-A, TIER-B, PROMO-NOW, PROMO-NEXT (HQ's), HT-D0001 and HT-D0002
(contracts), XF-D0001 (D0001's downstream list to its sub-dealers). D0001 is tier A in
EAST; D0002 tier B in SOUTH; D0001-01 a tier-B sub-dealer of D0001; S00001 a store of D0001.
"""

from __future__ import annotations

from typing import Any

import pytest
from pricing_helpers import (
    ADMIN,
    ANALYST,
    DEALER1,
    DEALER2,
    SALES,
    STAFF1,
    STORE1,
    SUB1,
    Demo,
    new_list,
    new_sku,
    price,
    set_lines,
)

HQ_GENERAL = {"BASE", "TIER-A", "TIER-B", "PROMO-NOW", "PROMO-NEXT"}
DEMO_LISTS = HQ_GENERAL | {"HT-D0001", "HT-D0002", "XF-D0001"}

EXPECTED: dict[str, set[str]] = {
    ADMIN: DEMO_LISTS,
    ANALYST: DEMO_LISTS,
    SALES: HQ_GENERAL | {"HT-D0001", "XF-D0001"},  # EAST: D0001's contract, not D0002's
    DEALER1: {"BASE", "TIER-A", "PROMO-NOW", "PROMO-NEXT", "HT-D0001", "XF-D0001"},
    STAFF1: {"BASE", "TIER-A", "PROMO-NOW", "PROMO-NEXT", "HT-D0001", "XF-D0001"},
    DEALER2: {"BASE", "TIER-B", "PROMO-NOW", "PROMO-NEXT", "HT-D0002"},
    SUB1: {"BASE", "TIER-B", "PROMO-NOW", "PROMO-NEXT", "XF-D0001"},  # its seller's list, HQ's as fallback
    STORE1: {"XF-D0001"},
}

LISTS = """query($f: PriceListFilter, $after: String) { priceLists(filter: $f, first: 100, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id code } } } }"""


async def list_codes(gql: Any, token: str, f: dict[str, Any] | None = None) -> set[str]:
    out = (await gql(LISTS, {"f": f}, token=token))["data"]["priceLists"]
    assert not out["pageInfo"]["hasNextPage"]
    assert out["totalCount"] == len(out["edges"])
    return {e["node"]["code"] for e in out["edges"]} & DEMO_LISTS


@pytest.mark.parametrize("who", list(EXPECTED))
async def test_price_lists_per_role(gql: Any, tokens: dict[str, str], who: str) -> None:
    assert await list_codes(gql, tokens[who]) == EXPECTED[who]


async def test_foreign_contract_is_absent_everywhere(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    """dealer2 never sees D0001's contract: not by code, not by node id, not its lines, not
    through a price for D0001."""
    d1_contract = (await gql('{ priceList(code: "HT-D0001") { id lines(first: 1) { edges { node { id } } } } }',
                             token=tokens[ADMIN]))["data"]["priceList"]
    line_id = d1_contract["lines"]["edges"][0]["node"]["id"]
    q = """query($l: ID!, $line: ID!) { byCode: priceList(code: "HT-D0001") { id }
             byNode: node(id: $l) { id } line: node(id: $line) { id } }"""
    assert (await gql(q, {"l": d1_contract["id"], "line": line_id}, token=tokens[DEALER2]))["data"] == {
        "byCode": None, "byNode": None, "line": None,
    }
    assert await price(gql, tokens[DEALER2], demo.fixed_sku, demo.dealers["D0001"]) is None
    # dealer2 asking which lists D0001 is offered learns nothing.
    assert await list_codes(gql, tokens[DEALER2], {"offeredTo": demo.dealers["D0001"]}) == set()
    # D0001 sees its own.
    got = await price(gql, tokens[DEALER1], demo.fixed_sku, demo.dealers["D0001"])
    assert got and got["list"]["code"] == "HT-D0001"


PRICE_SEEN = [
    # (who, dealer whose price is asked, visible?)
    (ADMIN, "D0001", True), (ANALYST, "D0002", True),
    (SALES, "D0001", True), (SALES, "D0002", False),  # HQ sales: its areas only
    (DEALER1, "D0001", True), (STAFF1, "D0001", True), (DEALER1, "D0002", False),
    (DEALER2, "D0002", True), (DEALER2, "D0001", False),
    (SUB1, "D0001-01", True),
    (SUB1, "D0001", False),  # what its supplier pays HQ is the supplier's secret
    (STORE1, "D0001", False),
]


@pytest.mark.parametrize(("who", "dealer", "seen"), PRICE_SEEN)
async def test_whose_prices_are_visible(
    gql: Any, tokens: dict[str, str], demo: Demo, who: str, dealer: str, seen: bool
) -> None:
    got = await price(gql, tokens[who], demo.fixed_sku, demo.dealers[dealer])
    assert (got is not None) is seen, got


async def test_distributor_sees_sub_dealer_price_only_from_lists_it_may_see(
    gql: Any, tokens: dict[str, str], demo: Demo
) -> None:
    """D0001 may ask for its sub-dealer's price; the answer is null when it would come from
    an HQ list that D0001 may not see (a tier-B list: D0001 is tier A)."""
    admin, sub = tokens[ADMIN], demo.dealers["D0001-01"]
    sku = await new_sku(gql, tokens, demo)
    tier_b = await new_list(gql, admin, "TIER", dealerTier="B")
    assert await set_lines(gql, admin, tier_b, [{"skuId": sku, "amount": "900"}]) == []
    assert (await price(gql, admin, sku, sub) or {})["list"]["kind"] == "TIER"
    assert await price(gql, tokens[DEALER1], sku, sub) is None

    downstream = (await gql('{ priceList(code: "XF-D0001") { id } }', token=tokens[DEALER1]))["data"]["priceList"]
    assert await set_lines(gql, tokens[DEALER1], downstream["id"], [{"skuId": sku, "amount": "1000"}]) == []
    got = await price(gql, tokens[DEALER1], sku, sub)
    assert got and got["list"]["code"] == "XF-D0001"


async def test_filters(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    admin = tokens[ADMIN]
    assert await list_codes(gql, admin, {"kind": "CONTRACT"}) == {"HT-D0001", "HT-D0002"}
    assert await list_codes(gql, admin, {"dealerId": demo.dealers["D0001"]}) == {"HT-D0001", "XF-D0001"}
    assert await list_codes(gql, admin, {"search": "TIER"}) == {"TIER-A", "TIER-B"}
    offered_d1 = {"BASE", "TIER-A", "PROMO-NOW", "PROMO-NEXT", "HT-D0001"}
    assert await list_codes(gql, admin, {"offeredTo": demo.dealers["D0001"]}) == offered_d1
    offered_sub = {"BASE", "TIER-B", "PROMO-NOW", "PROMO-NEXT", "XF-D0001"}
    assert await list_codes(gql, admin, {"offeredTo": demo.dealers["D0001-01"]}) == offered_sub


async def test_price_list_shape_and_paging(gql: Any, tokens: dict[str, str]) -> None:
    q = """{ priceList(code: "XF-D0001") { code kind priority status validFrom validTo dealerLevel dealerTier
             region { code } dealer { code } ownerDealer { code }
             lines(first: 3) { totalCount pageInfo { hasNextPage endCursor }
               edges { node { minQuantity amount { amount currency } validFrom validTo
                              sku { code } priceList { code } } } } } }"""
    pl = (await gql(q, token=tokens[STORE1]))["data"]["priceList"]
    assert pl["kind"] == "DOWNSTREAM" and pl["ownerDealer"] == {"code": "D0001"} and pl["dealer"] is None
    assert pl["status"] == "ACTIVE" and pl["priority"] == 100 and pl["validTo"] is None
    lines = pl["lines"]
    assert lines["totalCount"] > 3 and lines["pageInfo"]["hasNextPage"]
    codes = [e["node"]["sku"]["code"] for e in lines["edges"]]
    assert codes == sorted(codes) and all(e["node"]["priceList"]["code"] == "XF-D0001" for e in lines["edges"])
    q2 = """query($a: String) { priceList(code: "XF-D0001") { lines(first: 3, after: $a) {
              edges { node { sku { code } } } } } }"""
    nxt = (await gql(q2, {"a": lines["pageInfo"]["endCursor"]}, token=tokens[STORE1]))["data"]["priceList"]["lines"]
    assert nxt["edges"][0]["node"]["sku"]["code"] > codes[-1]
