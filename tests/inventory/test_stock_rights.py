"""Who sees and changes which stock, per demo role (expectations stated per role, not derived)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from stock_helpers import (
    ADMIN,
    ANALYST,
    DEALER1,
    DEALER2,
    SALES,
    STAFF1,
    STORE1,
    SUB1,
    Places,
    level,
    snapshot,
)

from ymt_graph import access
from ymt_graph.access import Principal, Role
from ymt_graph.graph.ids import decode_gid, encode_gid

ADJUST = """mutation($i: StockAdjustInput!) { stockAdjust(input: $i) {
  movement { id } userErrors { code } } }"""
LEVELS = """query($f: StockLevelFilter) { stockLevels(filter: $f, first: 250) { totalCount
  edges { node { id onHand warehouse { code } } } } }"""

# Which warehouses' stock each role may change (others: FORBIDDEN if seen, WAREHOUSE_NOT_FOUND if not).
WRITES: dict[str, dict[str, str]] = {
    ADMIN: {"W-HQ-EAST": "ok", "W-D0001": "ok", "W-D0001-01": "ok", "W-D0002": "ok", "W-S00001": "ok"},
    SALES: {"W-HQ-EAST": "FORBIDDEN", "W-D0001": "FORBIDDEN", "W-D0002": "WAREHOUSE_NOT_FOUND"},
    ANALYST: {"W-HQ-EAST": "FORBIDDEN", "W-D0001": "FORBIDDEN", "W-D0002": "FORBIDDEN"},
    DEALER1: {"W-HQ-EAST": "FORBIDDEN", "W-D0001": "ok", "W-D0001-01": "ok", "W-S00001": "ok",
              "W-D0002": "WAREHOUSE_NOT_FOUND", "W-S00004": "WAREHOUSE_NOT_FOUND"},
    STAFF1: {"W-D0001": "ok", "W-S00001": "ok", "W-HQ-SOUTH": "FORBIDDEN", "W-D0002": "WAREHOUSE_NOT_FOUND"},
    DEALER2: {"W-D0002": "ok", "W-S00004": "ok", "W-D0001": "WAREHOUSE_NOT_FOUND",
              "W-D0001-01": "WAREHOUSE_NOT_FOUND", "W-HQ-EAST": "FORBIDDEN"},
    SUB1: {"W-D0001-01": "ok", "W-D0001": "WAREHOUSE_NOT_FOUND", "W-S00001": "WAREHOUSE_NOT_FOUND"},
    STORE1: {"W-S00001": "ok", "W-S00002": "WAREHOUSE_NOT_FOUND", "W-D0001": "WAREHOUSE_NOT_FOUND",
             "W-HQ-EAST": "FORBIDDEN"},
}
CASES = [(who, wh, want) for who, whs in WRITES.items() for wh, want in whs.items()]


@pytest.mark.parametrize(("who", "wh", "want"), CASES, ids=[f"{w.split('@')[0]}-{h}" for w, h, _ in CASES])
async def test_who_may_adjust_which_stock(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places, who: str, wh: str, want: str
) -> None:
    before = await level(engine, places.wh[wh], places.plain)
    data = {"warehouseId": places.wgid(wh), "skuId": places.sgid(places.plain), "quantity": 1, "reason": "盘点"}
    body = await gql(ADJUST, {"i": data}, token=tokens[who], expect_errors=True)
    after = await level(engine, places.wh[wh], places.plain)
    if want == "ok":
        assert body["data"]["stockAdjust"]["userErrors"] == [] and after[0] == before[0] + 1
    elif want == "FORBIDDEN":
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN" and after == before
    else:
        assert body["data"]["stockAdjust"]["userErrors"] == [{"code": want}] and after == before


async def test_dealer2_cannot_see_d0001_stock(gql: Any, tokens: dict[str, str], places: Places) -> None:
    mine = (await gql(LEVELS, {"f": {"warehouseId": places.wgid("W-D0001")}}, token=tokens[DEALER1]))["data"]
    assert mine["stockLevels"]["totalCount"] > 0
    level_id = mine["stockLevels"]["edges"][0]["node"]["id"]
    theirs = (await gql(LEVELS, {"f": {"warehouseId": places.wgid("W-D0001")}}, token=tokens[DEALER2]))["data"]
    assert theirs["stockLevels"] == {"totalCount": 0, "edges": []}
    node = await gql("query($i: ID!) { node(id: $i) { id } }", {"i": level_id}, token=tokens[DEALER2])
    assert node["data"]["node"] is None
    by_dealer = await gql(LEVELS, {"f": {"dealerId": encode_gid("Dealer", await _dealer(gql, tokens, "D0001"))}},
                          token=tokens[DEALER2])
    assert by_dealer["data"]["stockLevels"]["totalCount"] == 0
    everything = (await gql(LEVELS, token=tokens[DEALER2]))["data"]["stockLevels"]["edges"]
    codes = {e["node"]["warehouse"]["code"] for e in everything}
    assert "W-D0001" not in codes and "W-D0001-01" not in codes
    moves = """query($f: StockMovementFilter) { stockMovements(filter: $f) { totalCount } }"""
    f = {"warehouseId": places.wgid("W-D0001")}
    assert (await gql(moves, {"f": f}, token=tokens[DEALER1]))["data"]["stockMovements"]["totalCount"] > 0
    assert (await gql(moves, {"f": f}, token=tokens[DEALER2]))["data"]["stockMovements"]["totalCount"] == 0
    # Sku.available / Sku.stockLevel at a warehouse you may not see: null.
    q = """query($w: ID!, $s: ID!) { node(id: $s) { ... on Sku { available(warehouseId: $w)
             stockLevel(warehouseId: $w) { onHand } } } }"""
    v = {"w": places.wgid("W-D0001"), "s": places.sgid(places.plain)}
    assert (await gql(q, v, token=tokens[DEALER2]))["data"]["node"] == {"available": None, "stockLevel": None}
    seen = (await gql(q, v, token=tokens[DEALER1]))["data"]["node"]
    assert seen["available"] is not None and seen["stockLevel"]["onHand"] >= seen["available"]


async def test_hq_stock_is_everyones_but_hq_ledger_is_hqs(gql: Any, tokens: dict[str, str], places: Places) -> None:
    f = {"warehouseId": places.wgid("W-HQ-EAST")}
    for who in (DEALER2, STORE1, SUB1, ANALYST):
        assert (await gql(LEVELS, {"f": f}, token=tokens[who]))["data"]["stockLevels"]["totalCount"] > 100
    moves = """query($f: StockMovementFilter) { stockMovements(filter: $f) { totalCount } }"""
    assert (await gql(moves, {"f": f}, token=tokens[DEALER2]))["data"]["stockMovements"]["totalCount"] == 0
    assert (await gql(moves, {"f": f}, token=tokens[ANALYST]))["data"]["stockMovements"]["totalCount"] > 100
    q = """query($w: ID!, $s: ID!) { node(id: $s) { ... on Sku { available(warehouseId: $w) } } }"""
    v = {"w": places.wgid("W-HQ-EAST"), "s": places.sgid(places.plain)}
    assert (await gql(q, v, token=tokens[STORE1]))["data"]["node"]["available"] > 0


async def test_sales_sees_its_area_only(gql: Any, tokens: dict[str, str], places: Places) -> None:
    east = (await gql(LEVELS, {"f": {"warehouseId": places.wgid("W-D0001")}}, token=tokens[SALES]))["data"]
    south = (await gql(LEVELS, {"f": {"warehouseId": places.wgid("W-D0002")}}, token=tokens[SALES]))["data"]
    assert east["stockLevels"]["totalCount"] > 0 and south["stockLevels"]["totalCount"] == 0


async def test_serial_units_are_traced_by_those_who_held_them(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places
) -> None:
    data = {"warehouseId": places.wgid("W-D0001"), "skuId": places.sgid(places.tracked), "quantity": 1,
            "reason": "入库", "serials": ["VIN-R-0001"]}
    assert (await gql(ADJUST, {"i": data}, token=tokens[ADMIN]))["data"]["stockAdjust"]["userErrors"] == []
    q = """query($s: String!) { serialUnit(serial: $s) { serial status } }"""
    for who, visible in ((ADMIN, True), (ANALYST, True), (DEALER1, True), (STAFF1, True), (SALES, True),
                         (DEALER2, False), (SUB1, False), (STORE1, False)):
        unit = (await gql(q, {"s": "VIN-R-0001"}, token=tokens[who]))["data"]["serialUnit"]
        assert (unit is not None) == visible, who
    # A seeded unit in HQ stock: HQ's ledger, so HQ's to trace.
    async with engine.connect() as conn:
        hq_serial = (await conn.execute(sa.text(
            "SELECT serial FROM serial_units WHERE warehouse_id = :w ORDER BY id LIMIT 1"),
            {"w": places.wh["W-HQ-EAST"]})).scalar_one()
    assert (await gql(q, {"s": hq_serial}, token=tokens[ADMIN]))["data"]["serialUnit"]["status"] == "IN_STOCK"
    assert (await gql(q, {"s": hq_serial}, token=tokens[DEALER1]))["data"]["serialUnit"] is None
    unit_id = (await gql("query($s: String!) { serialUnit(serial: $s) { id } }", {"s": "VIN-R-0001"},
                         token=tokens[ADMIN]))["data"]["serialUnit"]["id"]
    node = "query($i: ID!) { node(id: $i) { ... on SerialUnit { serial } } }"
    assert (await gql(node, {"i": unit_id}, token=tokens[DEALER2]))["data"]["node"] is None
    assert (await gql(node, {"i": unit_id}, token=tokens[DEALER1]))["data"]["node"] == {"serial": "VIN-R-0001"}


async def test_dealer2_cannot_move_or_receive_d0001_stock(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places
) -> None:
    transfer = """mutation($i: StockTransferInput!) { stockTransfer(input: $i) {
        transfer { id } userErrors { field code } } }"""
    lines = [{"skuId": places.sgid(places.plain), "quantity": 1}]
    made = (await gql(transfer, {"i": {"fromWarehouseId": places.wgid("W-D0001"),
                                       "toWarehouseId": places.wgid("W-S00001"), "lines": lines}},
                      token=tokens[DEALER1]))["data"]["stockTransfer"]
    before = await snapshot(engine)
    out = (await gql(transfer, {"i": {"fromWarehouseId": places.wgid("W-D0001"),
                                      "toWarehouseId": places.wgid("W-D0002"), "lines": lines}},
                     token=tokens[DEALER2]))["data"]["stockTransfer"]
    assert out["userErrors"] == [{"field": ["fromWarehouseId"], "code": "WAREHOUSE_NOT_FOUND"}]
    # Into another dealer's warehouse: not a warehouse of yours to fill.
    out = (await gql(transfer, {"i": {"fromWarehouseId": places.wgid("W-D0001"),
                                      "toWarehouseId": places.wgid("W-D0002"), "lines": lines}},
                     token=tokens[DEALER1]))["data"]["stockTransfer"]
    assert out["userErrors"] == [{"field": ["toWarehouseId"], "code": "WAREHOUSE_NOT_FOUND"}]
    receive = """mutation($i: StockTransferReceiveInput!) { stockTransferReceive(input: $i) {
        transfer { id } userErrors { code } } }"""
    got = (await gql(receive, {"i": {"transferId": made["transfer"]["id"]}}, token=tokens[DEALER2]))["data"]
    assert got["stockTransferReceive"]["userErrors"] == [{"code": "TRANSFER_NOT_FOUND"}]
    node = "query($i: ID!) { node(id: $i) { id } }"
    assert (await gql(node, {"i": made["transfer"]["id"]}, token=tokens[DEALER2]))["data"]["node"] is None
    # A transfer the principal sees but whose destination it may not run: FORBIDDEN.
    body = await gql(receive, {"i": {"transferId": made["transfer"]["id"]}}, token=tokens[ANALYST],
                     expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await snapshot(engine) == before


async def _dealer(gql: Any, tokens: dict[str, str], code: str) -> int:
    gid = (await gql("query($c: String) { dealer(code: $c) { id } }", {"c": code}, token=tokens[ADMIN]))
    decoded = decode_gid(gid["data"]["dealer"]["id"])
    assert decoded is not None
    return decoded[1]


def _key(dealer: bool, scopes: set[str]) -> Principal:
    return Principal(tenant_id=1, role=Role.INTEGRATION, api_key_id=9, dealer_id=5 if dealer else None,
                     dealer_path="/5/" if dealer else None, scopes=frozenset(scopes))


@pytest.mark.parametrize(
    ("principal", "owner", "path", "want"),
    [
        (_key(False, {"warehouses:write"}), "HQ", None, True),
        (_key(False, {"warehouses:read"}), "HQ", None, False),
        (_key(True, {"warehouses:write"}), "DEALER", "/5/77/", True),
        (_key(True, {"warehouses:write"}), "STORE", "/5/", True),
        (_key(True, {"warehouses:write"}), "DEALER", "/6/", False),
        (_key(True, {"warehouses:write"}), "HQ", None, False),
    ],
)
def test_api_keys_change_stock_with_warehouses_write(principal: Principal, owner: str, path: str | None,
                                                     want: bool) -> None:
    assert access.may_write_stock(principal, owner, path, None) is want
