"""Loads the seed into PostgreSQL: plain asyncpg, ids from the sequences, rows by COPY.

The whole run is one transaction behind an advisory lock, so two seeders at
once do the work once, and a failure leaves nothing half-built.
"""

from __future__ import annotations

import importlib
import sys
import time
from dataclasses import asdict, dataclass, replace

import asyncpg
from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs in the dev deps

from ymt_graph.db import plain_url
from ymt_graph.seed.build import TABLES, SeedBuilder, TableRows
from ymt_graph.seed.demo import DEMO, DEMO_PASSWORD, TENANT_CODE, TENANT_CURRENCY, TENANT_NAME
from ymt_graph.seed.full import FULL
from ymt_graph.seed.reset import delete_tenant_rows
from ymt_graph.seed.spec import Scale
from ymt_graph.settings import get_settings

SCALES: dict[str, Scale] = {s.name: s for s in (DEMO, FULL)}

# pg_advisory_xact_lock key: "ymt_seed" as a big-endian integer.
_LOCK_KEY = int.from_bytes(b"ymt_seed", "big")
_COPY_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class SeedReport:
    """Rows of the demo tenant per table after the run."""

    tenant_id: int
    # The scale asked for. When ``created`` is False nothing was written and the
    # counts are those of whatever seed was already there.
    scale: str
    created: bool
    elapsed_seconds: float
    regions: int
    dealers: int
    stores: int
    warehouses: int
    users: int
    categories: int
    product_models: int
    skus: int
    assortment_rules: int

    @property
    def counts(self) -> dict[str, int]:
        return {t: getattr(self, t) for t in TABLES}

    def summary(self) -> str:
        counts = ", ".join(f"{n:,} {t}" for t, n in self.counts.items())
        if not self.created:
            return (
                f"Tenant {TENANT_CODE!r} already exists (id {self.tenant_id}); nothing written "
                f"(reset=True / --reset rebuilds it). It has {counts}."
            )
        return (
            f"Seeded tenant {TENANT_CODE!r} (id {self.tenant_id}, scale {self.scale}) in "
            f"{self.elapsed_seconds:.1f} s: {counts}."
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def seed(database_url: str, scale: str = "demo", reset: bool = False, progress: bool = True) -> SeedReport:
    """Create the demo tenant (code ``demo``) and its channel, catalog and logins.

    Idempotent: an existing demo tenant is left alone unless ``reset``, which
    deletes every row of that tenant (in every table, children first) and
    builds it again. Other tenants are never touched. Refuses to run in production.
    """
    if get_settings().is_production:
        raise RuntimeError("Refusing to seed demo data into a production environment (YMT_ENV=production).")
    try:
        plan = SCALES[scale]
    except KeyError:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}") from None

    started = time.perf_counter()
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        if await conn.fetchval("SELECT to_regclass('tenants')") is None:
            raise RuntimeError("The database has no tables yet: run the migrations (ymt-graph migrate) first.")
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            tenant_id: int | None = await conn.fetchval("SELECT id FROM tenants WHERE code = $1", TENANT_CODE)
            if tenant_id is not None and not reset:
                report = await _report(conn, tenant_id, plan, created=False, started=started)
                _say(progress, report.summary())
                return report
            if tenant_id is None:
                tenant_id = await conn.fetchval(
                    "INSERT INTO tenants (code, name, currency) VALUES ($1, $2, $3) RETURNING id",
                    TENANT_CODE, TENANT_NAME, TENANT_CURRENCY,
                )
                assert tenant_id is not None
            else:
                # The tenant row stays (same id, so ids held elsewhere keep meaning "demo").
                deleted = await delete_tenant_rows(conn, tenant_id)
                _say(progress, f"Reset tenant {TENANT_CODE!r}: deleted {sum(deleted.values()):,} rows "
                               f"from {len(deleted)} tables.")
                await conn.execute(
                    "UPDATE tenants SET name = $2, currency = $3 WHERE id = $1",
                    tenant_id, TENANT_NAME, TENANT_CURRENCY,
                )
            await _load(conn, tenant_id, plan, progress)
            report = await _report(conn, tenant_id, plan, created=True, started=started)
        # Fresh statistics, or the planner treats 30,000 stores as an empty table until autovacuum runs.
        await conn.execute("ANALYZE " + ", ".join(TABLES))
    finally:
        await conn.close()
    report = replace(report, elapsed_seconds=round(time.perf_counter() - started, 3))
    _say(progress, report.summary())
    return report


async def _load(conn: asyncpg.Connection, tenant_id: int, plan: Scale, progress: bool) -> None:
    # Imported here: identity pulls in the JWT and argon2 stack, which only a real run needs.
    from ymt_graph.org.identity import hash_password

    # One hash for every demo login: argon2 is deliberately slow.
    builder = SeedBuilder(tenant_id, plan, hash_password(DEMO_PASSWORD))
    for table in TABLES:
        ids = await _allocate_ids(conn, table, builder.count(table))
        await _copy(conn, builder.rows(table, ids), progress)
        await _fix_sequence(conn, table)
    await _load_domain_data(conn, tenant_id, plan, progress)


# Centres that bring demo data of their own (prices, stock …), loaded after the channel
# and catalog they refer to. Each has ``demo_data.load_demo_data(conn, tenant_id, scale)``.
DOMAIN_DATA = ("pricing", "inventory")


async def _load_domain_data(conn: asyncpg.Connection, tenant_id: int, plan: Scale, progress: bool) -> None:
    for domain in DOMAIN_DATA:
        try:
            module = importlib.import_module(f"ymt_graph.{domain}.demo_data")
        except ModuleNotFoundError as exc:
            if exc.name != f"ymt_graph.{domain}.demo_data":
                raise
            continue  # a centre still being built has no demo data yet
        counts: dict[str, int] = await module.load_demo_data(conn, tenant_id, plan.name)
        if counts:
            _say(progress, f"{domain}: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))


async def _allocate_ids(conn: asyncpg.Connection, table: str, n: int) -> list[int]:
    """Ids drawn from the table's own sequence, so rows the app inserts later never collide."""
    seq: str | None = await conn.fetchval("SELECT pg_get_serial_sequence($1, 'id')", table)
    if seq is None:
        raise RuntimeError(f"{table}.id has no sequence (serial or identity); cannot allocate ids")
    ids: list[int] = await conn.fetchval(
        "SELECT array(SELECT nextval($1::regclass) FROM generate_series(1, $2))", seq, n
    )
    return ids


async def _fix_sequence(conn: asyncpg.Connection, table: str) -> None:
    # Ids came from the sequence, so it is already past them; this keeps it so even if
    # someone COPYs explicit ids around it (never moves it backwards).
    await conn.execute(
        f"""
        SELECT setval(s.seq, GREATEST(m.max_id, COALESCE(pg_sequence_last_value(s.seq), 1)))
        FROM (SELECT pg_get_serial_sequence($1, 'id')::regclass AS seq) s,
             (SELECT COALESCE(max(id), 1) AS max_id FROM {_ident(table)}) m
        """,
        table,
    )


async def _copy(conn: asyncpg.Connection, rows: TableRows, progress: bool) -> None:
    total = len(rows.records)
    with tqdm(total=total, desc=f"{rows.table:<16}", unit=" rows", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, total, _COPY_CHUNK):
            chunk = rows.records[start : start + _COPY_CHUNK]
            await conn.copy_records_to_table(rows.table, records=chunk, columns=list(rows.columns))
            bar.update(len(chunk))


async def _report(
    conn: asyncpg.Connection, tenant_id: int, plan: Scale, *, created: bool, started: float
) -> SeedReport:
    query = " UNION ALL ".join(
        f"SELECT '{t}' AS t, count(*) AS n FROM {_ident(t)} WHERE tenant_id = $1" for t in TABLES
    )
    counts = {r["t"]: int(r["n"]) for r in await conn.fetch(query, tenant_id)}
    return SeedReport(
        tenant_id=tenant_id,
        scale=plan.name,
        created=created,
        elapsed_seconds=round(time.perf_counter() - started, 3),
        **counts,
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _say(progress: bool, message: str) -> None:
    if progress:
        tqdm.write(message, file=sys.stderr)
