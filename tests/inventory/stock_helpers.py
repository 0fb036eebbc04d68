"""Shared by the inventory tests: the demo places and SKUs they use, and SQL probes.

``conftest.py`` registers the fixture; tests import the helpers from here."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.access import Principal, Role
from ymt_graph.graph.ids import encode_gid

ADMIN, SALES, ANALYST = "admin@demo.example", "sales.east@demo.example", "analyst@demo.example"
DEALER1, DEALER2, SUB1 = "dealer1@demo.example", "dealer2@demo.example", "subdealer1@demo.example"
STAFF1, STORE1 = "staff1@demo.example", "store1@demo.example"

WAREHOUSE_CODES = ("W-HQ-EAST", "W-HQ-SOUTH", "W-D0001", "W-D0001-01", "W-D0002", "W-S00001", "W-S00002", "W-S00004")


@dataclass(frozen=True)
class Places:
    tenant_id: int
    admin_user_id: int
    wh: dict[str, int]  # warehouse code -> pk
    plain: int  # an ACTIVE SKU without serials
    plain2: int
    tracked: int  # an ACTIVE serial-tracked SKU
    codes: dict[int, str]  # sku pk -> code

    def wgid(self, code: str) -> str:
        return encode_gid("Warehouse", self.wh[code])

    def sgid(self, sku_pk: int) -> str:
        return encode_gid("Sku", sku_pk)

    def admin(self) -> Principal:
        return Principal(tenant_id=self.tenant_id, role=Role.HQ_ADMIN, user_id=self.admin_user_id)


@pytest.fixture(scope="module")
async def places(engine: AsyncEngine) -> Places:
    async with engine.connect() as c:
        tenant_id = (await c.execute(sa.text("SELECT id FROM tenants WHERE code = 'demo'"))).scalar_one()
        admin = (await c.execute(sa.text("SELECT id FROM users WHERE email = :e"), {"e": ADMIN})).scalar_one()
        wh = {
            r.code: r.id
            for r in await c.execute(sa.text("SELECT id, code FROM warehouses WHERE code = ANY(:c)"),
                                     {"c": list(WAREHOUSE_CODES)})
        }
        rows = (await c.execute(sa.text(
            "SELECT id, code, serial_tracked FROM skus WHERE tenant_id = :t AND status = 'ACTIVE' ORDER BY code"
        ), {"t": tenant_id})).all()
    plain = [r for r in rows if not r.serial_tracked]
    tracked = [r for r in rows if r.serial_tracked]
    return Places(tenant_id, admin, wh, plain[0].id, plain[1].id, tracked[0].id, {r.id: r.code for r in rows})


async def level(engine: AsyncEngine, warehouse_id: int, sku_id: int) -> tuple[int, int, int]:
    """(on hand, reserved, inbound) of a level; zeros when it does not exist."""
    async with engine.connect() as c:
        row = (await c.execute(sa.text(
            "SELECT on_hand, reserved, inbound FROM stock_levels WHERE warehouse_id = :w AND sku_id = :s"
        ), {"w": warehouse_id, "s": sku_id})).first()
    return (row.on_hand, row.reserved, row.inbound) if row else (0, 0, 0)


async def ledger_sums(engine: AsyncEngine, warehouse_id: int, sku_id: int) -> tuple[int, int, int]:
    async with engine.connect() as c:
        row = (await c.execute(sa.text(
            "SELECT coalesce(sum(on_hand_delta), 0) AS a, coalesce(sum(reserved_delta), 0) AS b, "
            "coalesce(sum(inbound_delta), 0) AS c FROM stock_movements WHERE warehouse_id = :w AND sku_id = :s"
        ), {"w": warehouse_id, "s": sku_id})).one()
    return (int(row.a), int(row.b), int(row.c))


SNAPSHOT_SQL = """
SELECT (SELECT count(*) FROM stock_movements) AS movements,
       (SELECT coalesce(sum(on_hand), 0) || '/' || coalesce(sum(reserved), 0) || '/' || coalesce(sum(inbound), 0)
          || '/' || coalesce(sum(safety_stock), 0) || '/' || coalesce(sum(reorder_point), 0)
          FROM stock_levels) AS levels,
       (SELECT count(*) FROM stock_levels) AS level_rows,
       (SELECT count(*) FROM serial_units) AS units,
       (SELECT string_agg(status || warehouse_id, ',' ORDER BY id) FROM serial_units) AS unit_states,
       (SELECT count(*) FROM serial_unit_events) AS events,
       (SELECT count(*) FROM stock_transfers) AS transfers,
       (SELECT string_agg(status, ',' ORDER BY id) FROM stock_transfers) AS transfer_states,
       (SELECT count(*) FROM stock_idempotency_keys) AS keys
"""


async def snapshot(engine: AsyncEngine) -> dict[str, object]:
    """Everything the inventory centre has written, in a comparable form."""
    async with engine.connect() as c:
        return dict((await c.execute(sa.text(SNAPSHOT_SQL))).one()._mapping)
