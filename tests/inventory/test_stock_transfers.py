"""Transfers end to end through GraphQL, and idempotency keys (repeated, and racing)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from stock_helpers import ADMIN, DEALER1, STORE1, Places, ledger_sums, level, snapshot

TRANSFER = """mutation($i: StockTransferInput!) { stockTransfer(input: $i) {
  transfer { id status note createdAt receivedAt fromWarehouse { code } toWarehouse { code }
             lines { quantity serials sku { code } } }
  userErrors { field code message } } }"""
RECEIVE = """mutation($i: StockTransferReceiveInput!) { stockTransferReceive(input: $i) {
  transfer { id status receivedAt } userErrors { field code message } } }"""
ADJUST = """mutation($i: StockAdjustInput!) { stockAdjust(input: $i) {
  movement { id kind onHandDelta reason actor { email } viaApiKey warehouse { code } sku { code } }
  stockLevel { onHand reserved available inbound }
  userErrors { field code message } } }"""
MOVEMENTS = """query($f: StockMovementFilter) { stockMovements(filter: $f, first: 50) { totalCount
  edges { node { kind onHandDelta reservedDelta inboundDelta reason reference { type id } warehouse { code } } } } }"""


async def test_transfer_and_receive(gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places) -> None:
    src, dst, sku = places.wh["W-D0001"], places.wh["W-S00001"], places.plain
    await gql(ADJUST, {"i": {"warehouseId": places.wgid("W-D0001"), "skuId": places.sgid(sku), "quantity": 20,
                             "reason": "到货"}}, token=tokens[ADMIN])
    s0, d0 = await level(engine, src, sku), await level(engine, dst, sku)
    out = (await gql(TRANSFER, {"i": {
        "fromWarehouseId": places.wgid("W-D0001"), "toWarehouseId": places.wgid("W-S00001"), "note": "门店补货",
        "lines": [{"skuId": places.sgid(sku), "quantity": 3}, {"skuId": places.sgid(sku), "quantity": 2}],
    }}, token=tokens[DEALER1]))["data"]["stockTransfer"]
    assert out["userErrors"] == []
    t = out["transfer"]
    assert t["status"] == "IN_TRANSIT" and t["note"] == "门店补货" and t["receivedAt"] is None
    assert (t["fromWarehouse"]["code"], t["toWarehouse"]["code"]) == ("W-D0001", "W-S00001")
    # Lines of one SKU are merged.
    assert t["lines"] == [{"quantity": 5, "serials": [], "sku": {"code": places.codes[sku]}}]
    assert await level(engine, src, sku) == (s0[0] - 5, s0[1], s0[2])
    assert await level(engine, dst, sku) == (d0[0], d0[1], d0[2] + 5)

    moves = (await gql(MOVEMENTS, {"f": {"referenceId": t["id"]}}, token=tokens[DEALER1]))["data"]["stockMovements"]
    assert sorted((e["node"]["warehouse"]["code"], e["node"]["kind"], e["node"]["onHandDelta"],
                   e["node"]["inboundDelta"]) for e in moves["edges"]) == [
        ("W-D0001", "TRANSFER_OUT", -5, 0), ("W-S00001", "TRANSFER_OUT", 0, 5)]
    assert all(e["node"]["reference"] == {"type": "StockTransfer", "id": t["id"]} for e in moves["edges"])

    # The store's staff receive it at their store.
    got = (await gql(RECEIVE, {"i": {"transferId": t["id"]}}, token=tokens[STORE1]))["data"]["stockTransferReceive"]
    assert got["userErrors"] == [] and got["transfer"]["status"] == "RECEIVED" and got["transfer"]["receivedAt"]
    assert await level(engine, dst, sku) == (d0[0] + 5, d0[1], d0[2])
    again = (await gql(RECEIVE, {"i": {"transferId": t["id"]}}, token=tokens[DEALER1]))["data"]["stockTransferReceive"]
    assert again["transfer"] is None and again["userErrors"][0]["code"] == "TRANSFER_ALREADY_RECEIVED"
    assert await level(engine, dst, sku) == (d0[0] + 5, d0[1], d0[2])
    for wh in (src, dst):
        assert await ledger_sums(engine, wh, sku) == await level(engine, wh, sku)

    listed = (await gql("""query($w: ID) { stockTransfers(filter: {warehouseId: $w, status: RECEIVED}) {
        totalCount edges { node { id } } } }""", {"w": places.wgid("W-S00001")}, token=tokens[STORE1]))["data"]
    assert t["id"] in [e["node"]["id"] for e in listed["stockTransfers"]["edges"]]


async def test_serial_units_travel_with_a_transfer(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places
) -> None:
    sku = places.sgid(places.tracked)
    serials = ["vin-t-0001", "VIN-T-0002"]
    reg = (await gql(ADJUST, {"i": {"warehouseId": places.wgid("W-D0001"), "skuId": sku, "quantity": 2,
                                    "reason": "新车入库", "serials": serials}}, token=tokens[DEALER1]))["data"]
    assert reg["stockAdjust"]["userErrors"] == []
    out = (await gql(TRANSFER, {"i": {
        "fromWarehouseId": places.wgid("W-D0001"), "toWarehouseId": places.wgid("W-S00001"),
        "lines": [{"skuId": sku, "quantity": 2, "serials": serials}],
    }}, token=tokens[DEALER1]))["data"]["stockTransfer"]
    assert out["userErrors"] == [] and out["transfer"]["lines"][0]["serials"] == ["VIN-T-0001", "VIN-T-0002"]
    unit = """query($s: String!) { serialUnit(serial: $s) { serial status warehouse { code }
        history { totalCount edges { node {
          kind status warehouse { code } reference { type } actor { email } } } } } }"""
    moving = (await gql(unit, {"s": "vin-t-0001"}, token=tokens[DEALER1]))["data"]["serialUnit"]
    assert moving["status"] == "IN_TRANSIT" and moving["warehouse"]["code"] == "W-S00001"
    await gql(RECEIVE, {"i": {"transferId": out["transfer"]["id"]}}, token=tokens[STORE1])
    done = (await gql(unit, {"s": "VIN-T-0001"}, token=tokens[STORE1]))["data"]["serialUnit"]
    assert done["status"] == "IN_STOCK" and done["warehouse"]["code"] == "W-S00001"
    steps = [e["node"] for e in done["history"]["edges"]]
    assert done["history"]["totalCount"] == 3
    assert [(s["kind"], s["status"]) for s in steps] == [
        ("ADJUSTMENT", "IN_STOCK"), ("TRANSFER_OUT", "IN_TRANSIT"), ("TRANSFER_IN", "IN_STOCK")]
    assert steps[1]["reference"] == {"type": "StockTransfer"}
    # The store's staff see their own steps' warehouse, not the dealer warehouse it came from.
    assert [s["warehouse"] and s["warehouse"]["code"] for s in steps] == [None, "W-S00001", "W-S00001"]
    assert steps[0]["actor"] is None  # dealer1's account is not the store's to see
    as_dealer = (await gql(unit, {"s": "VIN-T-0001"}, token=tokens[DEALER1]))["data"]["serialUnit"]
    assert as_dealer["history"]["edges"][0]["node"]["actor"] == {"email": DEALER1}
    assert as_dealer["history"]["edges"][0]["node"]["warehouse"] == {"code": "W-D0001"}


async def test_adjust_idempotency_key(gql: Any, tokens: dict[str, str], engine: AsyncEngine, places: Places) -> None:
    wh, sku = places.wh["W-D0001-01"], places.plain
    before = await level(engine, wh, sku)
    data = {"warehouseId": places.wgid("W-D0001-01"), "skuId": places.sgid(sku), "quantity": 4,
            "reason": "盘盈", "idempotencyKey": "adj-once-1"}
    first = (await gql(ADJUST, {"i": data}, token=tokens[ADMIN]))["data"]["stockAdjust"]
    second = (await gql(ADJUST, {"i": data}, token=tokens[ADMIN]))["data"]["stockAdjust"]
    assert first["userErrors"] == [] and second["userErrors"] == []
    assert first["movement"]["id"] == second["movement"]["id"]
    assert first["movement"]["actor"] == {"email": ADMIN} and first["movement"]["viaApiKey"] is False
    assert await level(engine, wh, sku) == (before[0] + 4, before[1], before[2])
    # The same key for another request is refused, and changes nothing.
    other = (await gql(ADJUST, {"i": {**data, "quantity": 5}}, token=tokens[ADMIN]))["data"]["stockAdjust"]
    assert other["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED" and other["movement"] is None
    assert await level(engine, wh, sku) == (before[0] + 4, before[1], before[2])
    # Keys are per mutation: the same key may name a transfer.
    tr = (await gql(TRANSFER, {"i": {"fromWarehouseId": places.wgid("W-D0001-01"),
                                     "toWarehouseId": places.wgid("W-D0001"), "idempotencyKey": "adj-once-1",
                                     "lines": [{"skuId": places.sgid(sku), "quantity": 1}]}},
                    token=tokens[ADMIN]))["data"]["stockTransfer"]
    assert tr["userErrors"] == []


async def test_same_key_twice_at_once_applies_once(
    app: Starlette, tokens: dict[str, str], engine: AsyncEngine, places: Places
) -> None:
    wh, sku = places.wh["W-D0001"], places.plain2
    await _post(app, tokens[ADMIN], ADJUST, {"warehouseId": places.wgid("W-D0001"), "skuId": places.sgid(sku),
                                             "quantity": 30, "reason": "setup"})
    s0, d0 = await level(engine, wh, sku), await level(engine, places.wh["W-D0001-01"], sku)
    before = await snapshot(engine)
    data = {"fromWarehouseId": places.wgid("W-D0001"), "toWarehouseId": places.wgid("W-D0001-01"),
            "idempotencyKey": "transfer-race-1", "lines": [{"skuId": places.sgid(sku), "quantity": 7}]}
    results = await asyncio.gather(*(_post(app, tokens[DEALER1], TRANSFER, data) for _ in range(8)))
    payloads = [r["data"]["stockTransfer"] for r in results]
    assert all(p["userErrors"] == [] for p in payloads), payloads
    assert len({p["transfer"]["id"] for p in payloads}) == 1
    assert await level(engine, wh, sku) == (s0[0] - 7, s0[1], s0[2])
    assert await level(engine, places.wh["W-D0001-01"], sku) == (d0[0], d0[1], d0[2] + 7)
    after = await snapshot(engine)
    assert (after["transfers"], after["keys"], after["movements"]) == (
        before["transfers"] + 1, before["keys"] + 1, before["movements"] + 2)
    async with engine.connect() as conn:
        n = (await conn.execute(sa.text(
            "SELECT count(*) FROM stock_idempotency_keys WHERE key = 'transfer-race-1'"))).scalar_one()
    assert n == 1


async def _post(app: Starlette, token: str, query: str, data: dict[str, Any]) -> dict[str, Any]:
    """One request on its own client (so requests really run at once)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/graphql", json={"query": query, "variables": {"i": data}},
                         headers={"Authorization": f"Bearer {token}"})
        body: dict[str, Any] = r.json()
    assert "errors" not in body, body
    return body


async def test_receiving_at_once_takes_stock_in_once(
    app: Starlette, tokens: dict[str, str], engine: AsyncEngine, places: Places
) -> None:
    src, dst, sku = places.wh["W-D0001"], places.wh["W-S00002"], places.plain2
    await _post(app, tokens[ADMIN], ADJUST, {"warehouseId": places.wgid("W-D0001"), "skuId": places.sgid(sku),
                                             "quantity": 4, "reason": "setup"})
    made = await _post(app, tokens[DEALER1], TRANSFER, {
        "fromWarehouseId": places.wgid("W-D0001"), "toWarehouseId": places.wgid("W-S00002"),
        "lines": [{"skuId": places.sgid(sku), "quantity": 4}]})
    tid = made["data"]["stockTransfer"]["transfer"]["id"]
    d0 = await level(engine, dst, sku)
    results = await asyncio.gather(*(_post(app, tokens[DEALER1], RECEIVE, {"transferId": tid}) for _ in range(6)))
    codes = sorted(e["code"] for r in results for e in r["data"]["stockTransferReceive"]["userErrors"])
    assert codes == ["TRANSFER_ALREADY_RECEIVED"] * 5
    assert await level(engine, dst, sku) == (d0[0] + 4, d0[1], d0[2] - 4)
    for wh in (src, dst):
        assert await ledger_sums(engine, wh, sku) == await level(engine, wh, sku)
