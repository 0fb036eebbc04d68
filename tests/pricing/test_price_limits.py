"""Price limits (限价): national and regional bands, HQ setting them, and DOWNSTREAM prices
outside the band of the owner's region refused with a userError that names SKU, band and price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pricing_helpers import ADMIN, DEALER1, DEALER2, STORE1, Demo, new_sku, pk, set_lines
from sqlalchemy.ext.asyncio import AsyncEngine

EBIKE = "EB-XY500-RED-48V"  # D0001 (杭州, EAST) sells it under EAST's stricter band

LIMITS = """query($c: String!) { sku(code: $c) {
  national: priceLimit { floor { amount } ceiling { amount } region { code } }
  east: priceLimit(regionCode: "EAST") { floor { amount } ceiling { amount } region { code } }
  hangzhou: priceLimit(regionCode: "ZJ-HZ") { floor { amount } region { code } }
  guangzhou: priceLimit(regionCode: "GD-GZ") { floor { amount } region { code } }
  nowhere: priceLimit(regionCode: "ATLANTIS") { floor { amount } region { code } }
  guideRetailPrice { amount currency } } }"""

SET_LIMIT = """mutation($i: PriceLimitSetInput!) { priceLimitSet(input: $i) {
  priceLimit { floor { amount } ceiling { amount } region { code } } userErrors { field code message } } }"""


async def test_seeded_bands_national_and_regional(gql: Any, tokens: dict[str, str]) -> None:
    sku = (await gql(LIMITS, {"c": EBIKE}, token=tokens[STORE1]))["data"]["sku"]
    guide = Decimal(sku["guideRetailPrice"]["amount"])
    assert sku["guideRetailPrice"]["currency"] == "CNY" and Decimal(2000) < guide < Decimal(6000)
    national, east = sku["national"], sku["east"]
    assert national["region"] is None and east["region"] == {"code": "EAST"}
    assert Decimal(national["floor"]["amount"]) < Decimal(east["floor"]["amount"]) < guide
    assert national["ceiling"]["amount"] == east["ceiling"]["amount"] == sku["guideRetailPrice"]["amount"]
    # A city inherits its area's band; elsewhere (and for an unknown region) the national one holds.
    assert sku["hangzhou"] == {"floor": east["floor"], "region": {"code": "EAST"}}
    assert sku["guangzhou"] == sku["nowhere"] == {"floor": national["floor"], "region": None}


async def test_set_and_clear_bands(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    admin = tokens[ADMIN]
    sku = await new_sku(gql, tokens, demo)
    q = """query($s: ID!) { node(id: $s) { ... on Sku { n: priceLimit { floor { amount } ceiling { amount } }
           hz: priceLimit(regionCode: "ZJ-HZ") { floor { amount } ceiling { amount } region { code } } } } }"""
    assert (await gql(q, {"s": sku}, token=admin))["data"]["node"] == {"n": None, "hz": None}

    out = (await gql(SET_LIMIT, {"i": {"skuId": sku, "floor": "900", "ceiling": "1000"}}, token=admin))["data"]
    assert out["priceLimitSet"] == {"priceLimit": {"floor": {"amount": "900.00"}, "ceiling": {"amount": "1000.00"},
                                                   "region": None}, "userErrors": []}
    out = (await gql(SET_LIMIT, {"i": {"skuId": sku, "regionCode": "EAST", "floor": "950"}}, token=admin))["data"]
    assert out["priceLimitSet"]["priceLimit"] == {"floor": {"amount": "950.00"}, "ceiling": None,
                                                  "region": {"code": "EAST"}}
    out = (await gql(SET_LIMIT, {"i": {"skuId": sku, "regionCode": "ZJ", "floor": "960", "ceiling": "990"}},
                     token=admin))["data"]
    got = (await gql(q, {"s": sku}, token=admin))["data"]["node"]
    assert got["hz"] == {"floor": {"amount": "960.00"}, "ceiling": {"amount": "990.00"}, "region": {"code": "ZJ"}}
    # Removing the province's band hands Hangzhou back to the area's.
    out = (await gql(SET_LIMIT, {"i": {"skuId": sku, "regionCode": "ZJ"}}, token=admin))["data"]
    assert out["priceLimitSet"]["priceLimit"]["region"] == {"code": "EAST"}
    got = (await gql(q, {"s": sku}, token=admin))["data"]["node"]
    assert got["hz"]["region"] == {"code": "EAST"} and got["n"]["floor"] == {"amount": "900.00"}


async def test_band_validation_and_rights(gql: Any, tokens: dict[str, str], demo: Demo, engine: AsyncEngine) -> None:
    admin = tokens[ADMIN]
    sku = await new_sku(gql, tokens, demo)
    cases = [
        ({"floor": "1000", "ceiling": "999.99"}, "LIMIT_INVALID", ["floor"]),
        ({"floor": "0"}, "AMOUNT_INVALID", ["floor"]),
        ({"ceiling": "10.001"}, "AMOUNT_INVALID", ["ceiling"]),
        ({"floor": "1", "regionCode": "ATLANTIS"}, "REGION_NOT_FOUND", ["regionCode"]),
        ({"floor": "1", "skuId": "U2t1Ojk5OTk5OTk"}, "SKU_NOT_FOUND", ["skuId"]),
    ]
    for change, code, field in cases:
        out = (await gql(SET_LIMIT, {"i": {"skuId": sku, **change}}, token=admin))["data"]["priceLimitSet"]
        assert out["priceLimit"] is None
        assert [(e["code"], e["field"]) for e in out["userErrors"]] == [(code, field)], change
    async with engine.connect() as conn:
        n = await conn.execute(sa.text("SELECT count(*) FROM price_limits WHERE sku_id = :s"), {"s": pk(sku)})
        assert n.scalar_one() == 0
    for who in (DEALER1, STORE1):
        out = await gql(SET_LIMIT, {"i": {"skuId": sku, "floor": "1"}}, token=tokens[who], expect_errors=True)
        assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_limit_changes_are_audited(gql: Any, tokens: dict[str, str], demo: Demo, engine: AsyncEngine) -> None:
    admin = tokens[ADMIN]
    sku = await new_sku(gql, tokens, demo)
    for i in ({"floor": "800"}, {"floor": "850", "ceiling": "990"}, {}):
        assert (await gql(SET_LIMIT, {"i": {"skuId": sku, **i}}, token=admin))["data"]["priceLimitSet"][
            "userErrors"] == []
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT action, old_values, new_values, actor_user_id FROM price_audit "
            "WHERE entity = 'PRICE_LIMIT' AND sku_id = :s ORDER BY id"), {"s": pk(sku)})).mappings().all()
    assert [r["action"] for r in rows] == ["CREATE", "UPDATE", "DELETE"]
    assert rows[1]["old_values"]["floor"] == "800.00" and rows[1]["new_values"]["floor"] == "850.00"
    assert rows[1]["new_values"]["ceiling"] == "990.00" and rows[2]["new_values"] is None
    assert all(r["actor_user_id"] for r in rows)


async def test_downstream_price_outside_band_is_refused(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    bands = (await gql(LIMITS, {"c": EBIKE}, token=tokens[DEALER1]))["data"]["sku"]
    floor, ceiling = Decimal(bands["east"]["floor"]["amount"]), Decimal(bands["east"]["ceiling"]["amount"])
    ids = (await gql(f'{{ sku(code: "{EBIKE}") {{ id }} priceList(code: "XF-D0001") {{ id }} }}',
                     token=tokens[DEALER1]))["data"]
    sku, downstream = ids["sku"]["id"], ids["priceList"]["id"]
    lines_q = """query($l: ID!, $s: ID!) { node(id: $l) { ... on PriceList {
                   lines(skuId: $s, includeExpired: true) { edges { node { amount { amount } validTo } } } } } }"""
    before = (await gql(lines_q, {"l": downstream, "s": sku}, token=tokens[DEALER1]))["data"]
    async with engine.connect() as conn:
        audits = (await conn.execute(sa.text("SELECT count(*) FROM price_audit"))).scalar_one()

    # Between the national floor and EAST's: fine in Guangzhou, not for a Hangzhou dealer.
    too_low = floor - Decimal("1.00")
    errors = await set_lines(gql, tokens[DEALER1], downstream, [
        {"skuId": sku, "minQuantity": 5, "amount": str(floor)},  # on the floor: inside the band
        {"skuId": sku, "amount": str(too_low)},
        {"skuId": sku, "minQuantity": 10, "amount": str(ceiling + Decimal("0.01"))},
    ])
    assert [(e["code"], e["field"]) for e in errors] == [
        ("PRICE_OUTSIDE_LIMIT", ["lines", "1", "amount"]),
        ("PRICE_OUTSIDE_LIMIT", ["lines", "2", "amount"]),
    ]
    message = errors[0]["message"]
    assert EBIKE in message and f"{too_low:,.2f}" in message
    assert f"{floor:,.2f}–{ceiling:,.2f} (region EAST)" in message
    assert f"{ceiling + Decimal('0.01'):,.2f}" in errors[1]["message"]
    # Nothing written: not even the good line, no audit row.
    assert (await gql(lines_q, {"l": downstream, "s": sku}, token=tokens[DEALER1]))["data"] == before
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM price_audit"))).scalar_one() == audits

    # Inside the band it goes through.
    assert await set_lines(gql, tokens[DEALER1], downstream, [{"skuId": sku, "amount": str(floor)}]) == []


async def test_hq_supply_prices_are_not_held_to_the_resale_band(gql: Any, tokens: dict[str, str]) -> None:
    """The band is for what dealers charge downstream; HQ's supply prices sit below it."""
    ids = (await gql(f'{{ sku(code: "{EBIKE}") {{ id }} priceList(code: "TIER-A") {{ id }} }}',
                     token=tokens[ADMIN]))["data"]
    assert await set_lines(gql, tokens[ADMIN], ids["priceList"]["id"],
                           [{"skuId": ids["sku"]["id"], "minQuantity": 100, "amount": "1000"}]) == []


async def test_guide_retail_price_set(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    sku = await new_sku(gql, tokens, demo)
    q = """mutation($i: GuideRetailPriceSetInput!) { guideRetailPriceSet(input: $i) {
           guideRetailPrice { amount } userErrors { code field } } }"""
    out = (await gql(q, {"i": {"skuId": sku, "amount": "3299"}}, token=tokens[ADMIN]))["data"]["guideRetailPriceSet"]
    assert out == {"guideRetailPrice": {"amount": "3299.00"}, "userErrors": []}
    read = """query($s: ID!) { node(id: $s) { ... on Sku { guideRetailPrice { amount } } } }"""
    assert (await gql(read, {"s": sku}, token=tokens[DEALER2]))["data"]["node"] == {
        "guideRetailPrice": {"amount": "3299.00"}
    }
    bad = (await gql(q, {"i": {"skuId": sku, "amount": "-1"}}, token=tokens[ADMIN]))["data"]["guideRetailPriceSet"]
    assert bad["userErrors"] == [{"code": "AMOUNT_INVALID", "field": ["amount"]}]
    out = await gql(q, {"i": {"skuId": sku, "amount": "1"}}, token=tokens[DEALER1], expect_errors=True)
    assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_concurrent_first_bands_do_not_collide(
    gql: Any, tokens: dict[str, str], demo: Demo, engine: AsyncEngine
) -> None:
    """Ten HQ users setting the first band of a SKU at once: one row, every call answered."""
    import asyncio

    sku = await new_sku(gql, tokens, demo)
    calls = [gql(SET_LIMIT, {"i": {"skuId": sku, "floor": str(900 + i)}}, token=tokens[ADMIN]) for i in range(10)]
    results = await asyncio.gather(*calls)
    assert all(r["data"]["priceLimitSet"]["userErrors"] == [] for r in results)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT count(*) FROM price_limits WHERE sku_id = :s"), {"s": pk(sku)}))
        assert rows.scalar_one() == 1
