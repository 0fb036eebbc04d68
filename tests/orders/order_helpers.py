"""Shared by the order tests: the demo parties, SKUs they can order, and SQL probes."""

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
from ymt_graph.orders import service
from ymt_graph.pricing import service as pricing_service

ADMIN, SALES = "admin@demo.example", "sales.east@demo.example"
DEALER1, DEALER2, SUB1, STAFF1 = (
    "dealer1@demo.example", "dealer2@demo.example", "subdealer1@demo.example", "staff1@demo.example",
)


@dataclass(frozen=True)
class Shop:
    tenant_id: int
    admin_user_id: int
    dealers: dict[str, int]  # code -> pk
    wh: dict[str, int]  # code -> pk
    skus: list[int]  # ACTIVE, untracked, orderable and priced for D0001 and D0001-01
    qty: dict[int, int]  # a quantity that satisfies MOQ and multiple
    codes: dict[int, str]

    def dgid(self, code: str) -> str:
        return encode_gid("Dealer", self.dealers[code])

    def sgid(self, sku: int) -> str:
        return encode_gid("Sku", sku)

    def admin(self) -> Principal:
        return Principal(tenant_id=self.tenant_id, role=Role.HQ_ADMIN, user_id=self.admin_user_id)


def good_quantity(moq: int, multiple: int) -> int:
    q = max(moq, multiple)
    return -(-q // multiple) * multiple


async def orderable_priced(conn: Any, p: Principal, dealer_id: int) -> dict[int, Any]:
    """ACTIVE untracked SKUs the dealer may order that have a price for it, by pk (their rows)."""
    d = service.dealers
    dealer = (await conn.execute(service._dealer_select().where(d.c.id == dealer_id))).one()
    skus = catalog_service.skus
    rows = (await conn.execute(
        sa.select(skus).where(catalog_service.orderable_clause(dealer), skus.c.serial_tracked.is_(False),
                              skus.c.tenant_id == p.tenant_id).order_by(skus.c.code)
    )).all()
    out: dict[int, Any] = {}
    for r in rows:
        q = good_quantity(r.moq, r.order_multiple)
        if r.id in await pricing_service.resolve_prices(conn, p, dealer_id, [r.id], q):
            out[r.id] = r
    return out


@pytest.fixture(scope="module")
async def shop(engine: AsyncEngine) -> Shop:
    async with engine.begin() as c:
        tenant_id = (await c.execute(sa.text("SELECT id FROM tenants WHERE code = 'demo'"))).scalar_one()
        admin = (await c.execute(sa.text("SELECT id FROM users WHERE email = :e"), {"e": ADMIN})).scalar_one()
        dealers = {r.code: r.id for r in await c.execute(sa.text("SELECT id, code FROM dealers"))}
        wh = {r.code: r.id for r in await c.execute(
            sa.text("SELECT id, code FROM warehouses WHERE owner_kind <> 'STORE'"))}
        p = Principal(tenant_id=tenant_id, role=Role.HQ_ADMIN, user_id=admin)
        first = await orderable_priced(c, p, dealers["D0001"])
        second = await orderable_priced(c, p, dealers["D0001-01"])
        both = [k for k in first if k in second][:4]
        assert len(both) == 4, "the demo data must offer 4 SKUs to D0001 and D0001-01"
        qty = {k: good_quantity(first[k].moq, first[k].order_multiple) for k in both}
        # Plenty of stock at both sellers' warehouses.
        for w in ("W-HQ-EAST", "W-D0001"):
            for k in both:
                await inventory_service.adjust(c, p, wh[w], k, 500, "order tests")
    return Shop(tenant_id, admin, dealers, wh, both, qty, {k: first[k].code for k in both})


async def level(engine: AsyncEngine, warehouse_id: int, sku_id: int) -> tuple[int, int]:
    """(on hand, reserved)."""
    async with engine.connect() as c:
        row = (await c.execute(sa.text(
            "SELECT on_hand, reserved FROM stock_levels WHERE warehouse_id = :w AND sku_id = :s"
        ), {"w": warehouse_id, "s": sku_id})).first()
    return (row.on_hand, row.reserved) if row else (0, 0)


SNAPSHOT_SQL = """
SELECT (SELECT count(*) FROM orders) AS orders,
       (SELECT string_agg(id || status, ',' ORDER BY id) FROM orders) AS states,
       (SELECT count(*) FROM order_lines) AS lines,
       (SELECT count(*) FROM order_events) AS events,
       (SELECT string_agg(cart_id || ':' || sku_id || 'x' || quantity, ',' ORDER BY id) FROM cart_lines) AS cart,
       (SELECT count(*) FROM stock_movements) AS movements,
       (SELECT coalesce(sum(reserved), 0) FROM stock_levels) AS reserved,
       (SELECT count(*) FROM outbox_events) AS outbox
"""


async def snapshot(engine: AsyncEngine) -> dict[str, object]:
    async with engine.connect() as c:
        return dict((await c.execute(sa.text(SNAPSHOT_SQL))).one()._mapping)
