"""scripts/bench/catalog.py's issue-5 scenarios (dealer-page-50, order-list-25) for about a second
per target against servers run in-process by uvicorn on free ports (the module's seeded
database): the API with compiled reads, a second API with compiled reads off (the resolver
path), and raw_server.py's app. Before any load the script checks that every target answers
the same data (it aborts otherwise); here all three must then have answered without errors, and
the orders the order list needs must have been made through the services."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette

from ymt_graph.settings import Settings

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench"


def _load(name: str) -> ModuleType:
    # The bench scripts import their siblings (loadgen, raw_server, orderdata) by name, as when
    # run as scripts; appended, so nothing already importable is shadowed.
    if str(BENCH) not in sys.path:
        sys.path.append(str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # so its dataclasses resolve
    spec.loader.exec_module(mod)
    return mod


catalog = _load("catalog")
raw_server = sys.modules.get("raw_server") or _load("raw_server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Served:
    def __init__(self, app: Starlette, lifespan: str) -> None:
        self.port = _free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan)
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:  # uvicorn has no "started" event to await
            if self.task.done():
                self.task.result()  # raises what stopped it
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


@pytest.fixture
async def servers(settings: Settings, db_url: str) -> AsyncIterator[dict[str, int]]:
    from ymt_graph.app import create_app

    apps = {
        # Both API apps without the per-principal rate limit: one login sends hundreds of queries.
        name: create_app(settings.model_copy(update=raw_server.api_settings_update(Settings, db_url, compiled)))
        for name, compiled in (("compiled", True), ("resolver", False))
    }
    served = {name: _Served(app, "off") for name, app in apps.items()}
    served["raw"] = _Served(
        raw_server.create_app(db_url, user=["dealer1@demo.example", "admin@demo.example"], pool_size=4), "on"
    )
    try:
        for s in served.values():
            await s.start()
        yield {name: s.port for name, s in served.items()}
    finally:
        for s in served.values():
            await s.stop()


async def test_compiled_bench_measures_three_targets_on_the_new_scenarios(
    servers: dict[str, int], db_url: str
) -> None:
    args = catalog.parse_args([
        "--url-compiled", f"http://127.0.0.1:{servers['compiled']}/graphql",
        "--url-resolver", f"http://127.0.0.1:{servers['resolver']}/graphql",
        "--url-raw", f"http://127.0.0.1:{servers['raw']}",
        "--scenario", "dealer-page-50", "--scenario", "order-list-25",
        "--connections", "4", "--duration", "1", "--warmup", "0.2", "--pause", "0", "--orders", "8",
    ])
    report = await catalog.run(args, db_url)

    assert [sr.scenario for sr in report.results] == ["dealer-page-50", "order-list-25"]
    for sr in report.results:
        assert [m.target for m in sr.measured] == ["compiled", "resolver", "raw"]
        for m in sr.measured:
            res = m.result
            assert res.requests > 0 and res.errors == 0, (sr.scenario, m.target, res.error_samples)
            assert res.p50 == res.p50 and res.p99 >= res.p50  # latencies were recorded
        # Verified before the load (run() aborts on a difference): both GraphQL targets vs raw.
        assert set(sr.bytes_identical) == {"compiled", "resolver"}
        assert sr.paths["resolver"].startswith("resolver"), sr.paths
        assert sr.ratio("compiled") and sr.ratio("resolver")
        assert sr.goals(args) is not None
    page, orders = report.results
    assert any(n.startswith("page 1: 50 SKUs") for n in page.notes), page.notes
    assert any(n.startswith("page 1: 8 orders") for n in orders.notes), orders.notes
    # The module's database had no orders: the script made them through the services.
    assert any("made 8" in n and "orders.service" in n for n in report.prepared), report.prepared
    assert any("→ 8" in n for n in report.prepared), report.prepared
    doc = json.loads(json.dumps(report.to_json(args)))
    assert [s["scenario"] for s in doc["scenarios"]] == ["dealer-page-50", "order-list-25"]
    assert set(doc["scenarios"][0]["targets"]) == {"compiled", "resolver", "raw"}

    # And once more by hand: the raw answer is the API's data (both paths) for the order list.
    from loadgen import request_once

    token = orjson.loads((await request_once("127.0.0.1", servers["resolver"], "/graphql", orjson.dumps({
        "query": catalog.TOKEN_CREATE, "variables": {"i": {"email": "admin@demo.example", "password": "demo-password"}},
    }))).body)["data"]["tokenCreate"]["token"]
    variables = {"first": 25, "after": None}
    raw = orjson.loads((await request_once(
        "127.0.0.1", servers["raw"], "/raw/order-list", orjson.dumps({**variables, "user": "admin@demo.example"})
    )).body)
    for name in ("compiled", "resolver"):
        body = catalog.graphql_body(raw_server.ORDER_LIST_QUERY, variables, "OrderList")
        got = orjson.loads((await request_once(
            "127.0.0.1", servers[name], "/graphql", body, {"Authorization": f"Bearer {token}"}
        )).body)
        assert {"data": got["data"]} == raw, name
