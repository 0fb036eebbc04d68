"""Demo stock: opening balances in HQ and dealer warehouses, with the ledger behind them.

Called by the seed runner inside its transaction, after warehouses and SKUs exist.
Deterministic (``random.Random``), rows by COPY.

* Both HQ warehouses hold every ACTIVE SKU (hundreds to thousands of units), opened
  by a RECEIPT movement each.
* Each dealer's own warehouse holds a subset of the ACTIVE SKUs (fixed demo dealers
  always include the fixed SKU), opened by an ADJUSTMENT (a stock count); reorder
  points are set so that roughly one level in six is below its reorder point.
* Serial units: only a sample is registered, ``SERIALS_PER_LEVEL`` units per
  serial-tracked SKU in each HQ warehouse (serials ``VIN`` + 10 digits), each with its
  registration event. The rest of the seeded serial-tracked stock is opening stock
  without serials, which the inventory rules let leave unnamed while it lasts.

So on hand == sum(movements) holds for the seeded data as for everything else.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import asyncpg

from ymt_graph.seed.demo import FIXED_DEALERS, FIXED_SKU_CODE

SERIALS_PER_LEVEL = {"demo": 2, "full": 4}
TABLES = ("stock_levels", "stock_movements", "serial_units", "serial_unit_events")
_COPY_CHUNK = 20_000


async def load_demo_data(conn: asyncpg.Connection, tenant_id: int, scale: str) -> dict[str, int]:
    rng = random.Random(f"inventory-{scale}")
    skus = await conn.fetch(
        "SELECT id, code, serial_tracked FROM skus WHERE tenant_id = $1 AND status = 'ACTIVE' ORDER BY code",
        tenant_id,
    )
    hq = await conn.fetch(
        "SELECT id FROM warehouses WHERE tenant_id = $1 AND owner_kind = 'HQ' ORDER BY code", tenant_id
    )
    dealer_whs = await conn.fetch(
        """SELECT w.id, d.code AS dealer_code, d.level FROM warehouses w JOIN dealers d ON d.id = w.dealer_id
           WHERE w.tenant_id = $1 AND w.owner_kind = 'DEALER' ORDER BY w.code""",
        tenant_id,
    )
    if not skus or not hq:
        return {}
    fixed_dealers = {d.code for d in FIXED_DEALERS}
    fixed_sku = next((s for s in skus if s["code"] == FIXED_SKU_CODE), None)

    # (warehouse_id, sku_id, on_hand, safety_stock, reorder_point, kind, reason)
    levels: list[tuple[int, int, int, int, int, str, str]] = []
    for w in hq:
        for s in skus:
            on_hand = rng.randint(150, 1500) if s["serial_tracked"] else rng.randint(300, 4000)
            safety = on_hand // rng.randint(8, 12)
            levels.append((w["id"], s["id"], on_hand, safety, safety * 2, "RECEIPT", "期初入库 Opening balance"))
    for w in dealer_whs:
        n = rng.randint(12, 30) if w["level"] == 1 else rng.randint(6, 15)
        picked = rng.sample(list(skus), min(n, len(skus)))
        if w["dealer_code"] in fixed_dealers and fixed_sku is not None and fixed_sku not in picked:
            picked.append(fixed_sku)
        for s in picked:
            reorder = rng.randint(4, 20)
            # One level in six sits below its reorder point (a replenishment alert to find).
            on_hand = rng.randint(0, reorder - 1) if rng.random() < 1 / 6 else rng.randint(reorder, reorder * 5)
            levels.append((w["id"], s["id"], on_hand, reorder // 2, reorder, "ADJUSTMENT", "期初盘点 Opening count"))

    await _copy(conn, "stock_levels", ("tenant_id", "warehouse_id", "sku_id", "on_hand", "safety_stock",
                                       "reorder_point"),
                [(tenant_id, w, s, q, ss, rp) for w, s, q, ss, rp, _, _ in levels])
    await _copy(conn, "stock_movements", ("tenant_id", "warehouse_id", "sku_id", "kind", "on_hand_delta", "reason"),
                [(tenant_id, w, s, kind, q, reason) for w, s, q, _, _, kind, reason in levels if q > 0])

    per_level = SERIALS_PER_LEVEL.get(scale, 2)
    tracked = [s["id"] for s in skus if s["serial_tracked"]]
    units = [(w["id"], sku_id, i) for w in hq for sku_id in tracked for i in range(per_level)]
    ids = await _ids(conn, "serial_units", len(units))
    base = 2_026_000_001
    await _copy(conn, "serial_units", ("id", "tenant_id", "serial", "sku_id", "status", "warehouse_id"),
                [(uid, tenant_id, f"VIN{base + n:010d}", sku_id, "IN_STOCK", w)
                 for n, (uid, (w, sku_id, _)) in enumerate(zip(ids, units, strict=True))])
    await _copy(conn, "serial_unit_events", ("tenant_id", "serial_unit_id", "kind", "status", "warehouse_id"),
                [(tenant_id, uid, "RECEIPT", "IN_STOCK", w) for uid, (w, _, _) in zip(ids, units, strict=True)])

    await conn.execute("ANALYZE " + ", ".join(TABLES))
    return {
        "stock_levels": len(levels),
        "stock_movements": sum(1 for lv in levels if lv[2] > 0),
        "serial_units": len(units),
        "serial_unit_events": len(units),
    }


async def _ids(conn: asyncpg.Connection, table: str, n: int) -> list[int]:
    """Ids from the table's own sequence (events refer to the units by them)."""
    ids: list[int] = await conn.fetchval(
        "SELECT array(SELECT nextval(pg_get_serial_sequence($1, 'id')::regclass) FROM generate_series(1, $2))",
        table, n,
    )
    return ids


async def _copy(
    conn: asyncpg.Connection, table: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
) -> None:
    for start in range(0, len(records), _COPY_CHUNK):
        await conn.copy_records_to_table(table, records=records[start : start + _COPY_CHUNK], columns=list(columns))
