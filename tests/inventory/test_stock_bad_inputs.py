"""Every bad input gets a clear userError and changes nothing; serials are unique per tenant."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from stock_helpers import ADMIN, DEALER1, DEALER2, Places, level, snapshot

from ymt_graph.graph.ids import encode_gid

ADJUST = """mutation($i: StockAdjustInput!) { stockAdjust(input: $i) {
  movement { id } stockLevel { onHand } userErrors { field code message } } }"""
TRANSFER = """mutation($i: StockTransferInput!) { stockTransfer(input: $i) {
  transfer { id } userErrors { field code message } } }"""
RECEIVE = """mutation($i: StockTransferReceiveInput!) { stockTransferReceive(input: $i) {
  transfer { id } userErrors { field code message } } }"""
PLAN = """mutation($i: StockLevelUpdateInput!) { stockLevelUpdate(input: $i) {
  stockLevel { safetyStock reorderPoint belowReorderPoint } userErrors { field code message } } }"""
NO_SUCH_WAREHOUSE = encode_gid("Warehouse", 999_999)
NO_SUCH_SKU = encode_gid("Sku", 999_999)


@pytest.fixture(scope="module")
async def registered(gql: Any, tokens: dict[str, str], places: Places) -> list[str]:
    """Two serial units in stock at D0001 (and one at D0001-01, some plain stock at D0001)."""
    serials = ["VIN-B-0001", "VIN-B-0002"]
    for wh, sku, n, names in (("W-D0001", places.tracked, 2, serials), ("W-D0001-01", places.tracked, 1, ["VIN-B-3"]),
                              ("W-D0001", places.plain, 5, [])):
        out = await gql(ADJUST, {"i": {"warehouseId": places.wgid(wh), "skuId": places.sgid(sku), "quantity": n,
                                       "reason": "入库", "serials": names}}, token=tokens[ADMIN])
        assert out["data"]["stockAdjust"]["userErrors"] == []
    return serials


def adjust_cases(places: Places) -> list[tuple[str, dict[str, Any], str, list[str] | None, str]]:
    """(name, input changes, code, field, a word the message must contain)."""
    return [
        ("unknown warehouse", {"warehouseId": NO_SUCH_WAREHOUSE}, "WAREHOUSE_NOT_FOUND", ["warehouseId"], "not found"),
        ("foreign warehouse", {"warehouseId": places.wgid("W-D0002")}, "WAREHOUSE_NOT_FOUND", ["warehouseId"],
         "not found"),
        ("malformed warehouse id", {"warehouseId": "nonsense"}, "WAREHOUSE_NOT_FOUND", ["warehouseId"], "not found"),
        ("unknown sku", {"skuId": NO_SUCH_SKU}, "SKU_NOT_FOUND", ["skuId"], "SKU"),
        ("zero quantity", {"quantity": 0}, "QUANTITY_INVALID", ["quantity"], "non-zero"),
        ("negative stock", {"quantity": -999_999}, "INSUFFICIENT_STOCK", ["quantity"], "available"),
        ("blank reason", {"reason": "  "}, "REASON_BLANK", ["reason"], "why"),
        ("serials on a plain sku", {"serials": ["VIN-X-1"]}, "SERIAL_NOT_TRACKED", ["serials"], "not serial-tracked"),
        ("serial count", {"skuId": places.sgid(places.tracked), "quantity": 2, "serials": ["VIN-N-1"]},
         "SERIAL_COUNT_MISMATCH", ["serials"], "2 units"),
        ("no serials for new tracked units", {"skuId": places.sgid(places.tracked), "quantity": 1},
         "SERIAL_COUNT_MISMATCH", ["serials"], "serial"),
        ("duplicate serials in the call", {"skuId": places.sgid(places.tracked), "quantity": 2,
                                           "serials": ["VIN-D-1", "vin-d-1"]}, "SERIAL_DUPLICATE", ["serials"],
         "VIN-D-1"),
        ("serial registered already", {"skuId": places.sgid(places.tracked), "quantity": 2,
                                       "serials": ["VIN-NEW-9", "VIN-B-0001"]}, "SERIAL_DUPLICATE", ["serials"],
         "VIN-B-0001"),
        ("unknown serials leaving", {"skuId": places.sgid(places.tracked), "quantity": -1,
                                     "serials": ["VIN-NOPE-1"]}, "SERIAL_NOT_FOUND", ["serials"], "VIN-NOPE-1"),
        ("malformed serial", {"skuId": places.sgid(places.tracked), "quantity": 1, "serials": ["VIN 1"]},
         "SERIAL_INVALID", ["serials"], "VIN 1"),
        ("idempotency key too long", {"idempotencyKey": "k" * 129}, "IDEMPOTENCY_KEY_INVALID", ["idempotencyKey"],
         "128"),
    ]


async def test_bad_adjustments_change_nothing(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places, registered: list[str]
) -> None:
    base = {"warehouseId": places.wgid("W-D0001"), "skuId": places.sgid(places.plain), "quantity": 1,
            "reason": "盘点"}
    for name, change, code, field, word in adjust_cases(places):
        before = await snapshot(engine)
        out = (await gql(ADJUST, {"i": {**base, **change}}, token=tokens[DEALER1]))["data"]["stockAdjust"]
        assert out["movement"] is None and out["stockLevel"] is None, name
        [err] = out["userErrors"]
        assert (err["code"], err["field"]) == (code, field), (name, err)
        assert word in err["message"], (name, err)
        assert await snapshot(engine) == before, name


async def test_bad_transfers_change_nothing(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places, registered: list[str]
) -> None:
    plain, tracked = places.sgid(places.plain), places.sgid(places.tracked)
    base = {"fromWarehouseId": places.wgid("W-D0001"), "toWarehouseId": places.wgid("W-S00001"),
            "lines": [{"skuId": plain, "quantity": 1}]}
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"toWarehouseId": places.wgid("W-D0001")}, "SAME_WAREHOUSE", ["toWarehouseId"]),
        ({"lines": []}, "LINES_EMPTY", ["lines"]),
        ({"lines": [{"skuId": plain, "quantity": 0}]}, "QUANTITY_INVALID", ["lines", "0", "quantity"]),
        ({"lines": [{"skuId": plain, "quantity": 1}, {"skuId": NO_SUCH_SKU, "quantity": 1}]}, "SKU_NOT_FOUND",
         ["lines", "1", "skuId"]),
        ({"lines": [{"skuId": plain, "quantity": 1}, {"skuId": places.sgid(places.plain2), "quantity": 10**6}]},
         "INSUFFICIENT_STOCK", ["lines", "1", "quantity"]),
        ({"toWarehouseId": NO_SUCH_WAREHOUSE}, "WAREHOUSE_NOT_FOUND", ["toWarehouseId"]),
        ({"lines": [{"skuId": tracked, "quantity": 2, "serials": registered[:1]}]}, "SERIAL_COUNT_MISMATCH",
         ["lines", "0", "serials"]),
        ({"lines": [{"skuId": tracked, "quantity": 1, "serials": ["VIN-NOPE-2"]}]}, "SERIAL_NOT_FOUND",
         ["lines", "0", "serials"]),
        # Serials at another warehouse are not at the source.
        ({"fromWarehouseId": places.wgid("W-D0001-01"), "lines": [{"skuId": tracked, "quantity": 1,
                                                                     "serials": registered[:1]}]},
         "SERIAL_NOT_FOUND", ["lines", "0", "serials"]),
        ({"note": "x" * 501}, "NOTE_TOO_LONG", ["note"]),
    ]
    for change, code, field in cases:
        before = await snapshot(engine)
        out = (await gql(TRANSFER, {"i": {**base, **change}}, token=tokens[DEALER1]))["data"]["stockTransfer"]
        assert out["transfer"] is None
        [err] = out["userErrors"]
        assert (err["code"], err["field"]) == (code, field), (change, err)
        assert await snapshot(engine) == before, change
    unknown = (await gql(RECEIVE, {"i": {"transferId": encode_gid("StockTransfer", 999_999)}},
                         token=tokens[DEALER1]))["data"]["stockTransferReceive"]
    assert unknown["userErrors"][0]["code"] == "TRANSFER_NOT_FOUND"


async def test_insufficient_stock_message_names_sku_wanted_and_available(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places
) -> None:
    on_hand, reserved, _ = await level(engine, places.wh["W-D0001"], places.plain2)
    out = (await gql(TRANSFER, {"i": {"fromWarehouseId": places.wgid("W-D0001"),
                                      "toWarehouseId": places.wgid("W-S00001"),
                                      "lines": [{"skuId": places.sgid(places.plain2), "quantity": on_hand + 1}]}},
                     token=tokens[DEALER1]))["data"]["stockTransfer"]
    msg = out["userErrors"][0]["message"]
    assert places.codes[places.plain2] in msg and f"wanted {on_hand + 1}" in msg
    assert f"available {on_hand - reserved}" in msg


async def test_unnamed_opening_stock_may_leave_but_registered_units_must_be_named(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places, registered: list[str]
) -> None:
    wh, sku = places.wh["W-D0001"], places.tracked
    on_hand = (await level(engine, wh, sku))[0]
    unnamed = on_hand - len(registered)  # the rest is opening stock without serials
    base = {"warehouseId": places.wgid("W-D0001"), "skuId": places.sgid(sku), "reason": "报损"}
    if unnamed > 0:
        out = (await gql(ADJUST, {"i": {**base, "quantity": -unnamed}}, token=tokens[DEALER1]))["data"]
        assert out["stockAdjust"]["userErrors"] == []
    before = await snapshot(engine)
    out = (await gql(ADJUST, {"i": {**base, "quantity": -1}}, token=tokens[DEALER1]))["data"]["stockAdjust"]
    assert out["userErrors"][0]["code"] == "SERIAL_COUNT_MISMATCH"
    assert await snapshot(engine) == before
    out = (await gql(ADJUST, {"i": {**base, "quantity": -1, "serials": registered[:1]}},
                     token=tokens[DEALER1]))["data"]["stockAdjust"]
    assert out["userErrors"] == [] and out["stockLevel"]["onHand"] == 1
    unit = (await gql('{ serialUnit(serial: "VIN-B-0001") { status history { totalCount } } }',
                      token=tokens[DEALER1]))["data"]["serialUnit"]
    assert unit == {"status": "WRITTEN_OFF", "history": {"totalCount": 2}}


async def test_planning_settings(gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places) -> None:
    base = {"warehouseId": places.wgid("W-D0001"), "skuId": places.sgid(places.plain)}
    before = await snapshot(engine)
    bad = (await gql(PLAN, {"i": {**base, "reorderPoint": -1}}, token=tokens[DEALER1]))["data"]["stockLevelUpdate"]
    assert bad["userErrors"][0]["code"] == "PLANNING_INVALID" and await snapshot(engine) == before
    body = await gql(PLAN, {"i": {**base, "reorderPoint": 5}}, token=tokens[DEALER2])
    assert body["data"]["stockLevelUpdate"]["userErrors"][0]["code"] == "WAREHOUSE_NOT_FOUND"
    on_hand = (await level(engine, places.wh["W-D0001"], places.plain))[0]
    ok = (await gql(PLAN, {"i": {**base, "safetyStock": 3, "reorderPoint": on_hand + 1}},
                    token=tokens[DEALER1]))["data"]["stockLevelUpdate"]
    assert ok == {"stockLevel": {"safetyStock": 3, "reorderPoint": on_hand + 1, "belowReorderPoint": True},
                  "userErrors": []}
    after = await snapshot(engine)
    assert after["movements"] == before["movements"]  # planning is not stock: no movement
