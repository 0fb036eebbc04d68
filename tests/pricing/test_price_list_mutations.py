"""priceListCreate / priceListUpdate / priceListLinesSet: rights, validation (a clear userError
and nothing written), and the audit trail (who, when, old and new)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from pricing_helpers import (
    ADMIN,
    ANALYST,
    DEALER1,
    DEALER2,
    SALES,
    STAFF1,
    STORE1,
    Demo,
    create_list,
    new_list,
    new_sku,
    pk,
    set_lines,
    unique_code,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.org.identity import create_api_key

FAR = "2099-01-01T00:00:00Z"


async def audit_rows(engine: AsyncEngine, where: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        result = await conn.execute(sa.text(f"SELECT * FROM price_audit WHERE {where} ORDER BY id"), params)
        return list(result.mappings().all())


async def count(engine: AsyncEngine, sql: str, **params: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text(sql), params)).scalar_one())


async def user_id(gql: Any, token: str) -> int:
    return pk((await gql("{ me { user { id } } }", token=token))["data"]["me"]["user"]["id"])


async def test_create_each_kind_with_defaults(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    admin = tokens[ADMIN]
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"kind": "BASE"}, {"priority": 100, "validTo": None}),
        ({"kind": "TIER", "dealerTier": "A", "dealerLevel": 1, "regionCode": "EAST"},
         {"priority": 200, "dealerTier": "A", "dealerLevel": 1, "region": {"code": "EAST"}}),
        ({"kind": "PROMOTION", "validTo": FAR}, {"priority": 300, "validTo": "2099-01-01T00:00:00+00:00"}),
        ({"kind": "CONTRACT", "dealerId": demo.dealers["D0002"]}, {"priority": 400, "dealer": {"code": "D0002"}}),
        ({"kind": "DOWNSTREAM", "ownerDealerId": demo.dealers["D0001"], "priority": 150},
         {"priority": 150, "ownerDealer": {"code": "D0001"}}),
    ]
    for fields, expected in cases:
        out = await create_list(gql, admin, code=unique_code("NEW"), **fields)
        assert out["userErrors"] == [], out
        created = out["priceList"]
        assert created["kind"] == fields["kind"] and created["status"] == "ACTIVE" and created["validFrom"]
        assert {k: created[k] for k in expected} == expected


async def test_dealer_admin_publishes_only_its_own_downstream_lists(
    gql: Any, tokens: dict[str, str], demo: Demo
) -> None:
    d1, d2, sub = demo.dealers["D0001"], demo.dealers["D0002"], demo.dealers["D0001-01"]
    ok = await create_list(gql, tokens[DEALER1], code=unique_code("XF"), kind="DOWNSTREAM", ownerDealerId=d1)
    assert ok["userErrors"] == [] and ok["priceList"]["ownerDealer"] == {"code": "D0001"}

    # Not visible to it at all: reads as not found, as everywhere.
    hidden = await create_list(gql, tokens[DEALER1], code=unique_code("XF"), kind="DOWNSTREAM", ownerDealerId=d2)
    assert hidden["priceList"] is None and hidden["userErrors"][0]["code"] == "DEALER_NOT_FOUND"

    forbidden = [
        (DEALER1, {"kind": "DOWNSTREAM", "ownerDealerId": sub}),  # its sub-dealer prices its own stores
        (DEALER1, {"kind": "BASE"}),
        (STAFF1, {"kind": "DOWNSTREAM", "ownerDealerId": d1}),
        (SALES, {"kind": "BASE"}),
        (ANALYST, {"kind": "BASE"}),
        (STORE1, {"kind": "BASE"}),
    ]
    for who, fields in forbidden:
        out = await gql(
            """mutation($i: PriceListCreateInput!) { priceListCreate(input: $i) { priceList { id } } }""",
            {"i": {"code": unique_code("NO"), "name": "不许", **fields}}, token=tokens[who], expect_errors=True,
        )
        assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN", (who, fields, out)


async def test_create_validation(gql: Any, tokens: dict[str, str], demo: Demo) -> None:
    d1 = demo.dealers["D0001"]
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"code": "BASE"}, "CODE_TAKEN", ["code"]),
        ({"code": "空 格"}, "CODE_INVALID", ["code"]),
        ({"name": "  "}, "NAME_BLANK", ["name"]),
        ({"priority": -1}, "PRIORITY_INVALID", ["priority"]),
        ({"kind": "PROMOTION"}, "WINDOW_INVALID", ["validTo"]),
        ({"validFrom": "2030-01-01T00:00:00Z", "validTo": "2030-01-01T00:00:00Z"}, "WINDOW_INVALID", ["validTo"]),
        ({"kind": "CONTRACT"}, "CONDITION_INVALID", ["dealerId"]),
        ({"dealerId": d1}, "CONDITION_INVALID", ["dealerId"]),
        ({"kind": "DOWNSTREAM"}, "CONDITION_INVALID", ["ownerDealerId"]),
        ({"dealerTier": "A"}, "CONDITION_INVALID", ["kind"]),
        ({"kind": "CONTRACT", "dealerId": d1, "regionCode": "EAST"}, "CONDITION_INVALID", ["kind"]),
        ({"kind": "TIER", "dealerLevel": 3}, "CONDITION_INVALID", ["dealerLevel"]),
        ({"kind": "TIER", "regionCode": "ATLANTIS"}, "REGION_NOT_FOUND", ["regionCode"]),
        ({"kind": "CONTRACT", "dealerId": "RGVhbGVyOjk5OTk5OQ"}, "DEALER_NOT_FOUND", ["dealerId"]),
    ]
    for change, code, field in cases:
        fields = {"code": unique_code("BAD"), "kind": "BASE", **change}
        out = await create_list(gql, tokens[ADMIN], **fields)
        assert out["priceList"] is None, (change, out)
        assert [(e["code"], e["field"]) for e in out["userErrors"]] == [(code, field)], (change, out)
        assert out["userErrors"][0]["message"]


LINES_OF = """query($l: ID!) { node(id: $l) { ... on PriceList { lines(includeExpired: true) { totalCount } } } }"""


async def test_lines_validation_reports_every_bad_line_and_writes_nothing(
    gql: Any, tokens: dict[str, str], demo: Demo, engine: AsyncEngine
) -> None:
    admin = tokens[ADMIN]
    sku = await new_sku(gql, tokens, demo)
    base = await new_list(gql, admin, "BASE")
    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "100"}]) == []
    audits_before = await count(engine, "SELECT count(*) FROM price_audit WHERE price_list_id = :l", l=pk(base))
    bad = [
        {"skuId": sku, "minQuantity": 5, "amount": "120"},  # fine on its own
        {"skuId": "U2t1Ojk5OTk5OTk", "amount": "100"},
        {"skuId": sku, "minQuantity": 10, "amount": "0"},
        {"skuId": sku, "minQuantity": 20, "amount": "99.999"},
        {"skuId": sku, "minQuantity": 0, "amount": "100"},
        {"skuId": sku, "minQuantity": 5, "amount": "110"},  # same SKU and break as the first
        {"skuId": sku, "minQuantity": 30, "amount": "90", "validFrom": "2031-01-01T00:00:00Z",
         "validTo": "2030-01-01T00:00:00Z"},
    ]
    errors = await set_lines(gql, admin, base, bad)
    assert [(e["code"], e["field"]) for e in errors] == [
        ("AMOUNT_INVALID", ["lines", "2", "amount"]),
        ("AMOUNT_INVALID", ["lines", "3", "amount"]),
        ("MIN_QUANTITY_INVALID", ["lines", "4", "minQuantity"]),
        ("LINE_DUPLICATE", ["lines", "5", "skuId"]),
        ("WINDOW_INVALID", ["lines", "6", "validTo"]),
        ("SKU_NOT_FOUND", ["lines", "1", "skuId"]),
    ]
    assert (await gql(LINES_OF, {"l": base}, token=admin))["data"]["node"]["lines"]["totalCount"] == 1
    assert await count(engine, "SELECT count(*) FROM price_audit WHERE price_list_id = :l", l=pk(base)) == audits_before

    unknown = await set_lines(gql, admin, "UHJpY2VMaXN0Ojk5OTk5OQ", [{"skuId": sku, "amount": "1"}])
    assert [e["code"] for e in unknown] == ["PRICE_LIST_NOT_FOUND"]
    # A list dealer2 cannot see is "not found" for it, not "forbidden".
    d1_contract = (await gql('{ priceList(code: "HT-D0001") { id } }', token=tokens[ADMIN]))["data"]["priceList"]["id"]
    foreign = await set_lines(gql, tokens[DEALER2], d1_contract, [{"skuId": sku, "amount": "1"}])
    assert [e["code"] for e in foreign] == ["PRICE_LIST_NOT_FOUND"]
    # A list dealer1 sees but does not own is forbidden.
    q = """mutation($i: PriceListLinesSetInput!) { priceListLinesSet(input: $i) { userErrors { code } } }"""
    variables = {"i": {"priceListId": d1_contract, "lines": [{"skuId": sku, "amount": "1"}]}}
    out = await gql(q, variables, token=tokens[DEALER1], expect_errors=True)
    assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_changes_are_audited_with_actor_old_and_new(
    gql: Any, tokens: dict[str, str], demo: Demo, engine: AsyncEngine
) -> None:
    admin = tokens[ADMIN]
    admin_id = await user_id(gql, admin)
    sku = await new_sku(gql, tokens, demo)
    created = await create_list(gql, admin, code=unique_code("AUD"), kind="BASE")
    base = created["priceList"]["id"]
    rows = await audit_rows(engine, "entity = 'PRICE_LIST' AND entity_id = :i", i=pk(base))
    assert [(r["action"], r["actor_user_id"], r["old_values"]) for r in rows] == [("CREATE", admin_id, None)]
    assert rows[0]["new_values"]["code"] == created["priceList"]["code"]
    assert rows[0]["new_values"]["priority"] == 100 and rows[0]["changed_at"] is not None

    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "1000"}]) == []
    change_at = "2031-06-01T00:00:00+00:00"
    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "1080.50", "validFrom": change_at}]) == []
    rows = await audit_rows(engine, "entity = 'PRICE_LIST_LINE' AND price_list_id = :l", l=pk(base))
    summary = [(r["action"], (r["old_values"] or {}).get("amount"), (r["new_values"] or {}).get("amount"))
               for r in rows]
    assert summary == [("CREATE", None, "1000.00"), ("UPDATE", "1000.00", "1000.00"), ("CREATE", None, "1080.50")]
    ended = rows[1]
    assert ended["old_values"]["valid_to"] is None and ended["new_values"]["valid_to"] == change_at
    assert all(r["actor_user_id"] == admin_id and r["actor_api_key_id"] is None and r["sku_id"] == pk(sku)
               for r in rows)

    # The same price again changes (and audits) nothing.
    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "1080.50", "validFrom": change_at}]) == []
    assert len(await audit_rows(engine, "entity = 'PRICE_LIST_LINE' AND price_list_id = :l", l=pk(base))) == 3

    # replace: running lines end now, future ones are dropped (both audited).
    assert await set_lines(gql, admin, base, [{"skuId": sku, "amount": "990"}], replace=True) == []
    rows = await audit_rows(engine, "entity = 'PRICE_LIST_LINE' AND price_list_id = :l", l=pk(base))
    assert [r["action"] for r in rows[3:]] == ["DELETE", "UPDATE", "CREATE"]
    assert rows[3]["old_values"]["amount"] == "1080.50" and rows[3]["new_values"] is None


async def test_api_key_changes_are_audited_with_the_key(
    gql: Any, tokens: dict[str, str], demo: Demo, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        secret = await create_api_key(conn, demo.tenant_id, "erp", ["catalog:read", "catalog:write"])
    sku = await new_sku(gql, tokens, demo)
    base = await new_list(gql, secret, "BASE")
    assert await set_lines(gql, secret, base, [{"skuId": sku, "amount": "10"}]) == []
    rows = await audit_rows(engine, "price_list_id = :l", l=pk(base))
    assert len(rows) == 2 and all(r["actor_api_key_id"] and r["actor_user_id"] is None for r in rows)
    async with engine.begin() as conn:
        read_only = await create_api_key(conn, demo.tenant_id, "bi", ["catalog:read"])
    q = """mutation { priceListCreate(input: {code: "RO-1", name: "x", kind: BASE}) { priceList { id } } }"""
    out = await gql(q, token=read_only, expect_errors=True)
    assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("who", [DEALER1, DEALER2])
async def test_dealer_cannot_update_hq_lists(gql: Any, tokens: dict[str, str], who: str) -> None:
    base = (await gql('{ priceList(code: "BASE") { id } }', token=tokens[who]))["data"]["priceList"]["id"]
    q = """mutation($i: PriceListUpdateInput!) { priceListUpdate(input: $i) { userErrors { code } } }"""
    out = await gql(q, {"i": {"id": base, "status": "INACTIVE"}}, token=tokens[who], expect_errors=True)
    assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_update_validation(gql: Any, tokens: dict[str, str]) -> None:
    promo = (await gql('{ priceList(code: "PROMO-NEXT") { id validFrom } }', token=tokens[ADMIN]))["data"]["priceList"]
    q = """mutation($i: PriceListUpdateInput!) { priceListUpdate(input: $i) { priceList { validTo }
           userErrors { code field } } }"""
    out = (await gql(q, {"i": {"id": promo["id"], "validTo": "2001-01-01T00:00:00Z"}}, token=tokens[ADMIN]))
    assert out["data"]["priceListUpdate"] == {"priceList": None,
                                              "userErrors": [{"code": "WINDOW_INVALID", "field": ["validTo"]}]}
    out = (await gql(q, {"i": {"id": promo["id"], "name": " "}}, token=tokens[ADMIN]))
    assert out["data"]["priceListUpdate"]["userErrors"] == [{"code": "NAME_BLANK", "field": ["name"]}]


async def test_concurrent_uploads_keep_windows_apart(
    gql: Any, tokens: dict[str, str], demo: Demo, engine: AsyncEngine
) -> None:
    """Uploads to one list are serialised: whatever the interleaving, the lines of one SKU and
    break never overlap in time, and exactly one price holds now."""
    import asyncio

    admin = tokens[ADMIN]
    sku = await new_sku(gql, tokens, demo)
    base = await new_list(gql, admin, "BASE")
    results = await asyncio.gather(*(set_lines(gql, admin, base, [{"skuId": sku, "amount": str(100 + i)}])
                                     for i in range(8)))
    assert all(r == [] for r in results)
    async with engine.connect() as conn:
        overlaps = await conn.execute(sa.text(
            """SELECT count(*) FROM price_list_lines a JOIN price_list_lines b
                 ON a.price_list_id = b.price_list_id AND a.sku_id = b.sku_id AND a.min_quantity = b.min_quantity
                AND a.id < b.id AND tstzrange(a.valid_from, a.valid_to) && tstzrange(b.valid_from, b.valid_to)
               WHERE a.price_list_id = :l"""), {"l": pk(base)})
        assert overlaps.scalar_one() == 0
        current = await conn.execute(sa.text(
            "SELECT count(*) FROM price_list_lines WHERE price_list_id = :l AND valid_from <= now() "
            "AND (valid_to IS NULL OR valid_to > now())"), {"l": pk(base)})
        assert current.scalar_one() == 1
