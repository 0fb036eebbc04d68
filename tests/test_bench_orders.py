"""scripts/bench/orders.py for about a second per target against the API served in-process by
uvicorn on a free port (the module's seeded database): both paths make orders, the raw
path's orders are complete in the database (lines, reservations, timeline, outbox) and the
stock ledger stays consistent."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ymt_graph.inventory import service as inventory_service

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench"


def _load_orders() -> ModuleType:
    # orders.py imports its siblings (loadgen, catalog, raw_server) by name, as when run as a
    # script; appended, so nothing already importable is shadowed.
    if str(BENCH) not in sys.path:
        sys.path.append(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_orders", BENCH / "orders.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # so its dataclasses resolve
    spec.loader.exec_module(mod)
    return mod


orders = _load_orders()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _totals(engine: AsyncEngine) -> tuple[int, int]:
    """(highest order id, units reserved over all stock levels)."""
    async with engine.connect() as c:
        row = (await c.execute(sa.text(
            "SELECT (SELECT coalesce(max(id), 0) FROM orders) AS last, "
            "(SELECT coalesce(sum(reserved), 0) FROM stock_levels) AS reserved"
        ))).one()
    return int(row.last), int(row.reserved)


async def test_orders_bench_runs_both_paths_and_the_raw_orders_are_real(
    app: Starlette, db_url: str, engine: AsyncEngine
) -> None:
    last_before, reserved_before = await _totals(engine)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no "started" event to await
        await asyncio.sleep(0.01)
    try:
        args = orders.parse_args([
            "--url", f"http://127.0.0.1:{port}/graphql", "--buyers", "4", "--duration", "1", "--warmup", "0.2",
            "--pause", "0", "--stock", "20000",
        ])
        report = await orders.run(args, db_url)
    finally:
        server.should_exit = True
        await task

    g, r = report.graphql, report.raw
    assert g.orders > 0 and r.orders > 0, (g.summary(), r.summary())
    assert g.errors == 0 and r.errors == 0, (g.error_samples, r.error_samples)
    assert len(g.latencies_ms) == g.orders and len(g.submit_ms) == g.orders
    assert report.ratio is not None and report.ratio > 0
    assert any("verified:" in n for n in report.notes) and any("orders accumulate" in n for n in report.notes)

    raw_ids, n = r.order_ids, len(r.order_ids)
    async with engine.connect() as c:

        async def one(sql: str, **params: object) -> Any:
            return (await c.execute(sa.text(sql), params)).one()

        made = await one(
            "SELECT count(*) AS n, count(DISTINCT number) AS numbers, sum(total) AS total FROM orders "
            "WHERE id = ANY(:ids) AND status IN ('APPROVED', 'PENDING_APPROVAL')", ids=raw_ids)
        lines = await one(
            "SELECT count(*) AS n, sum(quantity) AS units, sum(line_total) AS total FROM order_lines "
            "WHERE order_id = ANY(:ids)", ids=raw_ids)
        moves = await one(
            "SELECT count(*) AS n, sum(reserved_delta) AS units FROM stock_movements "
            "WHERE kind = 'RESERVATION' AND ref_type = 'Order' AND ref_id = ANY(:ids)", ids=raw_ids)
        events = await one("SELECT count(*) AS n FROM order_events WHERE order_id = ANY(:ids)", ids=raw_ids)
        outbox = await one(
            "SELECT count(*) AS n FROM outbox_events WHERE subject_type = 'Order' AND subject_id = ANY(:ids)",
            ids=raw_ids)
        graphql_made = await one("SELECT count(*) AS n FROM orders WHERE id = ANY(:ids)", ids=g.order_ids)
        # Everything this run made (both paths and the two verification orders) is reserved.
        new = await one(
            "SELECT count(DISTINCT o.id) AS orders, sum(l.quantity) AS units FROM orders o "
            "JOIN order_lines l ON l.order_id = o.id WHERE o.id > :last", last=last_before)
        tenant_id = (await one("SELECT id FROM tenants WHERE code = 'demo'")).id
        ledger = await inventory_service.check_ledger(c, tenant_id)
    assert (made.n, made.numbers) == (n, n)
    assert (lines.n, lines.units, lines.total) == (5 * n, 5 * n * args.quantity, made.total)
    assert (moves.n, moves.units) == (5 * n, lines.units)
    assert (events.n, outbox.n) == (2 * n, 2 * n)
    assert graphql_made.n == len(g.order_ids)
    assert new.orders == len(g.order_ids) + n + 2
    _, reserved_after = await _totals(engine)
    assert reserved_after - reserved_before == new.units
    assert ledger.levels > 0 and ledger.mismatched == []
