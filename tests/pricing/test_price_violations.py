"""乱价 monitoring: ``record_sale_prices`` (called by the sales centre) checks each reported
sale against the band of where it was sold and records violations; ``priceViolations``
shows them to HQ and analysts, and to a dealer for its own subtree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pricing_helpers import ADMIN, ANALYST, DEALER1, DEALER2, SALES, STORE1, SUB1, Demo, new_sku, pk
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.pricing import service
from ymt_graph.pricing.service import ReportedSale

EBIKE = "EB-XY500-RED-48V"
SOLD_AT = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)

VIOLATIONS = """query($f: PriceViolationFilter) { priceViolations(filter: $f, first: 100) { totalCount
  edges { node { id kind unitPrice { amount } floor { amount } ceiling { amount } soldAt
                 dealer { code } store { code } sku { code } region { code } } } } }"""


@pytest.fixture(scope="module")
async def recorded(gql: Any, tokens: dict[str, str], demo: Demo, engine: AsyncEngine) -> dict[str, Any]:
    """Six reported sales of one e-bike, three of them off their band."""
    q = f"""{{ sku(code: "{EBIKE}") {{ id national: priceLimit {{ floor {{ amount }} ceiling {{ amount }} }}
                east: priceLimit(regionCode: "EAST") {{ floor {{ amount }} }} }}
              s1: store(code: "S00001") {{ id }} s4: store(code: "S00004") {{ id }}
              s6: store(code: "S00006") {{ id }} }}"""
    data = (await gql(q, token=tokens[ADMIN]))["data"]
    national_floor = Decimal(data["sku"]["national"]["floor"]["amount"])
    east_floor = Decimal(data["sku"]["east"]["floor"]["amount"])
    ceiling = Decimal(data["sku"]["national"]["ceiling"]["amount"])
    between = east_floor - Decimal("1.00")
    assert national_floor < between, "EAST's band is the stricter one"
    sku, unbanded = pk(data["sku"]["id"]), pk(await new_sku(gql, tokens, demo))
    d = {code: pk(gid) for code, gid in demo.dealers.items()}
    s1, s4, s6 = pk(data["s1"]["id"]), pk(data["s4"]["id"]), pk(data["s6"]["id"])
    sales = [
        ReportedSale(d["D0001"], s1, sku, between, SOLD_AT),  # 杭州 store: under EAST's floor
        ReportedSale(d["D0002"], s4, sku, between, SOLD_AT),  # 广州 store: fine nationally
        ReportedSale(d["D0002"], None, sku, ceiling + Decimal("0.01"), SOLD_AT),  # dealer's own sale, too dear
        ReportedSale(d["D0001"], s1, sku, east_floor, SOLD_AT),  # on the floor is inside
        ReportedSale(d["D0001"], None, unbanded, Decimal("1.00"), SOLD_AT),  # no band, no violation
        ReportedSale(d["D0001-01"], s6, sku, between, SOLD_AT + timedelta(hours=1)),  # 宁波: EAST too
    ]
    async with engine.begin() as conn:
        rows = await service.record_sale_prices(conn, demo.tenant_id, sales)
    return {"rows": rows, "sku": data["sku"]["id"], "east_floor": east_floor, "ceiling": ceiling, "between": between}


async def test_violations_are_recorded_with_their_band(recorded: dict[str, Any], demo: Demo) -> None:
    rows = recorded["rows"]
    d = {pk(gid): code for code, gid in demo.dealers.items()}
    got = [(d[r.dealer_id], r.kind, r.unit_price, r.floor, r.region_id is not None) for r in rows]
    assert got == [
        ("D0001", "BELOW_FLOOR", recorded["between"], recorded["east_floor"], True),
        ("D0002", "ABOVE_CEILING", recorded["ceiling"] + Decimal("0.01"), rows[1].floor, False),
        ("D0001-01", "BELOW_FLOOR", recorded["between"], recorded["east_floor"], True),
    ]
    assert all(r.sold_at >= SOLD_AT and r.id for r in rows)


async def test_nothing_to_record(engine: AsyncEngine, demo: Demo) -> None:
    async with engine.begin() as conn:
        assert await service.record_sale_prices(conn, demo.tenant_id, []) == []


EXPECTED = {
    ADMIN: {"D0001", "D0002", "D0001-01"},
    ANALYST: {"D0001", "D0002", "D0001-01"},
    SALES: {"D0001", "D0001-01"},  # area EAST
    DEALER1: {"D0001", "D0001-01"},  # its subtree
    SUB1: {"D0001-01"},
    DEALER2: {"D0002"},
    STORE1: set(),
}


@pytest.mark.parametrize("who", list(EXPECTED))
async def test_who_sees_which_violations(gql: Any, tokens: dict[str, str], recorded: dict[str, Any], who: str) -> None:
    out = (await gql(VIOLATIONS, {"f": {"skuId": recorded["sku"]}}, token=tokens[who]))["data"]["priceViolations"]
    assert {e["node"]["dealer"]["code"] for e in out["edges"]} == EXPECTED[who]
    assert out["totalCount"] == len(EXPECTED[who])


async def test_violation_fields_and_filters(
    gql: Any, tokens: dict[str, str], recorded: dict[str, Any], demo: Demo
) -> None:
    admin, sku = tokens[ADMIN], recorded["sku"]
    out = (await gql(VIOLATIONS, {"f": {"skuId": sku, "dealerId": demo.dealers["D0001"]}}, token=admin))["data"]
    (node,) = [e["node"] for e in out["priceViolations"]["edges"]]
    assert node["kind"] == "BELOW_FLOOR" and node["store"] == {"code": "S00001"} and node["sku"] == {"code": EBIKE}
    assert node["region"] == {"code": "EAST"} and node["floor"] == {"amount": str(recorded["east_floor"])}
    assert node["unitPrice"] == {"amount": str(recorded["between"])}
    assert datetime.fromisoformat(node["soldAt"]) == SOLD_AT

    def window(start: datetime | None, end: datetime | None) -> dict[str, Any]:
        return {"skuId": sku, "from": start.isoformat() if start else None, "to": end.isoformat() if end else None}

    async def total(f: dict[str, Any]) -> int:
        return int((await gql(VIOLATIONS, {"f": f}, token=admin))["data"]["priceViolations"]["totalCount"])

    assert await total(window(SOLD_AT, None)) == 3
    assert await total(window(None, SOLD_AT)) == 0, "`to` is exclusive"
    assert await total(window(SOLD_AT + timedelta(seconds=1), None)) == 1
    assert await total(window(SOLD_AT, SOLD_AT + timedelta(hours=1))) == 2

    # dealer2 cannot reach D0001's violation by id either.
    assert (await gql("query($i: ID!) { node(id: $i) { id } }", {"i": node["id"]}, token=tokens[DEALER2]))[
        "data"] == {"node": None}
    assert (await gql("query($i: ID!) { node(id: $i) { id } }", {"i": node["id"]}, token=tokens[DEALER1]))[
        "data"] == {"node": {"id": node["id"]}}


async def test_seeded_violations_and_paging(gql: Any, tokens: dict[str, str]) -> None:
    q = """query($a: String) { priceViolations(first: 4, after: $a) { totalCount pageInfo { hasNextPage endCursor }
             edges { node { id kind } } } }"""
    first = (await gql(q, token=tokens[ANALYST]))["data"]["priceViolations"]
    assert first["totalCount"] >= 10 and first["pageInfo"]["hasNextPage"]
    second = (await gql(q, {"a": first["pageInfo"]["endCursor"]}, token=tokens[ANALYST]))["data"]["priceViolations"]
    ids = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert len(set(ids)) == 8 and [pk(i) for i in ids] == sorted(pk(i) for i in ids)
