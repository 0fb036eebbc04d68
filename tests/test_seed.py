"""The demo seed: idempotent, resettable, and the invariants the rest of the system relies on.

Runs against a scratch database created on the server named by DATABASE_URL
and dropped at the end. The full scale is only built in memory here (its DB
run takes seconds but belongs to a benchmark, not the suite).
"""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ymt_graph.db import async_url, plain_url
from ymt_graph.models import metadata
from ymt_graph.org.identity import verify_password
from ymt_graph.seed import DEMO_LOGINS, DEMO_PASSWORD, SeedReport, geo, seed
from ymt_graph.seed.build import TABLES, SeedBuilder, TableRows
from ymt_graph.seed.demo import D0002_PREMIUM_SKU_CODE, FIXED_DEALERS, FIXED_SKU_CODE
from ymt_graph.seed.full import FULL
from ymt_graph.settings import get_settings

SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

N_REGIONS = len(geo.AREAS) + sum(1 + len(p.cities) for a in geo.AREAS for p in a.provinces)
EXPECTED_DEMO = {
    "regions": N_REGIONS,
    "dealers": 50,
    "stores": 200,
    "warehouses": 2 + 50 + 200,
    "users": len(DEMO_LOGINS),
    "categories": 5,
    "product_models": 30,
    "skus": 120,
    "assortment_rules": 6,
}


def _url_for(database: str) -> str:
    return make_url(plain_url(SERVER_URL)).set(database=database).render_as_string(hide_password=False)


@pytest_asyncio.fixture(scope="module")
async def scratch_url() -> AsyncIterator[str]:
    """A fresh database with every table (metadata.create_all), dropped afterwards."""
    name = f"ymt_seed_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(plain_url(SERVER_URL), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"no PostgreSQL at {SERVER_URL}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _url_for(name)
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    finally:
        await engine.dispose()
    try:
        yield url
    finally:
        admin = await asyncpg.connect(plain_url(SERVER_URL))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest_asyncio.fixture(scope="module")
async def first_report(scratch_url: str) -> SeedReport:
    # progress=True once, so the tqdm path runs too (pytest captures the bars).
    return await seed(scratch_url, progress=True)


@pytest_asyncio.fixture
async def conn(scratch_url: str, first_report: SeedReport) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(plain_url(scratch_url))
    try:
        yield c
    finally:
        await c.close()


async def _row(conn: asyncpg.Connection, query: str, *args: object) -> asyncpg.Record:
    row = await conn.fetchrow(query, *args)
    assert row is not None
    return row


async def _tenant_id(conn: asyncpg.Connection) -> int:
    tid = await conn.fetchval("SELECT id FROM tenants WHERE code = 'demo'")
    assert tid is not None
    return int(tid)


# ---- runs ---------------------------------------------------------------------------------------


async def test_refuses_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YMT_ENV", "production")
    get_settings.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="production"):
            # Refused before connecting: the URL is never used.
            await seed("postgresql://nobody@127.0.0.1:1/nowhere", progress=False)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


async def test_unknown_scale_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scale"):
        await seed("postgresql://nobody@127.0.0.1:1/nowhere", scale="huge", progress=False)


async def test_first_run_builds_the_demo(first_report: SeedReport, conn: asyncpg.Connection) -> None:
    assert first_report.created
    assert first_report.scale == "demo"
    assert first_report.tenant_id == await _tenant_id(conn)
    assert first_report.counts == EXPECTED_DEMO
    tenant = await _row(conn, "SELECT name, currency FROM tenants WHERE code = 'demo'")
    assert tenant["currency"] == "CNY" and tenant["name"]


async def test_second_run_is_a_noop(scratch_url: str, conn: asyncpg.Connection) -> None:
    before = await _snapshot_ids(conn)
    report = await seed(scratch_url, progress=False)
    assert not report.created
    assert report.counts == EXPECTED_DEMO
    assert await _snapshot_ids(conn) == before


async def test_sequences_are_past_the_seeded_ids(conn: asyncpg.Connection) -> None:
    for table in TABLES:
        seq_value, max_id = await _row(
            conn,
            f"SELECT pg_sequence_last_value(pg_get_serial_sequence('{table}', 'id')::regclass), max(id) FROM {table}"
        )
        assert seq_value >= max_id, table
    # And an insert that lets the database pick the id works (rolled back).
    tid = await _tenant_id(conn)
    tr = conn.transaction()
    await tr.start()
    try:
        new_id = await conn.fetchval(
            "INSERT INTO categories (tenant_id, code, name) VALUES ($1, 'TMP', '临时') RETURNING id", tid
        )
        assert new_id > await conn.fetchval("SELECT max(id) FROM categories WHERE code <> 'TMP'")
    finally:
        await tr.rollback()


# ---- invariants ---------------------------------------------------------------------------------


async def test_region_tree(conn: asyncpg.Connection) -> None:
    await check_regions(conn)


async def test_dealer_tree(conn: asyncpg.Connection) -> None:
    await check_dealers(conn)


async def test_stores(conn: asyncpg.Connection) -> None:
    await check_stores(conn)


async def test_one_warehouse_per_dealer_and_store(conn: asyncpg.Connection) -> None:
    await check_warehouses(conn)


async def test_demo_logins(conn: asyncpg.Connection) -> None:
    await check_users(conn)


async def test_catalog(conn: asyncpg.Connection) -> None:
    await check_catalog(conn)


async def test_assortment(conn: asyncpg.Connection) -> None:
    await check_assortment(conn)


# ---- reset (runs last: it replaces every id) ----------------------------------------------------


async def test_reset_rebuilds_only_the_demo_tenant(scratch_url: str, conn: asyncpg.Connection) -> None:
    tid = await _tenant_id(conn)
    content = await _snapshot_content(conn)
    ids = await _snapshot_ids(conn)
    d0001 = await conn.fetchval("SELECT id FROM dealers WHERE code = 'D0001'")
    city = await conn.fetchval("SELECT id FROM regions WHERE code = 'ZJ-HZ'")
    # Rows the seed did not write: an extra dealer, a row in a table without tenant_id
    # (only reachable through its foreign key), and another tenant that must survive.
    await conn.execute(
        "INSERT INTO dealers (tenant_id, code, name, level, path, region_id, tier) "
        "VALUES ($1, 'X9999', '临时经销商', 1, '/0/', $2, 'C')",
        tid, city,
    )
    await conn.execute("CREATE TABLE seed_test_notes (id serial PRIMARY KEY, dealer_id bigint REFERENCES dealers(id))")
    await conn.execute("INSERT INTO seed_test_notes (dealer_id) VALUES ($1)", d0001)
    other = await conn.fetchval("INSERT INTO tenants (code, name) VALUES ('other', '其他品牌') RETURNING id")
    await conn.execute(
        "INSERT INTO regions (tenant_id, code, name, kind, path) VALUES ($1, 'EAST', '华东', 'AREA', '/0/')", other
    )

    report = await seed(scratch_url, reset=True, progress=False)

    assert report.created and report.tenant_id == tid
    assert report.counts == EXPECTED_DEMO
    assert await conn.fetchval("SELECT count(*) FROM dealers WHERE code = 'X9999'") == 0
    assert await conn.fetchval("SELECT count(*) FROM seed_test_notes") == 0
    assert await conn.fetchval("SELECT count(*) FROM regions WHERE tenant_id = $1", other) == 1
    # Deterministic: the same data again, under new ids.
    assert await _snapshot_content(conn) == content
    assert (await _snapshot_ids(conn)).isdisjoint(ids)
    await check_all(conn)

    # With no other tenant left the reset truncates instead of deleting row by row.
    await conn.execute("DELETE FROM regions WHERE tenant_id = $1", other)
    await conn.execute("DELETE FROM tenants WHERE id = $1", other)
    await conn.execute("INSERT INTO seed_test_notes (dealer_id) SELECT id FROM dealers WHERE code = 'D0002'")
    report = await seed(scratch_url, reset=True, progress=False)
    assert report.created and report.counts == EXPECTED_DEMO
    assert await conn.fetchval("SELECT count(*) FROM seed_test_notes") == 0
    assert await _snapshot_content(conn) == content
    await check_all(conn)
    await conn.execute("DROP TABLE seed_test_notes")


# ---- full scale, in memory ----------------------------------------------------------------------


def test_full_scale_plan_keeps_the_demo_fixtures() -> None:
    builder = SeedBuilder(1, FULL, "hash")
    next_id = 1
    rows: dict[str, TableRows] = {}
    for table in TABLES:
        n = builder.count(table)
        rows[table] = builder.rows(table, range(next_id, next_id + n))
        next_id += n
    assert len(rows["dealers"].records) == 8_000
    assert Counter(d.level for d in builder.dealers) == {1: 1_500, 2: 6_500}
    assert len(rows["stores"].records) == 30_000
    assert len(rows["skus"].records) == 500
    assert len(rows["warehouses"].records) == 2 + 8_000 + 30_000
    assert len({d.name for d in builder.dealers}) == 8_000
    assert len({s.name for s in builder.stores}) == 30_000
    assert len({s.code for s in builder.skus}) == 500
    for f in FIXED_DEALERS:
        d = builder.dealer_by_code[f.code]
        assert (d.name, d.city.city.code, d.tier, d.credit_limit, d.status) == (
            f.name, f.city_code, f.tier, f.credit_limit, "ACTIVE"
        )
        assert (d.parent.code if d.parent else None) == f.parent_code
    assert builder.store_by_code["S00001"].dealer.code == "D0001"
    assert {FIXED_SKU_CODE, D0002_PREMIUM_SKU_CODE} <= {s.code for s in builder.skus if s.status == "ACTIVE"}
    # Same seed, same data.
    again = SeedBuilder(1, FULL, "hash")
    next_id = 1
    for table in ("regions", "dealers"):
        n = again.count(table)
        assert again.rows(table, range(next_id, next_id + n)).records == rows[table].records
        next_id += n


# ---- checks, shared by the first run and the resets ---------------------------------------------


async def check_all(conn: asyncpg.Connection) -> None:
    await check_regions(conn)
    await check_dealers(conn)
    await check_stores(conn)
    await check_warehouses(conn)
    await check_users(conn)
    await check_catalog(conn)
    await check_assortment(conn)


async def check_regions(conn: asyncpg.Connection) -> None:
    tid = await _tenant_id(conn)
    rows = await conn.fetch("SELECT * FROM regions WHERE tenant_id = $1", tid)
    by_id = {r["id"]: r for r in rows}
    for r in rows:
        assert r["path"].endswith("/") and r["path"].startswith("/")
        parent = by_id.get(r["parent_id"])
        if r["kind"] == "AREA":
            assert parent is None and r["path"] == f"/{r['id']}/"
        else:
            expected_parent = {"PROVINCE": "AREA", "CITY": "PROVINCE"}[r["kind"]]
            assert parent is not None and parent["kind"] == expected_parent
            assert r["path"] == f"{parent['path']}{r['id']}/"
    codes = {r["code"]: r for r in rows}
    assert {"EAST", "NORTH", "SOUTH", "WEST"} <= {r["code"] for r in rows if r["kind"] == "AREA"}
    assert codes["ZJ"]["parent_id"] == codes["EAST"]["id"] and codes["ZJ-HZ"]["name"] == "杭州市"
    assert codes["GD"]["parent_id"] == codes["SOUTH"]["id"]
    assert all(re.fullmatch(r"[A-Z]{2}-[A-Z]+", r["code"]) for r in rows if r["kind"] == "CITY")


async def check_dealers(conn: asyncpg.Connection) -> None:
    tid = await _tenant_id(conn)
    rows = await conn.fetch(
        "SELECT d.*, r.kind AS region_kind, r.path AS region_path FROM dealers d "
        "JOIN regions r ON r.id = d.region_id WHERE d.tenant_id = $1",
        tid,
    )
    by_id = {r["id"]: r for r in rows}
    by_code = {r["code"]: r for r in rows}
    for d in rows:
        assert d["path"].endswith("/")
        assert d["region_kind"] == "CITY"
        assert d["tier"] in ("A", "B", "C") and d["status"] in ("ACTIVE", "SUSPENDED")
        assert d["credit_limit"] > 0 and d["payment_terms_days"] > 0
        assert d["contact_name"] and re.fullmatch(r"1\d{10}", d["contact_phone"])
        if d["level"] == 1:
            assert d["parent_id"] is None and d["path"] == f"/{d['id']}/"
            assert re.fullmatch(r"D\d{4}", d["code"])
        else:
            parent = by_id[d["parent_id"]]
            assert d["level"] == 2 and parent["level"] == 1
            assert d["path"].startswith(parent["path"]) and d["path"] == f"{parent['path']}{d['id']}/"
            assert re.fullmatch(rf"{parent['code']}-\d{{2}}", d["code"])
    assert Counter(d["status"] for d in rows)["SUSPENDED"] >= 1

    east = await conn.fetchval("SELECT path FROM regions WHERE tenant_id = $1 AND code = 'EAST'", tid)
    south = await conn.fetchval("SELECT path FROM regions WHERE tenant_id = $1 AND code = 'SOUTH'", tid)
    d1, d2 = by_code["D0001"], by_code["D0002"]
    # HQ_SALES of EAST sees D0001 and not D0002.
    assert d1["region_path"].startswith(east) and not d2["region_path"].startswith(east)
    assert d2["region_path"].startswith(south)
    assert d1["level"] == d2["level"] == 1 and d1["status"] == d2["status"] == "ACTIVE"
    assert by_code["D0001-01"]["parent_id"] == d1["id"]
    assert sum(1 for d in rows if d["parent_id"] == d1["id"]) >= 2
    for code, min_stores in (("D0001", 3), ("D0002", 1)):
        n = await conn.fetchval("SELECT count(*) FROM stores WHERE dealer_id = $1", by_code[code]["id"])
        assert n >= min_stores, code


async def check_stores(conn: asyncpg.Connection) -> None:
    tid = await _tenant_id(conn)
    rows = await conn.fetch(
        "SELECT s.*, r.kind AS region_kind FROM stores s JOIN regions r ON r.id = s.region_id "
        "WHERE s.tenant_id = $1",
        tid,
    )
    for s in rows:
        assert re.fullmatch(r"S\d{5}", s["code"])
        assert s["region_kind"] == "CITY" and s["status"] == "ACTIVE"
        assert s["format"] in ("FLAGSHIP", "STANDARD", "KIOSK", "SERVICE_POINT")
        assert s["address"] and s["name"]
        assert 18 < s["lat"] < 54 and 73 < s["lng"] < 136  # inside China
    assert len({s["name"] for s in rows}) == len(rows)


async def check_warehouses(conn: asyncpg.Connection) -> None:
    tid = await _tenant_id(conn)
    hq = await conn.fetch("SELECT * FROM warehouses WHERE tenant_id = $1 AND owner_kind = 'HQ'", tid)
    assert {w["code"] for w in hq} == {"W-HQ-EAST", "W-HQ-SOUTH"}
    assert all(w["dealer_id"] is None and w["store_id"] is None and w["region_id"] for w in hq)
    bad_dealers = await conn.fetch(
        """
        SELECT d.code, count(w.id) AS n FROM dealers d
        LEFT JOIN warehouses w ON w.dealer_id = d.id AND w.owner_kind = 'DEALER'
             AND w.store_id IS NULL AND w.code = 'W-' || d.code AND w.region_id IS NOT NULL
        WHERE d.tenant_id = $1 GROUP BY d.code HAVING count(w.id) <> 1
        """,
        tid,
    )
    assert bad_dealers == []
    bad_stores = await conn.fetch(
        """
        SELECT s.code, count(w.id) AS n FROM stores s
        LEFT JOIN warehouses w ON w.store_id = s.id AND w.owner_kind = 'STORE'
             AND w.dealer_id = s.dealer_id AND w.code = 'W-' || s.code AND w.region_id IS NOT NULL
        WHERE s.tenant_id = $1 GROUP BY s.code HAVING count(w.id) <> 1
        """,
        tid,
    )
    assert bad_stores == []
    total, dealers, stores = await _row(
        conn,
        "SELECT (SELECT count(*) FROM warehouses WHERE tenant_id = $1), "
        "(SELECT count(*) FROM dealers WHERE tenant_id = $1), (SELECT count(*) FROM stores WHERE tenant_id = $1)",
        tid,
    )
    assert total == 2 + dealers + stores


async def check_users(conn: asyncpg.Connection) -> None:
    tid = await _tenant_id(conn)
    users = {
        u["email"]: u
        for u in await conn.fetch(
            "SELECT u.*, d.code AS dealer_code, s.code AS store_code, sd.code AS store_dealer_code "
            "FROM users u LEFT JOIN dealers d ON d.id = u.dealer_id LEFT JOIN stores s ON s.id = u.store_id "
            "LEFT JOIN dealers sd ON sd.id = s.dealer_id WHERE u.tenant_id = $1",
            tid,
        )
    }
    assert set(users) == {email for email, _, _ in DEMO_LOGINS}
    for email, role, description in DEMO_LOGINS:
        u = users[email]
        assert email == email.lower() and description
        assert u["role"] == role and u["status"] == "ACTIVE"
    # One hash computed once; it verifies against the demo password and nothing else.
    hashes = {u["password_hash"] for u in users.values()}
    assert len(hashes) == 1
    (password_hash,) = hashes
    assert verify_password(password_hash, DEMO_PASSWORD)
    assert not verify_password(password_hash, "wrong-password")

    east = await conn.fetchval("SELECT id FROM regions WHERE tenant_id = $1 AND code = 'EAST'", tid)
    assert users["sales.east@demo.example"]["region_ids"] == [east]
    assert users["dealer1@demo.example"]["dealer_code"] == "D0001"
    assert users["dealer2@demo.example"]["dealer_code"] == "D0002"
    assert users["subdealer1@demo.example"]["dealer_code"] == "D0001-01"
    assert users["staff1@demo.example"]["dealer_code"] == "D0001"
    assert users["staff1@demo.example"]["role"] == "DEALER_STAFF"
    store1 = users["store1@demo.example"]
    assert store1["store_code"] is not None and store1["store_dealer_code"] == "D0001"
    for email in ("admin@demo.example", "analyst@demo.example", "sales.east@demo.example"):
        assert users[email]["dealer_id"] is None and users[email]["store_id"] is None


async def check_catalog(conn: asyncpg.Connection) -> None:
    tid = await _tenant_id(conn)
    categories = {r["code"] for r in await conn.fetch("SELECT code FROM categories WHERE tenant_id = $1", tid)}
    assert categories == {"EBIKE", "SCOOTER", "BATTERY", "ACCESSORY", "PREMIUM"}
    skus = await conn.fetch(
        "SELECT s.*, c.code AS category, mc.code AS model_category, m.code AS model_code FROM skus s "
        "JOIN categories c ON c.id = s.category_id JOIN product_models m ON m.id = s.model_id "
        "JOIN categories mc ON mc.id = m.category_id WHERE s.tenant_id = $1",
        tid,
    )
    for s in skus:
        assert s["category"] == s["model_category"]
        assert re.fullmatch(r"M-[A-Z]+\d*[A-Z0-9]*", s["model_code"])
        if s["category"] in ("EBIKE", "SCOOTER"):
            assert s["serial_tracked"] and s["order_multiple"] == 1
        if s["category"] in ("BATTERY", "ACCESSORY"):
            assert not s["serial_tracked"]
        assert s["unit"] in ("PCS", "SET", "BOX")
        assert s["order_multiple"] in (1, 2, 5, 10)
        assert 1 <= s["moq"] <= 10 and s["moq"] % s["order_multiple"] == 0
        assert s["attributes"] not in ("{}", None) and s["launch_date"] is not None
    statuses = Counter(s["status"] for s in skus)
    assert set(statuses) == {"ACTIVE", "DISCONTINUED", "DRAFT"}
    assert statuses["ACTIVE"] > 0.8 * len(skus) and statuses["DRAFT"] >= 2
    fixed = {s["code"]: s for s in skus}[FIXED_SKU_CODE]
    assert fixed["name"] == "小鹰500 48V 中国红" and fixed["status"] == "ACTIVE"
    assert any(s["order_multiple"] > 1 for s in skus if s["category"] in ("BATTERY", "ACCESSORY"))


async def check_assortment(conn: asyncpg.Connection) -> None:
    """A dealer may order a SKU iff one rule matches both (a NULL condition matches everything)."""
    tid = await _tenant_id(conn)
    pairs = await conn.fetch(
        """
        SELECT d.code AS dealer, d.tier, s.code AS sku, c.code AS category
        FROM dealers d
        JOIN regions dr ON dr.id = d.region_id
        JOIN skus s ON s.tenant_id = d.tenant_id
        JOIN categories c ON c.id = s.category_id
        WHERE d.tenant_id = $1 AND EXISTS (
            SELECT 1 FROM assortment_rules r
            LEFT JOIN regions rr ON rr.id = r.region_id
            WHERE r.tenant_id = d.tenant_id
              AND (r.dealer_level IS NULL OR r.dealer_level = d.level)
              AND (r.dealer_tier IS NULL OR r.dealer_tier = d.tier)
              AND (r.region_id IS NULL OR dr.path LIKE rr.path || '%')
              AND (r.dealer_id IS NULL OR r.dealer_id = d.id)
              AND (r.category_id IS NULL OR r.category_id = s.category_id)
              AND (r.sku_id IS NULL OR r.sku_id = s.id))
        """,
        tid,
    )
    allowed = {(p["dealer"], p["sku"]) for p in pairs}
    dealer_rows = await conn.fetch("SELECT code, tier FROM dealers WHERE tenant_id = $1", tid)
    dealers = {r["code"]: r["tier"] for r in dealer_rows}
    skus = {
        r["code"]: r["category"]
        for r in await conn.fetch(
            "SELECT s.code, c.code AS category FROM skus s JOIN categories c ON c.id = s.category_id "
            "WHERE s.tenant_id = $1",
            tid,
        )
    }
    premium = {code for code, cat in skus.items() if cat == "PREMIUM"}
    assert premium
    for dealer, tier in dealers.items():
        may = {sku for d, sku in allowed if d == dealer}
        assert set(skus) - premium <= may, dealer  # everyone: the four open categories
        if tier == "A":
            assert premium <= may, dealer
        elif dealer == "D0002":
            assert may & premium == {D0002_PREMIUM_SKU_CODE}
        else:
            assert not may & premium, dealer
    assert dealers["D0002"] != "A"


async def _snapshot_ids(conn: asyncpg.Connection) -> set[tuple[str, int]]:
    tid = await _tenant_id(conn)
    out: set[tuple[str, int]] = set()
    for table in TABLES:
        out |= {(table, r["id"]) for r in await conn.fetch(f"SELECT id FROM {table} WHERE tenant_id = $1", tid)}
    return out


async def _snapshot_content(conn: asyncpg.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Everything but ids, by code: what a reset must reproduce exactly."""
    tid = await _tenant_id(conn)
    queries = {
        "regions": "SELECT r.code, r.name, r.kind, p.code FROM regions r LEFT JOIN regions p ON p.id = r.parent_id "
                   "WHERE r.tenant_id = $1 ORDER BY r.code",
        "dealers": "SELECT d.code, d.name, d.level, p.code, r.code, d.tier, d.status, d.credit_limit, "
                   "d.payment_terms_days, d.contact_name, d.contact_phone FROM dealers d "
                   "LEFT JOIN dealers p ON p.id = d.parent_id JOIN regions r ON r.id = d.region_id "
                   "WHERE d.tenant_id = $1 ORDER BY d.code",
        "stores": "SELECT s.code, s.name, d.code, r.code, s.address, s.lat, s.lng, s.format FROM stores s "
                  "JOIN dealers d ON d.id = s.dealer_id JOIN regions r ON r.id = s.region_id "
                  "WHERE s.tenant_id = $1 ORDER BY s.code",
        "skus": "SELECT s.code, s.name, m.code, s.attributes, s.unit, s.moq, s.order_multiple, s.serial_tracked, "
                "s.status, s.launch_date FROM skus s JOIN product_models m ON m.id = s.model_id "
                "WHERE s.tenant_id = $1 ORDER BY s.code",
        "users": "SELECT email, name, role FROM users WHERE tenant_id = $1 ORDER BY email",
    }
    return {name: [tuple(r) for r in await conn.fetch(q, tid)] for name, q in queries.items()}
