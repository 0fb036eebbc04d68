"""Stock lists, their filters and pages, the seeded stock, and no N+1 on a catalog page with stock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from stock_helpers import ADMIN, ANALYST, DEALER1, Places

from ymt_graph.db import count_statements
from ymt_graph.graph.ids import encode_gid
from ymt_graph.inventory import service

# These tests pin the resolver path (its statement counts); tests/compiled covers the compiled one.
COMPILED_READS = False

LEVELS = """query($f: StockLevelFilter, $first: Int, $after: String) {
  stockLevels(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id onHand reserved available inbound safetyStock reorderPoint belowReorderPoint updatedAt
                          warehouse { code } sku { code } } } } }"""


async def walk(gql: Any, token: str, query: str, field: str, variables: dict[str, Any], first: int) -> list[Any]:
    out: list[Any] = []
    after = None
    while True:
        conn = (await gql(query, {**variables, "first": first, "after": after}, token=token))["data"][field]
        out += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return out
        after = conn["pageInfo"]["endCursor"]


async def test_seeded_stock_balances_and_has_serials(engine: AsyncEngine, places: Places) -> None:
    async with engine.connect() as conn:
        check = await service.check_ledger(conn, places.tenant_id)
        hq = (await conn.execute(sa.text(
            """SELECT count(*) AS levels, min(on_hand) AS least FROM stock_levels l JOIN warehouses w
               ON w.id = l.warehouse_id WHERE w.owner_kind = 'HQ'"""))).one()
        active = (await conn.execute(sa.text("SELECT count(*) FROM skus WHERE status = 'ACTIVE'"))).scalar_one()
        over = (await conn.execute(sa.text(
            """SELECT count(*) FROM (SELECT warehouse_id, sku_id, count(*) AS n FROM serial_units
               WHERE status = 'IN_STOCK' GROUP BY 1, 2) u JOIN stock_levels l USING (warehouse_id, sku_id)
               WHERE u.n > l.on_hand"""))).scalar_one()
        units = (await conn.execute(sa.text("SELECT count(*) FROM serial_units"))).scalar_one()
    assert check.levels > 500 and check.mismatched == []
    assert hq.levels == 2 * active and hq.least >= 100
    assert 100 <= units <= 1000 and over == 0


async def test_levels_page_without_gaps_or_repeats(gql: Any, tokens: dict[str, str], places: Places) -> None:
    f = {"warehouseId": places.wgid("W-HQ-EAST")}
    whole = await walk(gql, tokens[DEALER1], LEVELS, "stockLevels", {"f": f}, 250)
    paged = await walk(gql, tokens[DEALER1], LEVELS, "stockLevels", {"f": f}, 7)
    assert [n["id"] for n in paged] == [n["id"] for n in whole] and len(whole) > 100
    for n in whole:
        assert n["available"] == n["onHand"] - n["reserved"] and n["warehouse"]["code"] == "W-HQ-EAST"
        assert n["belowReorderPoint"] == (n["available"] + n["inbound"] < n["reorderPoint"])


async def test_level_filters(gql: Any, tokens: dict[str, str], places: Places) -> None:
    d1 = (await gql('{ dealer(code: "D0001") { id } }', token=tokens[ADMIN]))["data"]["dealer"]["id"]
    mine = await walk(gql, tokens[ADMIN], LEVELS, "stockLevels", {"f": {"dealerId": d1}}, 250)
    assert mine and {n["warehouse"]["code"] for n in mine} <= {"W-D0001", "W-S00001", "W-S00002", "W-S00003"}
    low = await walk(gql, tokens[ANALYST], LEVELS, "stockLevels", {"f": {"belowReorderPoint": True}}, 250)
    assert low and all(n["belowReorderPoint"] for n in low)
    ok = (await gql(LEVELS, {"f": {"belowReorderPoint": False}, "first": 50}, token=tokens[ANALYST]))["data"]
    assert all(not e["node"]["belowReorderPoint"] for e in ok["stockLevels"]["edges"])
    sku = places.sgid(places.plain)
    by_sku = await walk(gql, tokens[ADMIN], LEVELS, "stockLevels", {"f": {"skuId": sku}}, 250)
    assert {n["sku"]["code"] for n in by_sku} == {places.codes[places.plain]}
    assert {"W-HQ-EAST", "W-HQ-SOUTH"} <= {n["warehouse"]["code"] for n in by_sku}
    node = (await gql("query($i: ID!) { node(id: $i) { ... on StockLevel { onHand sku { code } } } }",
                      {"i": by_sku[0]["id"]}, token=tokens[ADMIN]))["data"]["node"]
    assert node == {"onHand": by_sku[0]["onHand"], "sku": by_sku[0]["sku"]}


async def test_movement_filters_newest_first(gql: Any, tokens: dict[str, str], places: Places) -> None:
    adjust = """mutation($i: StockAdjustInput!) { stockAdjust(input: $i) { movement { id createdAt } userErrors
        { code } } }"""
    made = []
    for q in (3, -1, 2):
        out = await gql(adjust, {"i": {"warehouseId": places.wgid("W-HQ-SOUTH"), "skuId": places.sgid(places.plain),
                                       "quantity": q, "reason": f"盘点 {q}"}}, token=tokens[ADMIN])
        made.append(out["data"]["stockAdjust"]["movement"])
    q = """query($f: StockMovementFilter, $first: Int, $after: String) {
        stockMovements(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
          edges { node { id kind onHandDelta reason createdAt } } } }"""
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    f = {"warehouseId": places.wgid("W-HQ-SOUTH"), "skuId": places.sgid(places.plain), "kind": "ADJUSTMENT",
         "from": since}
    got = await walk(gql, tokens[ADMIN], q, "stockMovements", {"f": f}, 2)
    assert [m["id"] for m in got] == [m["id"] for m in reversed(made)]
    assert [m["onHandDelta"] for m in got] == [2, -1, 3] and got[0]["reason"] == "盘点 2"
    later = {**f, "from": None, "to": since}
    assert all(m["id"] not in {x["id"] for x in made}
               for m in await walk(gql, tokens[ADMIN], q, "stockMovements", {"f": later}, 250))
    opening = await walk(gql, tokens[ADMIN], q, "stockMovements",
                         {"f": {"warehouseId": places.wgid("W-HQ-SOUTH"), "kind": "RECEIPT"}}, 250)
    assert opening and all(m["kind"] == "RECEIPT" and m["onHandDelta"] > 0 for m in opening)


async def test_catalog_page_with_available_costs_constant_statements(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places
) -> None:
    q = """query($w: ID!, $first: Int) { skus(first: $first) { edges { node { code
        available(warehouseId: $w) stockLevel(warehouseId: $w) { onHand reserved } } } } }"""
    counts = []
    for first in (5, 50):
        with count_statements(engine) as c:
            data = (await gql(q, {"w": places.wgid("W-HQ-EAST"), "first": first}, token=tokens[DEALER1]))["data"]
        counts.append(c.count)
        nodes = [e["node"] for e in data["skus"]["edges"]]
        assert len(nodes) == first
        for n in nodes:
            assert (n["stockLevel"] is None and n["available"] == 0) or (
                n["available"] == n["stockLevel"]["onHand"] - n["stockLevel"]["reserved"])
    # The SKU page, then one statement for all (SKU, warehouse) levels.
    assert counts == [2, 2], (counts, c.statements)
    no_such = encode_gid("Warehouse", 999_999)
    data = (await gql(q, {"w": no_such, "first": 3}, token=tokens[DEALER1]))["data"]["skus"]["edges"]
    assert all(e["node"]["available"] is None and e["node"]["stockLevel"] is None for e in data)


async def test_stock_lists_cost_constant_statements(gql: Any, tokens: dict[str, str], engine: AsyncEngine) -> None:
    counts = []
    for first in (5, 100):
        with count_statements(engine) as c:
            await gql(LEVELS, {"first": first}, token=tokens[DEALER1])
        counts.append(c.count)
    # Levels (with their count), their warehouses, their SKUs.
    assert counts[0] == counts[1] <= 3, counts
