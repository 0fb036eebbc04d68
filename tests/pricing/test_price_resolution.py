"""Price resolution: which list wins (priority, ties), validity windows, future-dated
changes, quantity breaks, and a sub-dealer buying from its distributor with HQ fallback.

Each test prices fresh SKUs, so only the lists the test makes compete. Instants at the
edges of windows go to the service (``at`` is a service parameter, not an API one).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pricing_helpers import ADMIN, DEALER1, Demo, hq_admin, new_list, new_sku, pk, price, set_lines

from ymt_graph.db import RequestDb
from ymt_graph.pricing import service

US = timedelta(microseconds=1)
FAR = "2099-01-01T00:00:00Z"


def later(days: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)


async def test_contract_beats_promotion_beats_tier_beats_base(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    admin, d1, d2 = tokens[ADMIN], demo.dealers["D0001"], demo.dealers["D0002"]
    sku = await new_sku(gql, tokens, demo)

    base = await new_list(gql, admin, "BASE")
    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "3000.00"}]) == []
    got = await price(gql, admin, sku, d1)
    assert got is not None
    assert got["amount"] == {"amount": "3000.00", "currency": "CNY"}
    assert got["list"]["kind"] == "BASE" and got["list"]["priority"] == 100
    assert got["break"] == {"minQuantity": 1}
    assert "is the only list" in got["why"]

    tier_a = await new_list(gql, admin, "TIER", dealerTier="A")  # D0001 is tier A, D0002 tier B
    assert await set_lines(gql, admin, tier_a, [{"skuId": sku, "amount": "2900"}]) == []
    got = await price(gql, admin, sku, d1)
    assert got and got["amount"]["amount"] == "2900.00" and got["list"]["priority"] == 200
    assert "beats base list" in got["why"]
    assert (await price(gql, admin, sku, d2) or {})["list"]["kind"] == "BASE"

    promo = await new_list(gql, admin, "PROMOTION", validTo=FAR)
    assert await set_lines(gql, admin, promo, [{"skuId": sku, "amount": "2800"}]) == []
    for dealer in (d1, d2):
        got = await price(gql, admin, sku, dealer)
        assert got and got["list"]["kind"] == "PROMOTION" and got["amount"]["amount"] == "2800.00"

    # The contract wins on priority even though the promotion is cheaper.
    contract = await new_list(gql, admin, "CONTRACT", dealerId=d1)
    assert await set_lines(gql, admin, contract, [{"skuId": sku, "amount": "2850"}]) == []
    got = await price(gql, admin, sku, d1)
    assert got and got["list"]["kind"] == "CONTRACT" and got["list"]["priority"] == 400
    assert got["amount"]["amount"] == "2850.00"
    assert got["why"].startswith("contract list ") and "beats promotion list" in got["why"]
    assert (await price(gql, admin, sku, d2) or {})["list"]["kind"] == "PROMOTION"


async def test_equal_priority_newer_list_wins_and_priority_can_be_changed(
    gql: Any, tokens: dict[str, str], demo: Demo
) -> None:
    admin, d1 = tokens[ADMIN], demo.dealers["D0001"]
    sku = await new_sku(gql, tokens, demo)
    older = await new_list(gql, admin, "TIER", dealerLevel=1)
    newer = await new_list(gql, admin, "TIER", regionCode="EAST")
    assert await set_lines(gql, admin, older, [{"skuId": sku, "amount": "2500"}]) == []
    assert await set_lines(gql, admin, newer, [{"skuId": sku, "amount": "2600"}]) == []
    got = await price(gql, admin, sku, d1)
    assert got and got["amount"]["amount"] == "2600.00"
    assert "same priority: the newer list wins" in got["why"]

    q = """mutation($i: PriceListUpdateInput!) { priceListUpdate(input: $i) { priceList { priority }
           userErrors { code } } }"""
    out = (await gql(q, {"i": {"id": older, "priority": 250}}, token=admin))["data"]["priceListUpdate"]
    assert out == {"priceList": {"priority": 250}, "userErrors": []}
    got = await price(gql, admin, sku, d1)
    assert got and got["amount"]["amount"] == "2500.00" and got["list"]["priority"] == 250


async def test_conditions_on_level_tier_and_region(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    """A region condition matches the dealer's region or any region above it (D0001 is in
    杭州 ZJ-HZ, province ZJ, area EAST; D0002 in 广州)."""
    admin = tokens[ADMIN]
    sku = await new_sku(gql, tokens, demo)
    base = await new_list(gql, admin, "BASE")
    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "1000"}]) == []
    cases = [
        ({"regionCode": "ZJ"}, {"D0001": True, "D0002": False}),
        ({"regionCode": "ZJ-NB"}, {"D0001": False, "D0002": False}),
        ({"regionCode": "ZJ-HZ", "dealerTier": "A", "dealerLevel": 1}, {"D0001": True, "D0002": False}),
        ({"dealerTier": "B"}, {"D0001": False, "D0002": True}),
        ({"dealerLevel": 2}, {"D0001": False, "D0002": False}),
    ]
    for conditions, expected in cases:
        tier = await new_list(gql, admin, "TIER", **conditions)
        assert await set_lines(gql, admin, tier, [{"skuId": sku, "amount": "900"}]) == []
        for code, applies in expected.items():
            got = await price(gql, admin, sku, demo.dealers[code])
            assert got is not None
            assert (got["list"]["kind"] == "TIER") is applies, (conditions, code, got)
        # Withdraw it again so the next case starts from the base price.
        q = """mutation($i: PriceListUpdateInput!) { priceListUpdate(input: $i) { userErrors { code } } }"""
        assert (await gql(q, {"i": {"id": tier, "status": "INACTIVE"}}, token=admin))["data"] == {
            "priceListUpdate": {"userErrors": []}
        }
        got = await price(gql, admin, sku, demo.dealers["D0001"])
        assert got and got["list"]["kind"] == "BASE", "an INACTIVE list prices nobody"


async def test_promotion_window_is_half_open(
    gql: Any, tokens: dict[str, str], demo: Demo, request_db: RequestDb
) -> None:
    admin = tokens[ADMIN]
    sku = await new_sku(gql, tokens, demo)
    base = await new_list(gql, admin, "BASE")
    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "1000"}]) == []
    start, end = later(10), later(15)
    promo = await new_list(gql, admin, "PROMOTION", validFrom=start.isoformat(), validTo=end.isoformat())
    assert await set_lines(gql, admin, promo, [{"skuId": sku, "amount": "880"}]) == []

    p, dealer, sku_pk = hq_admin(demo), pk(demo.dealers["D0001"]), pk(sku)
    expected = [(start - US, "BASE"), (start, "PROMOTION"), (end - US, "PROMOTION"), (end, "BASE")]
    for at, kind in expected:
        got = (await service.resolve_prices(request_db, p, dealer, [sku_pk], 1, at=at))[sku_pk]
        assert got.price_list["kind"] == kind, at
    # Now, before it starts, the API shows the base price.
    assert (await price(gql, admin, sku, demo.dealers["D0001"]) or {})["list"]["kind"] == "BASE"


async def test_future_dated_price_change(gql: Any, tokens: dict[str, str], demo: Demo, request_db: RequestDb) -> None:
    """A new price from a future instant leaves today's price alone until then; a temporary
    price inside that window hands back to the later price when it ends."""
    admin = tokens[ADMIN]
    sku = await new_sku(gql, tokens, demo)
    base = await new_list(gql, admin, "BASE")
    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "1000"}]) == []
    change = later(7)
    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "1100", "validFrom": change.isoformat()}]) == []
    temp_from, temp_to = change + timedelta(days=1), change + timedelta(days=2)
    assert await set_lines(gql, admin, base, [
        {"skuId": sku, "amount": "1050", "validFrom": temp_from.isoformat(), "validTo": temp_to.isoformat()},
    ]) == []

    p, dealer, sku_pk = hq_admin(demo), pk(demo.dealers["D0002"]), pk(sku)
    for at, amount in [(None, "1000.00"), (change - US, "1000.00"), (change, "1100.00"), (temp_from, "1050.00"),
                       (temp_to - US, "1050.00"), (temp_to, "1100.00"), (later(365), "1100.00")]:
        got = (await service.resolve_prices(request_db, p, dealer, [sku_pk], 1, at=at))[sku_pk]
        assert str(got.amount) == amount, at

    q = """query($l: ID!, $s: ID) { priceList(id: $l) { lines(skuId: $s) { edges { node {
             amount { amount } validFrom validTo } } } } }"""
    edges = (await gql(q, {"l": base, "s": sku}, token=admin))["data"]["priceList"]["lines"]["edges"]
    windows = sorted((e["node"]["validFrom"], e["node"]["validTo"], e["node"]["amount"]["amount"]) for e in edges)
    assert [w[2] for w in windows] == ["1000.00", "1100.00", "1050.00", "1100.00"]
    assert [datetime.fromisoformat(w[1]) for w in windows[:3]] == [change, temp_from, temp_to]
    assert windows[3][1] is None


async def test_quantity_breaks(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    admin, d1 = tokens[ADMIN], demo.dealers["D0001"]
    sku = await new_sku(gql, tokens, demo)
    base = await new_list(gql, admin, "BASE")
    lines = [{"skuId": sku, "minQuantity": q, "amount": a} for q, a in ((1, "1000"), (10, "950"), (50, "900"))]
    assert await set_lines(gql, admin, base, lines) == []
    q = """query($s: ID!, $d: ID!) { node(id: $s) { ... on Sku {
      q1: price(dealerId: $d) { amount { amount } break { minQuantity } }
      q9: price(dealerId: $d, quantity: 9) { amount { amount } break { minQuantity } }
      q10: price(dealerId: $d, quantity: 10) { amount { amount } break { minQuantity } why }
      q11: price(dealerId: $d, quantity: 11) { amount { amount } break { minQuantity } }
      q50: price(dealerId: $d, quantity: 50) { amount { amount } break { minQuantity } }
      q999: price(dealerId: $d, quantity: 999) { amount { amount } break { minQuantity } } } } }"""
    node = (await gql(q, {"s": sku, "d": d1}, token=admin))["data"]["node"]
    got = {k: (v["amount"]["amount"], v["break"]["minQuantity"]) for k, v in node.items()}
    assert got == {"q1": ("1000.00", 1), "q9": ("1000.00", 1), "q10": ("950.00", 10), "q11": ("950.00", 10),
                   "q50": ("900.00", 50), "q999": ("900.00", 50)}
    assert node["q10"]["why"].endswith("break ≥ 10 (quantity 10)")


async def test_a_list_without_a_reachable_break_does_not_compete(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    """A promotion priced only from 10 units is not an offer for 1 unit: the base price applies."""
    admin, d1 = tokens[ADMIN], demo.dealers["D0001"]
    sku = await new_sku(gql, tokens, demo)
    base = await new_list(gql, admin, "BASE")
    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "1000"}]) == []
    promo = await new_list(gql, admin, "PROMOTION", validTo=FAR)
    assert await set_lines(gql, admin, promo, [{"skuId": sku, "minQuantity": 10, "amount": "800"}]) == []
    assert (await price(gql, admin, sku, d1, 1) or {})["list"]["kind"] == "BASE"
    got = await price(gql, admin, sku, d1, 10)
    assert got and got["list"]["kind"] == "PROMOTION" and got["break"] == {"minQuantity": 10}


async def test_sub_dealer_buys_from_its_distributor_with_hq_fallback(
    gql: Any, tokens: dict[str, str], demo: Demo
) -> None:
    admin = tokens[ADMIN]
    sub, other_sub = demo.dealers["D0001-01"], demo.dealers["D0002-01"]
    sku = await new_sku(gql, tokens, demo)
    base = await new_list(gql, admin, "BASE")
    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "3000"}]) == []
    contract = await new_list(gql, admin, "CONTRACT", dealerId=demo.dealers["D0001"])
    assert await set_lines(gql, admin, contract, [{"skuId": sku, "amount": "2700"}]) == []

    # D0001 publishes nothing for this SKU yet: HQ's lists for a level-2 dealer apply —
    # never its distributor's contract.
    got = await price(gql, admin, sku, sub)
    assert got and got["list"]["kind"] == "BASE" and got["amount"]["amount"] == "3000.00"
    assert got["why"].startswith("D0001 has no downstream price for this SKU, so HQ's lists apply")

    downstream = (await gql('{ priceList(code: "XF-D0001") { id } }', token=tokens[DEALER1]))["data"]["priceList"]
    assert await set_lines(gql, tokens[DEALER1], downstream["id"], [{"skuId": sku, "amount": "3300"}]) == []
    got = await price(gql, admin, sku, sub)
    assert got and got["list"] == {"code": "XF-D0001", "kind": "DOWNSTREAM", "priority": 100}
    assert got["amount"]["amount"] == "3300.00", "the seller's own price, even above HQ's"
    assert "of D0001" in got["why"] and "comes before HQ's" in got["why"]
    # Another distributor's sub-dealer is not D0001's buyer.
    assert (await price(gql, admin, sku, other_sub) or {})["list"]["kind"] == "BASE"
    # And D0001 itself still buys from HQ.
    assert (await price(gql, admin, sku, demo.dealers["D0001"]) or {})["list"]["kind"] == "CONTRACT"


async def test_no_price_and_bad_quantity(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    sku = await new_sku(gql, tokens, demo)
    assert await price(gql, tokens[ADMIN], sku, demo.dealers["D0001"]) is None
    q = """query($s: ID!, $d: ID!) { node(id: $s) { ... on Sku { price(dealerId: $d, quantity: 0) { why } } } }"""
    out = await gql(q, {"s": sku, "d": demo.dealers["D0001"]}, token=tokens[ADMIN], expect_errors=True)
    assert out["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "quantity" in out["errors"][0]["message"]


async def test_seeded_prices_resolve(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    """The demo data prices its fixed SKU for D0001 by contract, with a break at 10."""
    one = await price(gql, tokens[DEALER1], demo.fixed_sku, demo.dealers["D0001"])
    ten = await price(gql, tokens[DEALER1], demo.fixed_sku, demo.dealers["D0001"], 10)
    assert one and ten and one["list"]["code"] == ten["list"]["code"] == "HT-D0001"
    assert ten["break"] == {"minQuantity": 10}
    assert float(ten["amount"]["amount"]) < float(one["amount"]["amount"])
