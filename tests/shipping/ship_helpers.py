"""Shared by the shipping tests: the demo parties, SKUs to order (one serial-tracked, with serial
units at HQ's east warehouse), orders placed through the order centre, and SQL probes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.access import Principal, Role
from ymt_graph.catalog import service as catalog_service
from ymt_graph.graph.ids import encode_gid
from ymt_graph.inventory import service as inventory_service
from ymt_graph.orders import service as orders
from ymt_graph.pricing import service as pricing_service

ADMIN, SALES, ANALYST = "admin@demo.example", "sales.east@demo.example", "analyst@demo.example"
DEALER1, DEALER2, SUB1, STAFF1 = (
    "dealer1@demo.example", "dealer2@demo.example", "subdealer1@demo.example", "staff1@demo.example",
)


@dataclass(frozen=True)
class Ship:
    tenant_id: int
    users: dict[str, Any]  # email -> users row (id, role, dealer_id, store_id)
    dealers: dict[str, Any]  # code -> dealers row (id, path)
    wh: dict[str, int]  # code -> pk
    plain: list[int]  # untracked SKUs D0001 and D0001-01 may order, priced, stocked at both sellers
    qty: dict[int, int]  # a quantity of each that satisfies MOQ and multiple
    tracked: int  # a serial-tracked SKU (MOQ 1) D0001 may order
    vins: list[str]  # its units registered at W-HQ-EAST
    codes: dict[int, str]

    def p(self, email: str) -> Principal:
        """The principal a demo login acts as."""
        u = self.users[email]
        path = None
        if u.dealer_id is not None:
            path = next(d.path for d in self.dealers.values() if d.id == u.dealer_id)
        return Principal(tenant_id=self.tenant_id, role=Role(u.role), user_id=u.id, dealer_id=u.dealer_id,
                         dealer_path=path, store_id=u.store_id)

    def dealer(self, code: str) -> orders.BuyerRef:
        return orders.BuyerRef.dealer(self.dealers[code].id)


def good_quantity(moq: int, multiple: int) -> int:
    q = max(moq, multiple)
    return -(-q // multiple) * multiple


async def _orderable_priced(conn: Any, p: Principal, dealer_id: int, tracked: bool) -> dict[int, Any]:
    d = orders.dealers
    dealer = (await conn.execute(orders._dealer_select().where(d.c.id == dealer_id))).one()
    skus = catalog_service.skus
    rows = (await conn.execute(
        sa.select(skus).where(catalog_service.orderable_clause(dealer), skus.c.serial_tracked.is_(tracked),
                              skus.c.tenant_id == p.tenant_id).order_by(skus.c.code)
    )).all()
    out: dict[int, Any] = {}
    for r in rows:
        if r.id in await pricing_service.resolve_prices(conn, p, dealer_id, [r.id], good_quantity(r.moq,
                                                                                                 r.order_multiple)):
            out[r.id] = r
    return out


@pytest.fixture(scope="module")
async def ship(engine: AsyncEngine) -> Ship:
    async with engine.begin() as c:
        tenant_id = (await c.execute(sa.text("SELECT id FROM tenants WHERE code = 'demo'"))).scalar_one()
        users = {r.email: r for r in await c.execute(sa.text("SELECT id, email, role, dealer_id, store_id FROM users"))}
        dealers = {r.code: r for r in await c.execute(sa.text("SELECT id, code, path FROM dealers"))}
        wh = {r.code: r.id for r in await c.execute(
            sa.text("SELECT id, code FROM warehouses WHERE owner_kind <> 'STORE'"))}
        admin = Principal(tenant_id=tenant_id, role=Role.HQ_ADMIN, user_id=users[ADMIN].id)
        first = await _orderable_priced(c, admin, dealers["D0001"].id, False)
        second = await _orderable_priced(c, admin, dealers["D0001-01"].id, False)
        plain = [k for k in first if k in second][:3]
        assert len(plain) == 3, "the demo data must offer 3 untracked SKUs to D0001 and D0001-01"
        qty = {k: good_quantity(first[k].moq, first[k].order_multiple) for k in plain}
        tracked = next(r for r in (await _orderable_priced(c, admin, dealers["D0001"].id, True)).values()
                       if r.moq == 1 and r.order_multiple == 1)
        vins = list((await c.execute(sa.text(
            "SELECT serial FROM serial_units WHERE sku_id = :s AND warehouse_id = :w AND status = 'IN_STOCK' "
            "ORDER BY serial"), {"s": tracked.id, "w": wh["W-HQ-EAST"]})).scalars())
        assert len(vins) >= 2, "the demo data registers serial units at the HQ warehouses"
        for w in ("W-HQ-EAST", "W-D0001"):
            for k in plain:
                await inventory_service.adjust(c, admin, wh[w], k, 500, "shipping tests")
        await c.execute(sa.text("UPDATE dealers SET credit_limit = 100000000 WHERE code IN ('D0001', 'D0001-01')"))
    return Ship(tenant_id, users, dealers, wh, plain, qty, tracked.id, vins,
                {**{k: first[k].code for k in plain}, tracked.id: tracked.code})


async def place_order(
    engine: AsyncEngine, ship: Ship, lines: dict[int, int], key: str, *, buyer: str = "D0001",
    approve: bool = True,
) -> Any:
    """An order of ``buyer`` (submitted by HQ_ADMIN for it), approved unless asked not to;
    returns its row."""
    admin = ship.p(ADMIN)
    ref = ship.dealer(buyer)
    async with engine.begin() as c:
        await orders.add_lines(c, admin, ref, [orders.LineInput(s, q) for s, q in lines.items()])
        order_id = await orders.submit(c, admin, orders.SubmitRequest(ref, key))
    async with engine.begin() as c:
        status = (await c.execute(sa.select(orders.orders.c.status).where(orders.orders.c.id == order_id))).scalar_one()
        if status == "PENDING_APPROVAL" and approve:
            await orders.approve(c, admin, order_id)
    return await order_row(engine, order_id)


async def order_row(engine: AsyncEngine, order_id: int) -> Any:
    async with engine.connect() as c:
        return (await c.execute(sa.select(orders.orders).where(orders.orders.c.id == order_id))).one()


async def order_lines(engine: AsyncEngine, order_id: int) -> dict[int, Any]:
    """sku id -> order line row."""
    async with engine.connect() as c:
        return {r.sku_id: r for r in (await c.execute(
            sa.select(orders.order_lines).where(orders.order_lines.c.order_id == order_id)))}


def gid(type_name: str, pk: int) -> str:
    return encode_gid(type_name, pk)


async def level(engine: AsyncEngine, warehouse_id: int, sku_id: int) -> tuple[int, int, int]:
    """(on hand, reserved, inbound)."""
    async with engine.connect() as c:
        row = (await c.execute(sa.text(
            "SELECT on_hand, reserved, inbound FROM stock_levels WHERE warehouse_id = :w AND sku_id = :s"
        ), {"w": warehouse_id, "s": sku_id})).first()
    return (row.on_hand, row.reserved, row.inbound) if row else (0, 0, 0)


async def serial_unit(engine: AsyncEngine, serial: str) -> tuple[str, str]:
    """(status, warehouse code) of a unit."""
    async with engine.connect() as c:
        row = (await c.execute(sa.text(
            "SELECT u.status, w.code FROM serial_units u JOIN warehouses w ON w.id = u.warehouse_id "
            "WHERE u.serial = :s"), {"s": serial})).one()
    return row.status, row.code


SNAPSHOT_SQL = """
SELECT (SELECT string_agg(id || status, ',' ORDER BY id) FROM orders) AS orders,
       (SELECT count(*) FROM order_events) AS order_events,
       (SELECT string_agg(id || status, ',' ORDER BY id) FROM shipments) AS shipments,
       (SELECT count(*) FROM shipment_lines) AS shipment_lines,
       (SELECT count(*) FROM shipment_events) AS shipment_events,
       (SELECT count(*) FROM receipts) AS receipts,
       (SELECT count(*) FROM claims) AS claims,
       (SELECT count(*) FROM stock_movements) AS movements,
       (SELECT sum(on_hand) || '/' || sum(reserved) || '/' || sum(inbound) FROM stock_levels) AS stock,
       (SELECT string_agg(serial || status || warehouse_id, ',' ORDER BY id) FROM serial_units) AS serials,
       (SELECT count(*) FROM outbox_events) AS outbox
"""


async def snapshot(engine: AsyncEngine) -> dict[str, object]:
    async with engine.connect() as c:
        return dict((await c.execute(sa.text(SNAPSHOT_SQL))).one()._mapping)
