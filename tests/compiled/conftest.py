"""Fixtures of the compiled-path tests: the same database served twice, compiled and not
(``reference``, ``both``), the ids of the demo data and a few orders to read (``world``), the
real schema; the corpus's machinery is in ``compiled_corpus``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from compiled_corpus import REPORT, Both, World, canonical
from graphql import GraphQLSchema
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.graph.ids import encode_gid
from ymt_graph.settings import Settings

# The shipping tests' helpers (demo parties, orderable priced SKUs with stock, placing orders).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shipping"))
from ship_helpers import ADMIN, SUB1, Ship, place_order, ship

__all__ = ["Both", "canonical", "ship"]  # (ship: a fixture; Both, canonical: test_smoke's old import)


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    """The module's settings without the per-principal rate limit: both paths share one
    principal's bucket, so the second of two requests could be throttled and the first not;
    the limit applies before either path runs and is tested elsewhere."""
    if "rate_limit_enabled" in type(settings).model_fields:
        return settings.model_copy(update={"rate_limit_enabled": False})
    return settings


@pytest.fixture(scope="module")
async def reference(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The resolver path only (compiled reads off), on the module's database."""
    from ymt_graph.app import create_app

    app = create_app(settings.model_copy(update={"compiled_reads": False}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ref") as c:
        yield c


@pytest.fixture(scope="module")
def both(module_client: httpx.AsyncClient, reference: httpx.AsyncClient, engine: AsyncEngine) -> Both:
    return Both(module_client, reference, engine)


@pytest.fixture(scope="session")
def graphql_schema() -> GraphQLSchema:
    """The real schema (graphql-core's), as the app serves it."""
    from ymt_graph.api.schema import build_schema

    return build_schema()._schema


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = REPORT.lines()
    if lines:
        terminalreporter.section("compiled read path: differential corpus")
        for line in lines:
            terminalreporter.write_line(line)


async def _make_orders(engine: AsyncEngine, ship: Ship) -> None:
    """Orders in several states: D0001 buying from HQ (one partly shipped and in transit, one
    delivered and received, one cancelled, one of a serial-tracked SKU received with units short:
    claims), its sub-dealer buying from it (shipped, received with a damaged unit: a claim), and
    a store of D0001 buying from it."""
    from ymt_graph.catalog import service as catalog_service
    from ymt_graph.inventory import service as inventory_service
    from ymt_graph.orders import service as orders
    from ymt_graph.pricing import service as pricing_service
    from ymt_graph.shipping import service as shipping

    admin = ship.p(ADMIN)
    a, b, c_ = ship.plain
    qa, qb, qc = ship.qty[a], ship.qty[b], ship.qty[c_]

    async def shipment(order_id: int, lines: dict[int, int], tracking: str | None, kinds: list[Any]) -> None:
        async with engine.begin() as conn:
            sid = await shipping.create_shipment(conn, admin, shipping.ShipmentRequest(
                order_id, "顺丰", tuple(shipping.ShipLine(None, s, q) for s, q in lines.items()),
                tracking_number=tracking))
            for kind in kinds:
                location = "杭州" if kind is shipping.EventKind.IN_TRANSIT else None
                await shipping.add_event(conn, admin, shipping.EventRequest(sid, kind, location=location))

    k = shipping.EventKind
    o1 = await place_order(engine, ship, {a: qa, b: 2 * qb}, "compiled-1")
    await shipment(o1.id, {a: qa}, "SF1001", [k.PICKED, k.IN_TRANSIT])
    await shipment(o1.id, {b: qb}, None, [])
    o2 = await place_order(engine, ship, {c_: qc}, "compiled-2")
    await shipment(o2.id, {c_: qc}, "SF1002", [k.PICKED, k.IN_TRANSIT, k.DELIVERED])
    async with engine.begin() as conn:
        await shipping.receive(conn, admin, shipping.ReceiveRequest(o2.id, (shipping.ReceiveLine(None, c_, qc),)))
    o3 = await place_order(engine, ship, {b: qb}, "compiled-3")
    async with engine.begin() as conn:
        await orders.cancel(conn, admin, o3.id, "changed plans")
    # The serial-tracked SKU too: shipped by serial and delivered; received with one unit of each
    # line short (two claims: one naming the serial that did not arrive, in details.missingSerials).
    t, vins = ship.tracked, ship.vins[:2]
    o5 = await place_order(engine, ship, {b: qb, t: 2}, "compiled-5")
    async with engine.begin() as conn:
        sid = await shipping.create_shipment(conn, admin, shipping.ShipmentRequest(o5.id, "京东物流", (
            shipping.ShipLine(None, b, qb), shipping.ShipLine(None, t, 2, tuple(vins))), tracking_number="JD3001"))
        await shipping.add_event(conn, admin, shipping.EventRequest(sid, k.DELIVERED))
    async with engine.begin() as conn:
        await shipping.receive(conn, admin, shipping.ReceiveRequest(o5.id, (
            shipping.ReceiveLine(None, b, qb - 1, short=1),
            shipping.ReceiveLine(None, t, 1, short=1, serials=(vins[0],), note="一台未到")), note="少一台"))
    o4 = await place_order(engine, ship, {a: qa, c_: qc}, "compiled-4", buyer="D0001-01")
    await shipment(o4.id, {a: qa, c_: qc}, "YT2001", [k.PICKED])
    # The sub-dealer receives D0001's shipment with a damaged unit (a claim D0001 sees as the seller).
    async with engine.begin() as conn:
        await shipping.receive(conn, ship.p(SUB1), shipping.ReceiveRequest(o4.id, (
            shipping.ReceiveLine(None, a, qa), shipping.ReceiveLine(None, c_, qc - 1, damaged=1, note="外箱破损"))))
    # A store of D0001 buys what D0001 prices for its stores and has in stock.
    async with engine.begin() as conn:
        store_id = (await conn.execute(sa.text("SELECT id FROM stores WHERE code = 'S00001'"))).scalar_one()
        dealer = (await conn.execute(orders._dealer_select().where(orders.dealers.c.code == "D0001"))).one()
        skus = catalog_service.skus
        rows = (await conn.execute(sa.select(skus).where(
            catalog_service.orderable_clause(dealer), skus.c.status == "ACTIVE").order_by(skus.c.code))).all()
        lines = []
        for r in rows:
            q = max(r.moq, r.order_multiple)
            q = -(-q // r.order_multiple) * r.order_multiple
            if not await pricing_service.resolve_store_prices(conn, admin, store_id, [r.id], q):
                continue
            if not r.serial_tracked:  # (adding tracked units would need their serials)
                await inventory_service.adjust(conn, admin, ship.wh["W-D0001"], r.id, 100, "compiled tests")
            on_hand = (await conn.execute(sa.text(
                "SELECT coalesce(sum(on_hand - reserved), 0) FROM stock_levels WHERE warehouse_id = :w AND "
                "sku_id = :s"), {"w": ship.wh["W-D0001"], "s": r.id})).scalar_one()
            if on_hand >= q:
                lines.append(orders.LineInput(r.id, q))
            if len(lines) == 2:
                break
    assert lines, "D0001 prices some SKUs for its stores (XF-D0001) and has them in stock"
    ref = orders.BuyerRef.store(store_id)
    async with engine.begin() as conn:
        await orders.add_lines(conn, admin, ref, lines)
        await orders.submit(conn, admin, orders.SubmitRequest(ref, "compiled-store"))


@pytest.fixture(scope="module")
async def world(engine: AsyncEngine, ship: Ship) -> World:
    await _make_orders(engine, ship)
    async with engine.connect() as c:
        async def rows(sql: str) -> list[Any]:
            return list(await c.execute(sa.text(sql)))

        dealers = {r.code: encode_gid("Dealer", r.id) for r in await rows(
            "SELECT id, code FROM dealers WHERE code IN ('D0001', 'D0001-01', 'D0002', 'D0004') OR id IN "
            "(SELECT id FROM dealers ORDER BY code LIMIT 12)")}
        warehouses = {r.code: encode_gid("Warehouse", r.id) for r in await rows(
            "SELECT id, code FROM warehouses WHERE owner_kind = 'HQ' OR code IN "
            "('W-D0001', 'W-D0001-01', 'W-D0002', 'W-S00001', 'W-S00004')")}
        stores = {r.code: encode_gid("Store", r.id) for r in await rows(
            "SELECT id, code FROM stores WHERE code IN ('S00001', 'S00002', 'S00004', 'S00006')")}
        skus = [(encode_gid("Sku", r.id), r.code) for r in await rows(
            f"SELECT id, code FROM skus WHERE id IN ({', '.join(str(s) for s in ship.plain)}) "
            "OR id IN (SELECT id FROM skus ORDER BY code LIMIT 3) OR id IN "
            "(SELECT id FROM skus WHERE status <> 'ACTIVE' ORDER BY code LIMIT 1) "
            f"OR id = {ship.tracked} ORDER BY code")]
        categories = {r.code: encode_gid("Category", r.id) for r in await rows("SELECT id, code FROM categories")}
        regions = [r.code for r in await rows(
            "SELECT code FROM regions WHERE code IN ('EAST', 'SOUTH', 'ZJ', 'ZJ-HZ', 'GD-GZ') ORDER BY code")]
        order_rows = await rows("SELECT id, number FROM orders ORDER BY id")
        shipment_rows = await rows("SELECT id, number, tracking_number FROM shipments ORDER BY id")
        price_lists = await rows("SELECT id, code FROM price_lists ORDER BY code LIMIT 4")
        levels = await rows(
            "SELECT l.id FROM stock_levels l JOIN warehouses w ON w.id = l.warehouse_id "
            "WHERE w.code IN ('W-HQ-EAST', 'W-D0001') ORDER BY l.id LIMIT 3")
        models = await rows("SELECT id, code FROM product_models ORDER BY code LIMIT 2")
        users = await rows("SELECT id FROM users ORDER BY id LIMIT 2")
        claim_rows = await rows("SELECT id, number FROM claims ORDER BY id")
        tracked = (await c.execute(sa.text("SELECT code FROM skus WHERE id = :s"), {"s": ship.tracked})).scalar_one()
    orders_ = [(encode_gid("Order", r.id), r.number) for r in order_rows]
    shipments = [(encode_gid("Shipment", r.id), r.number, r.tracking_number) for r in shipment_rows]
    ids = {
        "Dealer": list(dealers.values()), "Warehouse": list(warehouses.values()), "Store": list(stores.values()),
        "Sku": [g for g, _ in skus], "Category": list(categories.values()), "Order": [g for g, _ in orders_],
        "Shipment": [g for g, _, _ in shipments], "PriceList": [encode_gid("PriceList", r.id) for r in price_lists],
        "StockLevel": [encode_gid("StockLevel", r.id) for r in levels],
        "ProductModel": [encode_gid("ProductModel", r.id) for r in models],
        "User": [encode_gid("User", r.id) for r in users],
        "Claim": [encode_gid("Claim", r.id) for r in claim_rows],
    }
    codes = {
        "Dealer": list(dealers), "Warehouse": list(warehouses), "Store": list(stores), "Sku": [c for _, c in skus],
        "Category": list(categories), "Region": regions, "Order": [n for _, n in orders_],
        "Shipment": [n for _, n, _ in shipments], "PriceList": [r.code for r in price_lists],
        "ProductModel": [r.code for r in models],
        "Claim": [r.number for r in claim_rows],
    }
    return World(dealers, warehouses, stores, skus, categories, regions, orders_, shipments, ids, codes, tracked)
