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
