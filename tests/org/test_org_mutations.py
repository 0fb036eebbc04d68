"""Organization mutations: every bad input is a clear userError and changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

ADMIN, DEALER1 = "admin@demo.example", "dealer1@demo.example"

CREATE = """mutation($i: DealerCreateInput!) { dealerCreate(input: $i) {
  dealer { id code name level tier creditLimit { amount currency } region { code } parent { code }
           warehouses { edges { node { code ownerKind } } } }
  userErrors { field code message } } }"""
UPDATE = """mutation($i: DealerUpdateInput!) { dealerUpdate(input: $i) {
  dealer { code name tier status creditLimit { amount } region { code } } userErrors { field code message } } }"""
STORE_CREATE = """mutation($i: StoreCreateInput!) { storeCreate(input: $i) {
  store { id code name format location { lat lng } dealer { code } region { code } warehouse { code ownerKind } }
  userErrors { field code message } } }"""
STORE_UPDATE = """mutation($i: StoreUpdateInput!) { storeUpdate(input: $i) {
  store { code name status location { lat lng } } userErrors { field code message } } }"""


async def _row_counts(engine: AsyncEngine) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM dealers), (SELECT count(*) FROM stores), (SELECT count(*) FROM warehouses)"
        ))).one()
    return row[0], row[1], row[2]


async def test_dealer_create_and_its_warehouse(gql: Any, tokens: dict[str, str]) -> None:
    data = {"code": "D9001", "name": "宁波新锐车业", "regionCode": "EAST", "tier": "B", "creditLimit": "250000.50"}
    out = (await gql(CREATE, {"i": data}, token=tokens[ADMIN]))["data"]["dealerCreate"]
    assert out["userErrors"] == []
    d = out["dealer"]
    assert (d["code"], d["level"], d["tier"], d["parent"]) == ("D9001", 1, "B", None)
    assert d["creditLimit"] == {"amount": "250000.50", "currency": "CNY"}
    assert d["warehouses"]["edges"] == [{"node": {"code": "W-D9001", "ownerKind": "DEALER"}}]


async def test_distributor_creates_sub_dealer_in_its_subtree(gql: Any, tokens: dict[str, str]) -> None:
    d1 = (await gql('{ dealer(code: "D0001") { id } }', token=tokens[DEALER1]))["data"]["dealer"]["id"]
    data = {"code": "D0001-77", "name": "下沙分销", "regionCode": "EAST", "parentId": d1}
    out = (await gql(CREATE, {"i": data}, token=tokens[DEALER1]))["data"]["dealerCreate"]
    assert out["userErrors"] == [] and out["dealer"]["level"] == 2 and out["dealer"]["parent"]["code"] == "D0001"
    mine = await gql('{ dealers(first: 250, filter: {search: "D0001-77"}) { totalCount } }', token=tokens[DEALER1])
    assert mine["data"]["dealers"]["totalCount"] == 1


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"code": "bad code!", "name": "x", "regionCode": "EAST"}, "CODE_INVALID", ["code"]),
        ({"code": "D0001", "name": "x", "regionCode": "EAST"}, "CODE_TAKEN", ["code"]),
        ({"code": "D9100", "name": "   ", "regionCode": "EAST"}, "NAME_BLANK", ["name"]),
        ({"code": "D9101", "name": "x", "regionCode": "NOWHERE"}, "REGION_NOT_FOUND", ["regionCode"]),
        ({"code": "D9102", "name": "x", "regionCode": "EAST", "creditLimit": "-1"}, "CREDIT_LIMIT_NEGATIVE",
         ["creditLimit"]),
        ({"code": "D9103", "name": "x", "regionCode": "EAST", "paymentTermsDays": 999}, "PAYMENT_TERMS_INVALID",
         ["paymentTermsDays"]),
        ({"code": "D9104", "name": "x", "regionCode": "EAST", "parentId": "RGVhbGVyOjk5OTk5OQ"}, "PARENT_NOT_FOUND",
         ["parentId"]),
        ({"code": "D9105", "name": "x", "regionCode": "EAST", "parentId": "not-an-id"}, "PARENT_NOT_FOUND",
         ["parentId"]),
    ],
)
async def test_dealer_create_bad_input_changes_nothing(
    data: dict[str, Any], code: str, field: list[str], gql: Any, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    before = await _row_counts(engine)
    out = (await gql(CREATE, {"i": data}, token=tokens[ADMIN]))["data"]["dealerCreate"]
    assert out["dealer"] is None
    assert [(e["code"], e["field"]) for e in out["userErrors"]] == [(code, field)]
    assert out["userErrors"][0]["message"]
    assert await _row_counts(engine) == before


async def test_sub_dealer_of_sub_dealer_is_refused(gql: Any, tokens: dict[str, str], engine: AsyncEngine) -> None:
    sub = (await gql('{ dealer(code: "D0001-01") { id } }', token=tokens[ADMIN]))["data"]["dealer"]["id"]
    before = await _row_counts(engine)
    out = (await gql(CREATE, {"i": {"code": "D9200", "name": "x", "regionCode": "EAST", "parentId": sub}},
                     token=tokens[ADMIN]))["data"]["dealerCreate"]
    assert out["userErrors"][0]["code"] == "PARENT_TOO_DEEP"
    assert await _row_counts(engine) == before


async def test_bad_enum_is_a_coded_error(gql: Any, tokens: dict[str, str]) -> None:
    body = await gql(CREATE, {"i": {"code": "D9300", "name": "x", "regionCode": "EAST", "tier": "Z"}},
                     token=tokens[ADMIN], expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_concurrent_creates_with_one_code_make_one_dealer(
    app: Any, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    """Ten real concurrent requests race for one code: one dealer, nine CODE_TAKEN, no 500."""
    data = {"code": "D-RACE", "name": "并发测试", "regionCode": "EAST"}

    async def one() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.post("/graphql", json={"query": CREATE, "variables": {"i": data}},
                             headers={"Authorization": f"Bearer {tokens[ADMIN]}"})
            return r.json()

    results = await asyncio.gather(*(one() for _ in range(10)))
    assert all("errors" not in r for r in results), results
    made = [r for r in results if r["data"]["dealerCreate"]["dealer"]]
    refused = [r["data"]["dealerCreate"]["userErrors"][0]["code"] for r in results
               if not r["data"]["dealerCreate"]["dealer"]]
    assert len(made) == 1 and refused == ["CODE_TAKEN"] * 9
    async with engine.connect() as conn:
        n = (await conn.execute(sa.text("SELECT count(*) FROM dealers WHERE code = 'D-RACE'"))).scalar_one()
        w = (await conn.execute(sa.text("SELECT count(*) FROM warehouses WHERE code = 'W-D-RACE'"))).scalar_one()
    assert (n, w) == (1, 1)


async def test_dealer_update(gql: Any, tokens: dict[str, str]) -> None:
    d = (await gql('{ dealer(code: "D0001-01") { id } }', token=tokens[ADMIN]))["data"]["dealer"]["id"]
    out = (await gql(UPDATE, {"i": {"id": d, "tier": "A", "creditLimit": "88888.80", "name": "新名字"}},
                     token=tokens[DEALER1]))["data"]["dealerUpdate"]
    assert out["userErrors"] == []
    assert out["dealer"]["tier"] == "A" and out["dealer"]["creditLimit"] == {"amount": "88888.80"}
    assert out["dealer"]["name"] == "新名字"
    # Unsent fields stay as they were.
    again = (await gql(UPDATE, {"i": {"id": d, "status": "SUSPENDED"}}, token=tokens[ADMIN]))["data"]["dealerUpdate"]
    assert again["dealer"]["tier"] == "A" and again["dealer"]["status"] == "SUSPENDED"


async def test_dealer_update_bad_input_changes_nothing(gql: Any, tokens: dict[str, str]) -> None:
    d = (await gql('{ dealer(code: "D0002") { id name creditLimit { amount } } }', token=tokens[ADMIN]))["data"]
    before = d["dealer"]
    for change, code in (({"creditLimit": "-5"}, "CREDIT_LIMIT_NEGATIVE"), ({"name": ""}, "NAME_BLANK"),
                         ({"regionCode": "MARS", "name": "改名"}, "REGION_NOT_FOUND")):
        out = (await gql(UPDATE, {"i": {"id": before["id"], **change}}, token=tokens[ADMIN]))["data"]["dealerUpdate"]
        assert out["userErrors"][0]["code"] == code and out["dealer"] is None
    after = (await gql('{ dealer(code: "D0002") { id name creditLimit { amount } } }', token=tokens[ADMIN]))
    assert after["data"]["dealer"] == before


async def test_store_create_and_update(gql: Any, tokens: dict[str, str]) -> None:
    d1 = (await gql('{ dealer(code: "D0001") { id } }', token=tokens[DEALER1]))["data"]["dealer"]["id"]
    data = {"code": "S-NEW-1", "name": "西湖体验店", "dealerId": d1, "regionCode": "EAST",
            "address": "杭州市西湖区文三路 1 号", "location": {"lat": 30.27, "lng": 120.15}, "format": "FLAGSHIP"}
    out = (await gql(STORE_CREATE, {"i": data}, token=tokens[DEALER1]))["data"]["storeCreate"]
    assert out["userErrors"] == []
    s = out["store"]
    assert s["dealer"]["code"] == "D0001" and s["format"] == "FLAGSHIP"
    assert s["location"] == {"lat": 30.27, "lng": 120.15}
    assert s["warehouse"] == {"code": "W-S-NEW-1", "ownerKind": "STORE"}
    upd = (await gql(STORE_UPDATE, {"i": {"id": s["id"], "status": "SUSPENDED", "name": "西湖店"}},
                     token=tokens[DEALER1]))["data"]["storeUpdate"]
    assert upd["userErrors"] == [] and upd["store"]["status"] == "SUSPENDED" and upd["store"]["name"] == "西湖店"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"code": "S 1"}, "CODE_INVALID"),
        ({"location": {"lat": 95.0, "lng": 10.0}}, "LOCATION_INVALID"),
        ({"regionCode": "NOPE"}, "REGION_NOT_FOUND"),
        ({"dealerId": "RGVhbGVyOjk5OTk5OQ"}, "DEALER_NOT_FOUND"),
    ],
)
async def test_store_create_bad_input(
    change: dict[str, Any], code: str, gql: Any, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    d1 = (await gql('{ dealer(code: "D0001") { id } }', token=tokens[ADMIN]))["data"]["dealer"]["id"]
    data = {"code": "S-BAD-1", "name": "坏店", "dealerId": d1, "regionCode": "EAST", **change}
    before = await _row_counts(engine)
    out = (await gql(STORE_CREATE, {"i": data}, token=tokens[ADMIN]))["data"]["storeCreate"]
    assert out["store"] is None and out["userErrors"][0]["code"] == code
    assert await _row_counts(engine) == before
