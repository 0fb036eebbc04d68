"""Demo prices: guide retail prices, HQ's supply lists, two contracts, a distributor's
downstream list, price limits and a few violations — plausible e-bike money, deterministic.

Called by the seed runner inside its transaction, after dealers, stores and SKUs exist.
Amounts are shares of the guide retail price: supply ~71–78 %, floors 90 % (92 % for
e-bikes in area EAST), ceilings at the guide price, D0001's price to its sub-dealers 94 %.
The same shape at every scale; "full" adds contracts and downstream lists in proportion.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import asyncpg

from ymt_graph.seed.demo import D0002_PREMIUM_SKU_CODE, FIXED_SKU_CODE

TABLES = ("guide_retail_prices", "price_lists", "price_list_lines", "price_limits", "price_violations")
VEHICLES = ("EBIKE", "SCOOTER", "PREMIUM")
BATTERY_PRICE_PER_WH = {"锂离子": 1.1, "石墨烯铅酸": 0.5, "磷酸铁锂": 1.3, "钠离子": 1.0}


@dataclass(frozen=True)
class _Sku:
    id: int
    code: str
    status: str
    category: str
    guide: Decimal


def _share(amount: Decimal, share: str) -> Decimal:
    """A share of a price, in whole yuan (how price lists are quoted)."""
    return (amount * Decimal(share)).quantize(Decimal("1"), rounding=ROUND_HALF_UP)


def _guide_price(category: str, attrs: dict[str, Any], rng: random.Random) -> Decimal:
    """A consumer price that reads like one: ends in 99 (vehicles) or 9 (parts)."""
    volt = int(attrs.get("voltage", 48))
    if category == "EBIKE":  # 2,500–5,700: longer range costs more
        return Decimal(int(1_200 + attrs.get("range_km", 40) * 55) // 100 * 100 + 99)
    if category == "SCOOTER":  # 6,000–10,500
        return Decimal(int(3_000 + attrs.get("motor_w", 1_200) * 2 + volt * 20) // 100 * 100 + 99)
    if category == "PREMIUM":  # 20,000–30,000
        return Decimal(int(8_000 + attrs.get("motor_w", 4_000) * 3 + volt * 50) // 100 * 100 + 99)
    if category == "BATTERY":  # by energy and chemistry: 300–4,200
        per_wh = BATTERY_PRICE_PER_WH.get(str(attrs.get("chemistry")), 1.0)
        return Decimal(int(volt * attrs.get("capacity_ah", 20) * per_wh) // 10 * 10 + 9)
    return Decimal(rng.randint(3, 40) * 10 + 9)  # accessories: 39–409


async def load_demo_data(conn: asyncpg.Connection, tenant_id: int, scale: str) -> dict[str, int]:
    rng = random.Random(f"pricing:{scale}")
    now: datetime = await conn.fetchval("SELECT now()")
    sku_rows = await conn.fetch(
        """SELECT s.id, s.code, s.status, s.attributes, c.code AS category
           FROM skus s JOIN categories c ON c.id = s.category_id WHERE s.tenant_id = $1 ORDER BY s.code""",
        tenant_id,
    )
    all_skus = [
        _Sku(r["id"], r["code"], r["status"], r["category"],
             _guide_price(r["category"], json.loads(r["attributes"]) if isinstance(r["attributes"], str)
                          else dict(r["attributes"]), rng))
        for r in sku_rows
    ]
    active = [s for s in all_skus if s.status == "ACTIVE"]
    by_code = {s.code: s for s in all_skus}
    dealers = await conn.fetch(
        "SELECT id, code, level, parent_id FROM dealers WHERE tenant_id = $1 ORDER BY code", tenant_id
    )
    dealer_id = {d["code"]: d["id"] for d in dealers}
    regions = {
        r["code"]: r["id"]
        for r in await conn.fetch("SELECT id, code FROM regions WHERE tenant_id = $1 AND code IN ('EAST', 'GD')",
                                  tenant_id)
    }

    # -- guide retail prices and limits -------------------------------------------------------
    await conn.copy_records_to_table(
        "guide_retail_prices", columns=["tenant_id", "sku_id", "amount"],
        records=[(tenant_id, s.id, s.guide) for s in all_skus],
    )
    limits = [(tenant_id, s.id, None, _share(s.guide, "0.90"), s.guide) for s in all_skus]
    # Stricter in the east, where e-bikes sell most; scooters get a little room in Guangdong.
    limits += [(tenant_id, s.id, regions["EAST"], _share(s.guide, "0.92"), s.guide)
               for s in all_skus if s.category == "EBIKE"]
    limits += [(tenant_id, s.id, regions["GD"], _share(s.guide, "0.88"), s.guide)
               for s in all_skus if s.category == "SCOOTER"]
    await conn.copy_records_to_table(
        "price_limits", columns=["tenant_id", "sku_id", "region_id", "floor", "ceiling"], records=limits
    )

    # -- price lists ---------------------------------------------------------------------------
    lines: list[tuple[Any, ...]] = []
    list_count = 0

    async def price_list(code: str, name: str, kind: str, priority: int, valid_from: datetime,
                         valid_to: datetime | None = None, *, tier: str | None = None, dealer: int | None = None,
                         owner: int | None = None) -> int:
        nonlocal list_count
        list_count += 1
        new_id: int = await conn.fetchval(
            """INSERT INTO price_lists (tenant_id, code, name, kind, priority, valid_from, valid_to, dealer_tier,
                                        dealer_id, owner_dealer_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id""",
            tenant_id, code, name, kind, priority, valid_from, valid_to, tier, dealer, owner,
        )
        return new_id

    def add(list_id: int, skus: list[_Sku], share: str, valid_from: datetime, *, bulk_share: str | None = None,
            valid_to: datetime | None = None) -> None:
        for s in skus:
            lines.append((tenant_id, list_id, s.id, 1, _share(s.guide, share), valid_from, valid_to))
            if bulk_share and s.category in VEHICLES:
                lines.append((tenant_id, list_id, s.id, 10, _share(s.guide, bulk_share), valid_from, valid_to))

    year_start = now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    base = await price_list("BASE", "全国统一供货价", "BASE", 100, year_start)
    add(base, active, "0.78", year_start, bulk_share="0.76")
    vehicles = [s for s in active if s.category in VEHICLES]
    tier_a = await price_list("TIER-A", "A 类经销商供货价", "TIER", 200, year_start, tier="A")
    add(tier_a, vehicles, "0.75", year_start, bulk_share="0.73")
    tier_b = await price_list("TIER-B", "B 类经销商供货价", "TIER", 200, year_start, tier="B")
    add(tier_b, vehicles, "0.77", year_start, bulk_share="0.75")

    ebikes = [s for s in active if s.category == "EBIKE"]
    promo_skus = ebikes[: max(4, len(ebikes) // 4)]
    promo_from, promo_to = now - timedelta(days=7), now + timedelta(days=21)
    promo = await price_list("PROMO-NOW", "冬季电动自行车促销", "PROMOTION", 300, promo_from, promo_to)
    add(promo, promo_skus, "0.72", promo_from)
    next_from, next_to = now + timedelta(days=30), now + timedelta(days=60)
    upcoming = await price_list("PROMO-NEXT", "春节前备货促销", "PROMOTION", 300, next_from, next_to)
    add(upcoming, ebikes[len(ebikes) // 2 :][: max(4, len(ebikes) // 4)], "0.71", next_from)

    contract_skus = [by_code[FIXED_SKU_CODE], *[s for s in vehicles if s.code != FIXED_SKU_CODE][:9]]
    contract_dealers = [("D0001", contract_skus), ("D0002", [by_code[D0002_PREMIUM_SKU_CODE], *vehicles[10:14]])]
    level1 = [d for d in dealers if d["level"] == 1 and not d["code"].startswith(("D0001", "D0002"))]
    # At full scale: a contract for one distributor in fifty, a downstream list for one in twenty.
    contract_dealers += [(d["code"], rng.sample(vehicles, 8)) for d in rng.sample(level1, len(level1) // 50)]
    for code, skus in contract_dealers:
        contract = await price_list(f"HT-{code}", f"{code} 年度合同价", "CONTRACT", 400, year_start,
                                    dealer=dealer_id[code])
        add(contract, skus, "0.73", year_start, bulk_share="0.71")

    with_subdealers = {d["parent_id"] for d in dealers if d["parent_id"] is not None}
    publishers = ["D0001", *(d["code"] for d in rng.sample(level1, len(level1) // 20) if d["id"] in with_subdealers)]
    for code in publishers:
        downstream = await price_list(f"XF-{code}", f"{code} 二级经销商供货价", "DOWNSTREAM", 100, year_start,
                                      owner=dealer_id[code])
        # 94 % of guide: above every floor (92 % for e-bikes in EAST), below the guide price.
        add(downstream, [s for s in active if s.category in ("EBIKE", "SCOOTER")], "0.94", year_start)

    await conn.copy_records_to_table(
        "price_list_lines",
        columns=["tenant_id", "price_list_id", "sku_id", "min_quantity", "amount", "valid_from", "valid_to"],
        records=lines,
    )

    # -- violations: a few store sales of parts off the (national) band -----------------------
    stores = await conn.fetch("SELECT id, dealer_id FROM stores WHERE tenant_id = $1 ORDER BY code", tenant_id)
    parts = [s for s in active if s.category in ("BATTERY", "ACCESSORY")]
    violations = []
    for store in rng.sample(list(stores), max(1, len(stores) // 20)):
        s = rng.choice(parts)
        below = rng.random() < 0.8
        price = _share(s.guide, "0.85" if below else "1.08")
        violations.append((
            tenant_id, store["dealer_id"], store["id"], s.id, "BELOW_FLOOR" if below else "ABOVE_CEILING", price,
            _share(s.guide, "0.90"), s.guide, None, now - timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 23)),
        ))
    await conn.copy_records_to_table(
        "price_violations",
        columns=["tenant_id", "dealer_id", "store_id", "sku_id", "kind", "unit_price", "floor", "ceiling",
                 "region_id", "sold_at"],
        records=violations,
    )

    await conn.execute("ANALYZE " + ", ".join(TABLES))
    return {
        "guide_retail_prices": len(all_skus),
        "price_lists": list_count,
        "price_list_lines": len(lines),
        "price_limits": len(limits),
        "price_violations": len(violations),
    }
