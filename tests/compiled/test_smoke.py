from __future__ import annotations

from typing import Any

from compiled_corpus import Both, canonical

ADMIN, DEALER1 = "admin@demo.example", "dealer1@demo.example"


async def test_catalog_page(both: Both, tokens: dict[str, str], gql: Any) -> None:
    d1 = (await gql('{ dealer(code: "D0001") { id } }', token=tokens[ADMIN]))["data"]["dealer"]["id"]
    wh = (await gql("{ warehouses(first: 1, filter: {ownerKind: HQ}) { edges { node { id } } } }",
                    token=tokens[ADMIN]))["data"]["warehouses"]["edges"][0]["node"]["id"]
    query = """query Page($d: ID!, $w: ID!, $first: Int, $after: String) {
      skus(first: $first, after: $after, filter: {orderableBy: $d}) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id code name unit moq orderMultiple serialTracked status launchDate attributes
          createdAt updatedAt __typename
          category { id code name parent { code } } model { id code name category { code } }
          guideRetailPrice { amount currency }
          price(dealerId: $d) { amount { amount currency } list { id code kind priority validFrom validTo }
                                break { minQuantity validFrom validTo } why }
          priceLimit { floor { amount } ceiling { amount } region { code } }
          eastLimit: priceLimit(regionCode: "EAST") { floor { amount } region { code name kind } }
          available(warehouseId: $w)
          stockLevel(warehouseId: $w) { id onHand reserved available inbound safetyStock reorderPoint
                                        belowReorderPoint updatedAt warehouse { id code } } } } } }"""
    for token in (tokens[ADMIN], tokens[DEALER1]):
        after = None
        for _ in range(3):
            fast, slow, statements = await both.run(query, {"d": d1, "w": wh, "first": 7, "after": after}, token)
            assert "errors" not in slow, slow
            assert canonical(fast) == canonical(slow)
            assert statements == 1
            after = slow["data"]["skus"]["pageInfo"]["endCursor"]


SHIPPING_PAGE = """query ShippingPage($after: String) {
  shipments(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { number lines { quantity serials } order { number receipt { lines { shipped received short damaged
      serials } } claims { number serials missingSerials } } } } }
  claims(first: 10) { totalCount edges { node { number quantity shortQuantity damagedQuantity serials missingSerials
    order { number } } } }
  me { role tenant { code } dealer { code } store { code } } }"""


async def test_shipping_pages(both: Both, tokens: dict[str, str], world: Any) -> None:
    """Shipments paged with their orders' receipts and claims, the claims and ``me``: one statement
    per page, the same bodies as the resolver path, and the world's claims are seen by whom they
    concern (HQ all three; the sub-dealer the one of its order; D0001 its own two and its buyer's)."""
    seen: dict[str, int] = {}
    for role in (ADMIN, DEALER1, "subdealer1@demo.example", "dealer2@demo.example"):
        after, pages = None, 0
        while True:
            fast, slow, statements = await both.run(SHIPPING_PAGE, {"after": after}, tokens[role])
            assert "errors" not in slow, slow
            assert canonical(fast) == canonical(slow)
            assert statements == 1
            pages += 1
            info = slow["data"]["shipments"]["pageInfo"]
            if not info["hasNextPage"] or pages > 5:
                break
            after = info["endCursor"]
        seen[role] = slow["data"]["claims"]["totalCount"]
        if role == ADMIN:
            claims = [e["node"] for e in slow["data"]["claims"]["edges"]]
            assert sorted(len(c["missingSerials"]) for c in claims) == [0, 0, 1]
            assert sum(c["damagedQuantity"] for c in claims) == 1
    assert seen == {ADMIN: 3, DEALER1: 3, "subdealer1@demo.example": 1, "dealer2@demo.example": 0}
