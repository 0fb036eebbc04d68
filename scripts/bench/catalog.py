"""Read benchmark: the GraphQL API (compiled path and resolver path) against the same JSON built by PostgreSQL.

How to run (from the repository root), on a seeded database (``ymt-graph seed --scale demo``,
then ``ANALYZE``), with ``DATABASE_URL`` (and ``REDIS_URL``) in the environment::

    .venv/bin/python scripts/bench/catalog.py --start-servers              # everything, 32 connections
    .venv/bin/python scripts/bench/catalog.py --start-servers --duration 15 --json > bench.json
    .venv/bin/python scripts/bench/catalog.py --url-compiled http://127.0.0.1:8000/graphql \\
        --url-resolver http://127.0.0.1:8010/graphql --scenario dealer-page-50   # servers already running

Targets, one run, the same load against each in turn:

- ``compiled``: an API server with compiled reads on (the default): a query whose every field
  compiles is answered by one SQL statement whose JSON PostgreSQL builds (``ymt_graph.compiled``);
- ``resolver``: a second API server process on the same database started with
  ``YMT_COMPILED_READS=false``: every query takes the resolver path;
- ``raw``: ``raw_server.py`` (bare Starlette + asyncpg), one SQL statement per request returning the
  finished response body, with the same access rules compiled in (the floor).

``--start-servers`` starts both API servers (``ymt-graph serve`` on free ports, this
``DATABASE_URL``/``REDIS_URL``, ``YMT_RATE_LIMIT_ENABLED=false`` so one login may send thousands of
queries, ``YMT_DEBUG_SQL=true`` so the log says which path each operation took), waits for
``/health`` and stops them at the end; their logs are kept (path printed). Otherwise
``--url-compiled`` (or the older ``--url``, default http://127.0.0.1:8000/graphql) and optionally
``--url-resolver`` name servers already running (start them with ``YMT_RATE_LIMIT_ENABLED=false``).
The raw server is started on a free port unless ``--url-raw`` names one already running (started
with a ``--user`` for each login the scenarios use).

What it does: logs in on each API server as each scenario's user (``tokenCreate``), prepares
the data the order lists need (``orderdata.py``: orders through the services, said in the output),
looks the scenarios' ids up through GraphQL, checks that every target answers every scenario with
the same data (first page and the next one; aborts with a diff otherwise; key order and JSON
spacing aside, list order kept), then runs the same closed-loop load (``loadgen.py``,
``--connections``, default 32, ``--warmup`` + ``--duration`` seconds) against each target and prints
per scenario req/s, p50/p90/p99, errors, server and PostgreSQL CPU per request, the ratios
compiled/raw and resolver/raw, and whether the issue's goals are met (compiled/raw ≥
``--goal-ratio`` 0.45, compiled p99 < ``--goal-p99`` 100 ms).

CPU per request is the process's user+system time (``/proc/<pid>/stat`` through psutil) over the
whole run of that target divided by every request it served (warmup included); "PG CPU" counts
only the PostgreSQL backends whose client port belongs to that server (looked up in
pg_stat_activity), so other users of the database are not charged to it. Both are sampled every
0.2 s during the load (each process's last value kept), so backends that a pool opens and closes
during the run are counted while they live; "PG sessions opened" (``pg_stat_database.sessions``)
says how many such connections there were.

Scenarios (``--scenario NAME``, repeatable; default all) are data (``build_scenarios``): a GraphQL
query with variables, whose login, and the raw endpoint that must return the same JSON.

- ``catalog``: the tenant's catalog page (``skus(first: --first)`` with category and model), as ``--email``.
- ``dealer-page``: DealerCatalogPage (issue 2): the SKUs ``--dealer`` may order with guide price,
  price for ``--quantity`` units, price band and what ``--warehouse`` (``W-<dealer>``) has available.
- ``dealer-page-50`` / ``dealer-page-100`` (issue 5): DealerSkuPage, ``skus(first: 50|100,
  filter: {orderableBy})`` with, per SKU, id code name unit moq orderMultiple, category and model,
  guide price, ``price(dealerId:)`` with list and ``why``, price band, ``available`` and
  ``stockLevel`` at the dealer's HQ warehouse (the one it buys from; ``--warehouse`` overrides), as
  ``--email`` (dealer1, DEALER_ADMIN of D0001). Raw: ``POST /raw/sku-page``.
- ``order-list-25`` (as ``--admin-email``, HQ_ADMIN) and ``order-list-25-dealer`` (as ``--email``):
  OrderList, ``orders(first: 25)`` with number, status, createdAt, total, buyer, buyerStore, seller,
  lines (with SKU) and shipments. Raw: ``POST /raw/order-list``. Before the run each of these users
  must see at least ``--orders`` (30) orders; missing ones are made through the services.

Both API servers, PostgreSQL, the raw server and the load generator share this machine; on
2 cores the numbers are comparable with each other (same run, same conditions), not absolute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson
import psutil  # type: ignore[import-untyped]  # no stubs in the venv
from loadgen import LoadResult, ProtocolError, check_loopback, request_once, run_load
from orderdata import PrepareError, ensure_orders, seller_warehouse_code
from raw_server import ORDER_LIST_QUERY, SKU_PAGE_QUERY, plain_dsn
from rich.console import Console
from rich.table import Table

from ymt_graph.graph.ids import decode_gid
from ymt_graph.settings import Settings

HERE = Path(__file__).resolve().parent
RAW_SERVER = HERE / "raw_server.py"

err = Console(stderr=True)

TOKEN_CREATE = "mutation($i: TokenCreateInput!){ tokenCreate(input:$i){ token userErrors{ code message } } }"

CATALOG_PAGE = """
query CatalogPage($first: Int!, $after: String) {
  skus(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id code name unit moq orderMultiple serialTracked status launchDate
      category { id code name } model { id code name } } }
  }
}
"""

DEALER_CATALOG_PAGE = """
query DealerCatalogPage($first: Int!, $after: String, $dealerId: ID!, $warehouseId: ID!, $quantity: Int!) {
  skus(first: $first, after: $after, filter: {orderableBy: $dealerId}) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id code name unit moq orderMultiple
      guideRetailPrice { amount currency }
      price(dealerId: $dealerId, quantity: $quantity) { amount { amount currency } list { code } break { minQuantity } }
      priceLimit { floor { amount } ceiling { amount } }
      available(warehouseId: $warehouseId) } } } }
"""

DEALER_LOOKUP = """
query DealerLookup($code: String!) {
  dealer(code: $code) { id code warehouses(first: 100) { edges { node { id code } } } }
  warehouses(first: 250, filter: {ownerKind: HQ}) { edges { node { id code } } }
}
"""

TARGETS = ("compiled", "resolver", "raw")
SAMPLE_EVERY = 0.2  # seconds between CPU samples during a load


# --- scenarios ---------------------------------------------------------------------------


# Runs a GraphQL query as the logged-in user; returns ``data`` (aborts on errors).
GraphQL = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Scenario:
    """One read measured against every target. ``raw_body`` maps the GraphQL variables to the
    raw endpoint's JSON body; ``next_variables`` gives the variables of the page after a
    response (or None), so verification also covers cursors. ``prepare`` looks up what
    the variables need (global ids) through GraphQL before anything runs; ``describe``
    says what the first page holds (so a reader knows which paths were exercised).
    ``email``: whose login (None: ``--email``); ``needs_orders``: the order list (data prepared)."""

    name: str
    operation: str
    query: str
    variables: dict[str, Any]
    raw_path: str
    raw_body: Callable[[dict[str, Any]], dict[str, Any]] = dict
    next_variables: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None] | None = None
    prepare: Callable[[GraphQL], Awaitable[dict[str, Any]]] | None = None
    describe: Callable[[dict[str, Any]], str] | None = None
    email: str | None = None
    needs_orders: bool = False


def _next_page(field_name: str) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]:
    """Follow ``data.<field>.pageInfo.endCursor`` of a connection."""

    def nxt(variables: dict[str, Any], data: dict[str, Any]) -> dict[str, Any] | None:
        info = data[field_name]["pageInfo"]
        return {**variables, "after": info["endCursor"]} if info["hasNextPage"] else None

    return nxt


def pk_of(gid: str, type_name: str) -> int:
    """The primary key in a global id (the raw endpoints take keys, as resolvers decode them)."""
    decoded = decode_gid(gid)
    if decoded is None or decoded[0] != type_name:
        raise Abort(f"not a {type_name} id: {gid!r}")
    return decoded[1]


def dealer_lookup(dealer_code: str, warehouse_code: str) -> Callable[[GraphQL], Awaitable[dict[str, Any]]]:
    """The dealer's id and a warehouse's: one of the dealer's own, or an HQ warehouse."""

    async def prepare(gql: GraphQL) -> dict[str, Any]:
        data = await gql(DEALER_LOOKUP, {"code": dealer_code})
        dealer = data.get("dealer")
        if dealer is None:
            raise Abort(f"dealer {dealer_code!r} not found, or not visible to this user")
        found = {e["node"]["code"]: e["node"]["id"] for e in dealer["warehouses"]["edges"]}
        found.update({e["node"]["code"]: e["node"]["id"] for e in (data.get("warehouses") or {}).get("edges", [])})
        if warehouse_code not in found:
            raise Abort(f"no warehouse {warehouse_code!r} of dealer {dealer_code} or of HQ visible "
                        f"(found {sorted(found)})")
        return {"dealerId": dealer["id"], "warehouseId": found[warehouse_code]}

    return prepare


def describe_dealer_page(warehouse_code: str) -> Callable[[dict[str, Any]], str]:
    def describe(data: dict[str, Any]) -> str:
        nodes = [e["node"] for e in data["skus"]["edges"]]
        lists: dict[str, int] = {}
        for n in nodes:
            if n["price"] is not None:
                key = f"{n['price']['list']['code']}≥{n['price']['break']['minQuantity']}"
                lists[key] = lists.get(key, 0) + 1
        won = ", ".join(f"{k} {v}" for k, v in sorted(lists.items(), key=lambda kv: -kv[1]))
        stocked = sum(1 for n in nodes if n["available"])
        no_stock = sum(1 for n in nodes if n["available"] == 0)
        unknown = sum(1 for n in nodes if n["available"] is None)
        return (
            f"page 1: {len(nodes)} SKUs; {sum(1 for n in nodes if n['price'] is None)} without price, "
            f"winning list≥break: {won or '-'}; at {warehouse_code}: {stocked} in stock, {no_stock} at 0, "
            f"{unknown} null; {sum(1 for n in nodes if n['guideRetailPrice'] is None)} without guide price, "
            f"{sum(1 for n in nodes if n['priceLimit'] is None)} without price limit"
        )

    return describe




def describe_sku_page(warehouse_code: str) -> Callable[[dict[str, Any]], str]:
    def describe(data: dict[str, Any]) -> str:
        nodes = [e["node"] for e in data["skus"]["edges"]]
        lists = Counter(n["price"]["list"]["code"] for n in nodes if n["price"] is not None)
        won = ", ".join(f"{k} {v}" for k, v in lists.most_common())
        available = [n["available"] for n in nodes]
        return (
            f"page 1: {len(nodes)} SKUs (hasNextPage {data['skus']['pageInfo']['hasNextPage']}); "
            f"{sum(1 for n in nodes if n['price'] is None)} without price, winning lists: {won or '-'}; "
            f"at {warehouse_code}: {sum(1 for a in available if a)} in stock, {available.count(0)} at 0, "
            f"{available.count(None)} null, stockLevel null for {sum(1 for n in nodes if n['stockLevel'] is None)}; "
            f"{sum(1 for n in nodes if n['guideRetailPrice'] is None)} without guide price, "
            f"{sum(1 for n in nodes if n['priceLimit'] is None)} without price limit"
        )

    return describe


def describe_order_list(data: dict[str, Any]) -> str:
    nodes = [e["node"] for e in data["orders"]["edges"]]
    statuses = Counter(n["status"] for n in nodes)
    lines = [len(n["lines"]) for n in nodes]
    shipments = [len(n["shipments"]) for n in nodes]
    return (
        f"page 1: {len(nodes)} orders (hasNextPage {data['orders']['pageInfo']['hasNextPage']}; "
        + ", ".join(f"{k} {v}" for k, v in statuses.most_common())
        + f"), {sum(lines)} lines ({min(lines, default=0)}–{max(lines, default=0)} per order), "
        f"{sum(shipments)} shipments ({sum(1 for s in shipments if s)} orders shipped), "
        f"buyers {', '.join(sorted({n['buyer']['code'] for n in nodes if n['buyer']}))}"
    )


def build_scenarios(
    first: int = 50,
    dealer: str = "D0001",
    warehouse: str | None = None,
    quantity: int = 10,
    *,
    admin_email: str = "admin@demo.example",
    page_warehouse: str | None = None,
) -> list[Scenario]:
    """``warehouse``: dealer-page's (default ``W-<dealer>``); ``page_warehouse``: the issue-5
    dealer pages' (default ``warehouse``, else the dealer's HQ warehouse found at run time)."""
    dealer_page_warehouse = warehouse or f"W-{dealer}"
    sku_page_warehouse = warehouse or page_warehouse or "W-HQ"

    def sku_page(n: int) -> Scenario:
        return Scenario(
            name=f"dealer-page-{n}",
            operation="DealerSkuPage",
            query=SKU_PAGE_QUERY,
            variables={"first": n, "after": None},  # + dealerId, warehouseId from prepare
            raw_path="/raw/sku-page",
            raw_body=lambda v: {
                "first": v["first"],
                "after": v.get("after"),
                "dealerId": pk_of(v["dealerId"], "Dealer"),
                "warehouseId": pk_of(v["warehouseId"], "Warehouse"),
            },
            next_variables=_next_page("skus"),
            prepare=dealer_lookup(dealer, sku_page_warehouse),
            describe=describe_sku_page(sku_page_warehouse),
        )

    def order_list(name: str, email: str | None) -> Scenario:
        return Scenario(
            name=name,
            operation="OrderList",
            query=ORDER_LIST_QUERY,
            variables={"first": 25, "after": None},
            raw_path="/raw/order-list",
            raw_body=lambda v: {"first": v["first"], "after": v.get("after")},
            next_variables=_next_page("orders"),
            describe=describe_order_list,
            email=email,
            needs_orders=True,
        )

    return [
        Scenario(
            name="catalog",
            operation="CatalogPage",
            query=CATALOG_PAGE,
            variables={"first": first, "after": None},
            raw_path="/raw/catalog",
            raw_body=lambda v: {"first": v["first"], "after": v.get("after")},
            next_variables=_next_page("skus"),
        ),
        Scenario(
            name="dealer-page",
            operation="DealerCatalogPage",
            query=DEALER_CATALOG_PAGE,
            variables={"first": first, "after": None, "quantity": quantity},  # + dealerId, warehouseId: prepare
            raw_path="/raw/dealer-page",
            raw_body=lambda v: {
                "first": v["first"],
                "after": v.get("after"),
                "dealerId": pk_of(v["dealerId"], "Dealer"),
                "warehouseId": pk_of(v["warehouseId"], "Warehouse"),
                "quantity": v["quantity"],
            },
            next_variables=_next_page("skus"),
            prepare=dealer_lookup(dealer, dealer_page_warehouse),
            describe=describe_dealer_page(dealer_page_warehouse),
        ),
        sku_page(50),
        sku_page(100),
        order_list("order-list-25", admin_email),
        order_list("order-list-25-dealer", None),
    ]


# --- processes and CPU ------------------------------------------------------------------


def listening_pid(port: int) -> int | None:
    """The pid listening on a local TCP port (best effort: may need privileges)."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return c.pid
    return None


def process_tree(pid: int) -> list[psutil.Process]:
    """A server process and its children (uvicorn may run workers under a supervisor)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


PidFinder = Callable[[], Awaitable[list[int]]]


class CpuMeter:
    """CPU seconds (user + system) of a set of processes found afresh at each sample."""

    def __init__(self, find: PidFinder | None) -> None:
        self.find = find

    async def sample(self) -> dict[int, float] | None:
        if self.find is None:
            return None
        out: dict[int, float] = {}
        for pid in await self.find():
            try:
                t = psutil.Process(pid).cpu_times()
                out[pid] = t.user + t.system
            except psutil.Error:
                continue
        return out

    @staticmethod
    def delta(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
        if before is None or after is None:
            return None
        # Processes born during the run (a pool growing) count from zero.
        return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def tree_finder(pid: int | None) -> PidFinder | None:
    if pid is None:
        return None

    async def find() -> list[int]:
        return [p.pid for p in process_tree(pid)]

    return find


def backend_finder(conn: asyncpg.Connection, server_pid: int | None, db_port: int) -> PidFinder | None:
    """The PostgreSQL backends serving one server's pool: its TCP client ports looked up in
    pg_stat_activity. The database is shared (tests, other servers), so counting the
    whole postmaster would charge one server for the other's work."""
    if server_pid is None:
        return None

    async def find() -> list[int]:
        ports: set[int] = set()
        for p in process_tree(server_pid):
            try:
                for c in p.net_connections(kind="tcp"):
                    if c.raddr and c.raddr.port == db_port:
                        ports.add(c.laddr.port)
            except psutil.Error:
                continue
        if not ports:
            return []
        rows = await conn.fetch(
            "select pid from pg_stat_activity where client_port = any($1::int[]) and pid <> pg_backend_pid()",
            sorted(ports),
        )
        return [r["pid"] for r in rows]

    return find


def local_db_port(database_url: str) -> int | None:
    """The port of a PostgreSQL on this machine over TCP, else None (CPU not measurable)."""
    parts = urlsplit(plain_dsn(database_url))
    try:
        check_loopback(parts.hostname or "")
    except ValueError:
        return None  # remote host, or a Unix socket (no client port to match)
    return parts.port or 5432


@dataclass
class Measured:
    target: str
    result: LoadResult
    server_cpu: float | None = None  # seconds over the whole run (warmup included)
    db_cpu: float | None = None  # seconds of the PostgreSQL backends serving this server
    pg_sessions: int | None = None  # PostgreSQL sessions opened on the database during the run

    def per_request_ms(self, cpu: float | None) -> float | None:
        if cpu is None or self.result.total_requests == 0:
            return None
        return cpu / self.result.total_requests * 1000.0

    def summary(self) -> dict[str, Any]:
        return {
            "target": self.target,
            **self.result.summary(),
            "server_cpu_ms_per_req": _r(self.per_request_ms(self.server_cpu), 3),
            "db_cpu_ms_per_req": _r(self.per_request_ms(self.db_cpu), 3),
            "pg_sessions_opened": self.pg_sessions,
        }


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(x, nd)


@dataclass
class ScenarioResult:
    scenario: str
    operation: str
    email: str
    measured: list[Measured]  # in target order
    bytes_identical: dict[str, bool]  # GraphQL target -> its bytes equal raw's on every page verified
    paths: dict[str, str]  # GraphQL target -> which read path answered (and how that is known)
    notes: list[str] = field(default_factory=list)

    def target(self, name: str) -> Measured | None:
        return next((m for m in self.measured if m.target == name), None)

    def ratio(self, name: str, over: str = "raw") -> float | None:
        a, b = self.target(name), self.target(over)
        if a is None or b is None or not b.result.rps:
            return None
        return a.result.rps / b.result.rps

    def goals(self, args: argparse.Namespace) -> dict[str, Any] | None:
        """The issue's goals for the compiled path (None without a compiled and a raw target)."""
        compiled, ratio = self.target("compiled"), self.ratio("compiled")
        if compiled is None or ratio is None:
            return None
        p99 = compiled.result.p99
        ratio_met = ratio >= args.goal_ratio
        p99_met = p99 == p99 and p99 < args.goal_p99 and compiled.result.errors == 0
        return {
            "connections": args.concurrency,
            "compiled_over_raw": round(ratio, 4),
            "compiled_over_raw_min": args.goal_ratio,
            "ratio_met": ratio_met,
            "compiled_p99_ms": _r(p99),
            "p99_max_ms": args.goal_p99,
            "p99_met": p99_met,
            "met": ratio_met and p99_met,
        }


# --- helpers ---------------------------------------------------------------------------


class Abort(Exception):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def graphql_body(query: str, variables: dict[str, Any], operation: str | None = None) -> bytes:
    doc: dict[str, Any] = {"query": query, "variables": variables}
    if operation:
        doc["operationName"] = operation
    return orjson.dumps(doc)


def comparable(doc: Any) -> Any:
    """What must be equal: the whole response, or only ``data`` when the server adds
    ``extensions`` (timings, cost) that the raw endpoint cannot know."""
    if isinstance(doc, dict) and "extensions" in doc:
        return {"data": doc.get("data")}
    return doc


def first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} {a!r:.80} != {type(b).__name__} {b!r:.80}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r:.80} != {b!r:.80}"


def print_diff(graphql: Any, raw: Any, limit: int = 80, names: tuple[str, str] = ("graphql", "raw")) -> None:
    where = first_difference(graphql, raw)
    err.print(f"[bold red]first difference[/] {where}", highlight=False)
    lines = difflib.unified_diff(
        json.dumps(graphql, indent=1, ensure_ascii=False).splitlines(),
        json.dumps(raw, indent=1, ensure_ascii=False).splitlines(),
        *names,
        lineterm="",
    )
    for i, line in enumerate(lines):
        if i >= limit:
            err.print(f"... (diff cut at {limit} lines)")
            break
        err.print(line, markup=False, highlight=False)


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# --- servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def raw_server(
    port: int, tenant: str, style: str, users: list[str], log: Path | None = None, pool_size: int = 10
) -> Iterator[subprocess.Popen[bytes]]:
    if port_in_use(port):
        raise Abort(f"port {port} is already in use; stop that process or pass --raw-port")
    cmd = [sys.executable, str(RAW_SERVER), "--host", "127.0.0.1", "--port", str(port), "--tenant", tenant,
           "--style", style, "--pool-size", str(pool_size)]
    for user in users:
        cmd += ["--user", user]
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(log.open("wb")) if log else None
        proc = subprocess.Popen(cmd, env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT if out else None)
        try:
            yield proc
        finally:
            _stop(proc)


def api_command() -> list[str]:
    """``ymt-graph`` of this interpreter's environment (``python -m ymt_graph.cli`` without it)."""
    script = Path(sys.executable).with_name("ymt-graph")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ymt_graph.cli"]


@contextmanager
def api_server(
    port: int, database_url: str, redis_url: str, compiled: bool, log: Path, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``ymt-graph serve`` with compiled reads on or off; stdout and stderr go to ``log``."""
    if port_in_use(port):
        raise Abort(f"port {port} is already in use")
    env = {
        **os.environ,
        **(extra_env or {}),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "YMT_COMPILED_READS": "true" if compiled else "false",
        # The log says which path each operation took (once per cached plan, not per request).
        "YMT_DEBUG_SQL": "true",
        # One login sends thousands of queries: no per-principal rate limit (settings ignore
        # unknown variables, so this is harmless where there is no limit).
        "YMT_RATE_LIMIT_ENABLED": "false",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen([*api_command(), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            _stop(proc)


def _tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n" + "\n".join(text)


async def wait_ready(
    proc: subprocess.Popen[bytes], port: int, what: str = "raw_server.py", within: float = 60.0,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Abort(f"{what} exited with code {proc.returncode} (see its output{f' in {log}' if log else ''})"
                        + _tail(log))
        try:
            r = await request_once("127.0.0.1", port, "/health", method="GET", time_limit=2.0)
            if r.status == 200:
                return
        except (OSError, asyncio.IncompleteReadError, ProtocolError):
            pass  # not listening yet (TimeoutError is an OSError)
        await asyncio.sleep(0.1)
    raise Abort(f"{what} not ready on port {port} after {within:.0f} s" + _tail(log))


_PATH_LINE = re.compile(r"operation (\S+): (compiled in [\d.]+ ms|resolver path \((.*)\))")


def paths_in_log(log: Path | None) -> dict[str, set[str]]:
    """Operation name -> what a server's YMT_DEBUG_SQL log says about it: "compiled" and/or
    "resolver path (why)" (one per shape of the variables: each is planned once)."""
    out: dict[str, set[str]] = {}
    if log is None or not log.exists():
        return out
    for m in _PATH_LINE.finditer(log.read_text(errors="replace")):
        name, why = m.group(1), m.group(3)
        out.setdefault(name, set()).add("compiled" if why is None else f"resolver path ({why})")
    return out


@dataclass
class Target:
    name: str  # compiled | resolver | raw
    host: str
    port: int
    path: str
    pid: int | None
    log: Path | None = None
    compiled_reads: bool | None = None  # known for the servers this script started

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"


def parse_url(url: str, option: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise Abort(f"{option} must be http://host:port/path, got {url!r}")
    try:
        check_loopback(parts.hostname)
    except ValueError as exc:
        raise Abort(str(exc)) from exc
    return parts.hostname, parts.port or 80, parts.path or "/graphql"


# --- steps ------------------------------------------------------------------------------


async def login(host: str, port: int, path: str, email: str, password: str) -> str:
    body = graphql_body(TOKEN_CREATE, {"i": {"email": email, "password": password}})
    try:
        r = await request_once(host, port, path, body)
    except OSError as exc:
        raise Abort(f"GraphQL server not reachable at {host}:{port}{path}: {exc}") from exc
    try:
        doc = orjson.loads(r.body)
        payload = doc["data"]["tokenCreate"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise Abort(f"login failed: HTTP {r.status} {r.body[:500]!r}") from exc
    if not payload.get("token"):
        raise Abort(f"login failed: {payload.get('userErrors')}")
    return str(payload["token"])


def graphql_client(host: str, port: int, path: str, headers: dict[str, str]) -> GraphQL:
    async def gql(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        r = await request_once(host, port, path, graphql_body(query, variables), headers)
        try:
            doc = orjson.loads(r.body)
        except orjson.JSONDecodeError as exc:
            raise Abort(f"GraphQL answered HTTP {r.status}: {r.body[:500]!r}") from exc
        if r.status != 200 or doc.get("errors") or not isinstance(doc.get("data"), dict):
            raise Abort(f"GraphQL answered HTTP {r.status}: {r.body[:1000]!r}")
        return dict(doc["data"])

    return gql


@dataclass(frozen=True)
class Verified:
    expected: dict[str, Any]  # target -> its first page's document, as load responses must be (``comparable``)
    bytes_identical: dict[str, bool]  # GraphQL target -> its bytes equal raw's on every page verified
    paths: dict[str, str]  # GraphQL target -> the read path that answered
    pages: int


def which_path(t: Target, operation: str) -> str:
    """Which read path answered the operation: from the server's YMT_DEBUG_SQL log when this
    script started it (both paths write the same compact JSON: the bytes cannot tell)."""
    if t.compiled_reads is False:
        return "resolver (compiled reads off)"
    if t.log is None:
        # A server given by URL: only its role is known (the operator started it so).
        return "resolver (as --url-resolver)" if t.name == "resolver" else "unknown (server not started here)"
    verdicts = paths_in_log(t.log).get(operation, set())
    reasons = sorted(v for v in verdicts if v != "compiled")
    if reasons:
        return "; ".join(reasons)
    return "compiled" if verdicts else "unknown (not in the server log)"


async def fetch(t: Target, sc: Scenario, variables: dict[str, Any], headers: dict[str, str], email: str) -> Any:
    """One request of a scenario to a target: (status, body)."""
    if t.name == "raw":
        body = orjson.dumps({**sc.raw_body(variables), "user": email})
        return await request_once(t.host, t.port, sc.raw_path, body)
    return await request_once(t.host, t.port, t.path, graphql_body(sc.query, variables, sc.operation), headers)


async def verify(
    sc: Scenario, targets: list[Target], headers: dict[str, dict[str, str]], email: str, pages: int
) -> Verified:
    """Compare every GraphQL target's answer with the raw one for the first ``pages`` pages
    (fewer if the list ends)."""
    variables: dict[str, Any] | None = sc.variables
    expected: dict[str, Any] = {}
    first_bodies: dict[str, bytes] = {}
    identical = {t.name: True for t in targets if t.name != "raw"}
    compared = 0
    raw = next(t for t in targets if t.name == "raw")
    for page in range(pages):
        if variables is None:
            break
        r = await fetch(raw, sc, variables, {}, email)
        if r.status != 200:
            raise Abort(f"{sc.name}: raw answered HTTP {r.status}: {r.body[:1000]!r}", 1)
        got = comparable(orjson.loads(r.body))
        expected.setdefault("raw", got)
        data: dict[str, Any] | None = None
        for t in targets:
            if t.name == "raw":
                continue
            g = await fetch(t, sc, variables, headers[t.name], email)
            gdoc = orjson.loads(g.body) if g.body else None
            if g.status != 200 or not isinstance(gdoc, dict) or gdoc.get("errors") or not gdoc.get("data"):
                hint = " (start it with YMT_RATE_LIMIT_ENABLED=false)" if g.status == 429 else ""
                raise Abort(f"{sc.name}: {t.name} answered HTTP {g.status}{hint}: {g.body[:1000]!r}", 1)
            want = comparable(gdoc)
            if want != got:
                err.print(f"[bold red]{sc.name}: page {page + 1} differs between {t.name} and raw[/] "
                          f"(variables {variables})", highlight=False)
                print_diff(want, got, names=(t.name, "raw"))
                raise Abort(f"{sc.name}: {t.name} and raw responses differ", 1)
            identical[t.name] = identical[t.name] and g.body == r.body
            expected.setdefault(t.name, want)
            first_bodies.setdefault(t.name, g.body)
            data = data or gdoc["data"]
        compared += 1
        variables = sc.next_variables(variables, data) if sc.next_variables and data else None
    paths = {name: which_path(next(t for t in targets if t.name == name), sc.operation) for name in first_bodies}
    return Verified(expected, identical, paths, compared)


def validator(expected: Any) -> Callable[[bytes], bool]:
    # The data does not change during the run, so a sampled response must equal the
    # verified one; orjson keeps the check cheap.
    return lambda body: comparable(orjson.loads(body)) == expected


async def measure(
    target: str,
    host: str,
    port: int,
    path: str,
    body: bytes,
    headers: dict[str, str],
    expected: Any,
    args: argparse.Namespace,
    server: CpuMeter,
    db: CpuMeter,
    sessions: Callable[[], Awaitable[int | None]] | None = None,
) -> Measured:
    err.print(f"  {target}: {args.concurrency} connections, {args.warmup:g} s warmup + {args.duration:g} s")
    n0 = await sessions() if sessions else None
    s0, d0 = await server.sample(), await db.sample()
    # Backends may come and go during the run (a pool opening and closing overflow
    # connections): sample every SAMPLE_EVERY s and keep each process's last CPU time seen.
    seen: tuple[dict[int, float], dict[int, float]] = (dict(s0 or {}), dict(d0 or {}))
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
            for meter, acc in zip((server, db), seen, strict=True):
                acc.update(await meter.sample() or {})

    watcher = asyncio.create_task(watch())
    try:
        result = await run_load(
            host,
            port,
            path,
            body,
            headers,
            concurrency=args.concurrency,
            duration=args.duration,
            warmup=args.warmup,
            validate=validator(expected),
        )
    finally:
        stop.set()
        await watcher
    n1 = await sessions() if sessions else None
    return Measured(
        target=target,
        result=result,
        server_cpu=CpuMeter.delta(s0, seen[0]),
        db_cpu=CpuMeter.delta(d0, seen[1]),
        pg_sessions=None if n0 is None or n1 is None else n1 - n0,
    )


def fmt(x: float | None, spec: str = ".1f") -> str:
    return "–" if x is None or x != x else format(x, spec)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b and a == a and b == b else None


# --- output -------------------------------------------------------------------------------


def _goal_text(goals: dict[str, Any] | None) -> str:
    if goals is None:
        return "goals: – (needs a compiled and a raw target)"

    def verdict(ok: bool) -> str:
        return "[bold green]MET[/]" if ok else "[bold red]NOT MET[/]"

    return (
        f"goal compiled/raw ≥ {goals['compiled_over_raw_min']}: {verdict(goals['ratio_met'])} "
        f"({goals['compiled_over_raw']:.3f});  compiled p99 < {goals['p99_max_ms']:g} ms at "
        f"{goals['connections']} connections: {verdict(goals['p99_met'])} ({fmt(goals['compiled_p99_ms'], '.1f')} ms)"
    )


def render(report: Report, args: argparse.Namespace, console: Console) -> None:
    for note in report.prepared:
        console.print(f"prepared: {note}", highlight=False)
    for sr in report.results:
        table = Table(
            title=f"{sr.scenario} — {sr.operation} as {sr.email}: {args.concurrency} connections, "
            f"{args.warmup:g} s warmup + {args.duration:g} s per target",
            title_justify="left",
        )
        for col in (
            "target", "path", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors", "server CPU ms/req",
            "PG CPU ms/req", "PG sessions opened", "client CPU %",
        ):
            table.add_column(col, justify="left" if col in ("target", "path") else "right")
        for m in sr.measured:
            res = m.result
            table.add_row(
                m.target,
                sr.paths.get(m.target, "one SQL statement" if m.target == "raw" else "?"),
                fmt(res.rps),
                fmt(res.p50, ".2f"),
                fmt(res.p90, ".2f"),
                fmt(res.p99, ".2f"),
                f"[red]{res.errors}[/]" if res.errors else "0",
                fmt(m.per_request_ms(m.server_cpu), ".3f"),
                fmt(m.per_request_ms(m.db_cpu), ".3f"),
                "–" if m.pg_sessions is None else str(m.pg_sessions),
                fmt(res.client_cpu / (args.warmup + args.duration) * 100, ".0f"),
                end_section=m is sr.measured[-1],
            )
        raw = sr.target("raw")
        for m in sr.measured:
            if m.target == "raw" or raw is None:
                continue
            table.add_row(
                f"[bold]{m.target}/raw[/]",
                "",
                f"[bold]{fmt(sr.ratio(m.target), '.3f')}[/]",
                fmt(_ratio(m.result.p50, raw.result.p50), ".2f"),
                fmt(_ratio(m.result.p90, raw.result.p90), ".2f"),
                fmt(_ratio(m.result.p99, raw.result.p99), ".2f"),
                "",
                fmt(_ratio(m.per_request_ms(m.server_cpu), raw.per_request_ms(raw.server_cpu)), ".2f"),
                fmt(_ratio(m.per_request_ms(m.db_cpu), raw.per_request_ms(raw.db_cpu)), ".2f"),
                "",
                "",
            )
        console.print(table)
        console.print(_goal_text(sr.goals(args)))
        same = ", ".join(
            f"{name} {'byte-identical' if ok else 'same data (bytes differ)'}"
            for name, ok in sr.bytes_identical.items()
        )
        console.print(f"verified against raw: {same}", highlight=False)
        for m in sr.measured:
            for sample in m.result.error_samples:
                console.print(f"  {m.target} error: {sample}", markup=False, highlight=False)
        for note in sr.notes:
            console.print(f"  note: {note}", highlight=False)
        console.print()
    if len(report.results) > 1:
        summary = Table(title="summary", title_justify="left")
        for col in ("scenario", "compiled req/s", "resolver req/s", "raw req/s", "compiled/raw", "resolver/raw",
                    "compiled p99 ms", "goals"):
            summary.add_column(col, justify="left" if col in ("scenario", "goals") else "right")
        for sr in report.results:
            goals = sr.goals(args)

            def rps(name: str, sr: ScenarioResult = sr) -> str:
                m = sr.target(name)
                return fmt(m.result.rps) if m else "–"

            compiled = sr.target("compiled")
            summary.add_row(
                sr.scenario, rps("compiled"), rps("resolver"), rps("raw"),
                fmt(sr.ratio("compiled"), ".3f"), fmt(sr.ratio("resolver"), ".3f"),
                fmt(compiled.result.p99 if compiled else None, ".1f"),
                "–" if goals is None else ("[green]met[/]" if goals["met"] else "[red]not met[/]"),
            )
        console.print(summary)
    if report.log_dir is not None:
        console.print(f"server logs: {report.log_dir}", highlight=False)


@dataclass
class Report:
    results: list[ScenarioResult]
    prepared: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    log_dir: Path | None = None

    def to_json(self, args: argparse.Namespace) -> dict[str, Any]:
        return {
            "config": {
                k: getattr(args, k)
                for k in (
                    "start_servers", "server_env", "url_compiled", "url_resolver", "url_raw", "raw_style", "first",
                    "concurrency", "duration", "warmup", "email", "admin_email", "dealer", "warehouse",
                    "quantity", "orders", "goal_ratio", "goal_p99",
                )
            },
            "targets": {t.name: t.url for t in self.targets},
            "prepared": self.prepared,
            "scenarios": [
                {
                    "scenario": sr.scenario,
                    "operation": sr.operation,
                    "user": sr.email,
                    "paths": sr.paths,
                    "ratios": {f"{m.target}/raw": _r(sr.ratio(m.target), 4) for m in sr.measured if m.target != "raw"},
                    "goals": sr.goals(args),
                    "bytes_identical": sr.bytes_identical,
                    "targets": {m.target: m.summary() for m in sr.measured},
                    "notes": sr.notes,
                }
                for sr in self.results
            ],
            "server_logs": str(self.log_dir) if self.log_dir else None,
        }


# --- the run ------------------------------------------------------------------------------


DEFAULT_URL = "http://127.0.0.1:8000/graphql"


async def run(args: argparse.Namespace, database_url: str | None = None) -> Report:
    database_url = database_url or args.database_url or os.environ.get("DATABASE_URL")
    if not database_url:
        raise Abort("set DATABASE_URL (postgresql://...) to the API's database: raw_server.py needs it")
    wanted = set(args.scenario or [])
    names = [s.name for s in build_scenarios()]
    report = Report(results=[])

    def email_of(sc: Scenario) -> str:
        return sc.email or args.email

    # The issue-5 dealer pages look at the HQ warehouse the dealer buys from (unless told otherwise).
    page_warehouse = args.warehouse
    if page_warehouse is None and (not wanted or wanted & {"dealer-page-50", "dealer-page-100"}):
        page_warehouse = await seller_warehouse_code(database_url, args.tenant, args.admin_email, args.dealer)
    all_scenarios = build_scenarios(
        args.first, args.dealer, args.warehouse, args.quantity, admin_email=args.admin_email,
        page_warehouse=page_warehouse,
    )
    scenarios = [s for s in all_scenarios if not wanted or s.name in wanted]
    if not scenarios:
        raise Abort(f"no scenario named {sorted(wanted)} (there are {names})")
    emails = list(dict.fromkeys([args.email, *(email_of(s) for s in scenarios)]))

    viewers = list(dict.fromkeys(email_of(s) for s in scenarios if s.needs_orders))
    if viewers:
        err.print(f"order lists: making sure {', '.join(viewers)} see ≥ {args.orders} orders")
        try:
            report.prepared += await ensure_orders(
                database_url, args.tenant, args.admin_email, viewers, args.orders, args.dealer
            )
        except PrepareError as exc:
            raise Abort(f"preparing orders: {exc}") from exc
        for note in report.prepared:
            err.print(f"  {note}", highlight=False)

    with contextlib.ExitStack() as stack:
        targets: list[Target] = []
        procs: dict[str, subprocess.Popen[bytes]] = {}
        # The same number of statements at once for the API (its read gate) and raw (its pool).
        read_concurrency = args.read_concurrency or Settings().read_concurrency
        if args.start_servers:
            redis_url = args.redis_url or os.environ.get("REDIS_URL")
            if not redis_url:
                raise Abort("--start-servers: set REDIS_URL (or --redis-url) for the API servers")
            extra: dict[str, str] = {}
            for item in args.server_env:
                name, sep, value = item.partition("=")
                if not sep or not name:
                    raise Abort(f"--server-env wants NAME=VALUE, got {item!r}")
                extra[name] = value
            read_concurrency = int(extra.setdefault("YMT_DB_READ_CONCURRENCY", str(read_concurrency)))
            err.print(f"statements at once per server: {read_concurrency} (API: YMT_DB_READ_CONCURRENCY; raw: "
                      "its pool size)", highlight=False)
            report.log_dir = Path(args.log_dir) if args.log_dir else Path(tempfile.mkdtemp(prefix="ymt-bench-"))
            report.log_dir.mkdir(parents=True, exist_ok=True)
            for name, compiled in (("compiled", True), ("resolver", False)):
                port = free_port()
                log = report.log_dir / f"api-{name}.log"
                procs[name] = stack.enter_context(api_server(port, database_url, redis_url, compiled, log, extra))
                targets.append(Target(name, "127.0.0.1", port, "/graphql", procs[name].pid, log, compiled))
                more = "".join(f", {k}={v}" for k, v in extra.items())
                err.print(f"{name}: ymt-graph serve on port {port} (YMT_COMPILED_READS={str(compiled).lower()}{more}), "
                          f"log {log}", highlight=False)
        else:
            urls = (("compiled", args.url_compiled or args.url or DEFAULT_URL), ("resolver", args.url_resolver))
            for name, url in urls:
                if url:
                    host, port, path = parse_url(url, f"--url-{name}")
                    targets.append(Target(name, host, port, path, listening_pid(port)))
        if args.url_raw:
            host, port, _ = parse_url(args.url_raw, "--url-raw")
            targets.append(Target("raw", host, port, "", listening_pid(port)))
        else:
            port = args.raw_port or free_port()
            log = report.log_dir / "raw.log" if report.log_dir else None
            procs["raw"] = stack.enter_context(
                raw_server(port, args.tenant, args.raw_style, emails, log, pool_size=read_concurrency))
            targets.append(Target("raw", "127.0.0.1", port, "", procs["raw"].pid, log))
        report.targets = targets
        for t in targets:
            if t.name in procs:
                what = "raw_server.py" if t.name == "raw" else f"ymt-graph serve ({t.name})"
                await wait_ready(procs[t.name], t.port, what, 90.0, t.log)
        report.results = await _measure_all(args, database_url, scenarios, targets, email_of)
    return report


async def _measure_all(
    args: argparse.Namespace, database_url: str, scenarios: list[Scenario], targets: list[Target],
    email_of: Callable[[Scenario], str],
) -> list[ScenarioResult]:
    gql_targets = [t for t in targets if t.name != "raw"]
    # Logins: each API server, each user the scenarios use.
    headers: dict[tuple[str, str], dict[str, str]] = {}
    for email in dict.fromkeys(email_of(s) for s in scenarios):
        for t in gql_targets:
            token = await login(t.host, t.port, t.path, email, args.password)
            headers[(t.name, email)] = {"Authorization": f"Bearer {token}"}
        err.print(f"logged in as {email} on {', '.join(t.name for t in gql_targets)}")
    first = gql_targets[0]
    for i, sc in enumerate(scenarios):
        if sc.prepare is not None:
            gql = graphql_client(first.host, first.port, first.path, headers[(first.name, email_of(sc))])
            found = await sc.prepare(gql)
            scenarios[i] = replace(sc, variables={**sc.variables, **found})
            err.print(f"{sc.name}: {found}")

    notes: list[str] = []
    db_port = local_db_port(database_url)
    if db_port is None:
        notes.append("database is not on 127.0.0.1 over TCP: PostgreSQL CPU is not measured")
    for t in targets:
        if t.pid is None:
            notes.append(f"no process found listening on port {t.port} ({t.name}): its CPU is not measured")
    if len({t.pid for t in targets if t.pid is not None}) < len([t for t in targets if t.pid is not None]):
        notes.append("several targets run in one process (in-process servers): CPU per request is theirs together")
    # A connection of our own for pg_stat_activity lookups (excluded from the counts).
    stats_conn = await asyncpg.connect(plain_dsn(database_url)) if db_port else None
    results: list[ScenarioResult] = []

    async def sessions() -> int | None:
        """Sessions ever opened on this database (PostgreSQL ≥ 14; None before)."""
        if stats_conn is None:
            return None
        try:
            found = await stats_conn.fetchval(
                "select sessions from pg_stat_database where datname = current_database()"
            )
        except asyncpg.PostgresError:
            return None
        return None if found is None else int(found)

    try:
        meters = {
            t.name: (
                CpuMeter(tree_finder(t.pid)),
                CpuMeter(backend_finder(stats_conn, t.pid, db_port) if stats_conn and db_port else None),
            )
            for t in targets
        }
        # Every scenario is verified before any load: a wrong answer stops the run early.
        verified: list[Verified] = []
        for sc in scenarios:
            email = email_of(sc)
            v = await verify(sc, targets, {t.name: headers[(t.name, email)] for t in gql_targets}, email, pages=2)
            paths = ", ".join(f"{k}: {p}" for k, p in v.paths.items())
            err.print(f"[bold]{sc.name}[/]: {v.pages} page(s) verified against raw; {paths}", highlight=False)
            verified.append(v)
        for sc, v in zip(scenarios, verified, strict=True):
            email = email_of(sc)
            err.print(f"[bold]{sc.name}[/]: load")
            measured: list[Measured] = []
            for i, t in enumerate(targets):
                if i:
                    await asyncio.sleep(args.pause)  # let the previous target's tail drain
                if t.name == "raw":
                    path, body, hdrs = sc.raw_path, orjson.dumps({**sc.raw_body(sc.variables), "user": email}), {}
                else:
                    path, body = t.path, graphql_body(sc.query, sc.variables, sc.operation)
                    hdrs = headers[(t.name, email)]
                measured.append(await measure(t.name, t.host, t.port, path, body, hdrs, v.expected[t.name], args,
                                              *meters[t.name], sessions))
            described = [sc.describe(v.expected[gql_targets[0].name]["data"])] if sc.describe else []
            described += [
                f"{m.target}: {m.pg_sessions} PostgreSQL connections opened during its load (a pool filling up, "
                "or opening connections beyond its size and closing them again): a new backend prepares and "
                f"plans its statements afresh, and one living less than {SAMPLE_EVERY:g} s between CPU samples "
                "is missing from PG CPU"
                for m in measured
                if m.pg_sessions
            ]
            results.append(ScenarioResult(sc.name, sc.operation, email, measured, v.bytes_identical, v.paths,
                                          [*described, *notes]))
    finally:
        if stats_conn is not None:
            await stats_conn.close()
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    servers = ap.add_argument_group("servers")
    servers.add_argument("--start-servers", action="store_true",
                         help="start the compiled and the resolver API server (ymt-graph serve, free ports)")
    servers.add_argument("--url-compiled", default=None,
                         help=f"a running API with compiled reads (default {DEFAULT_URL})")
    servers.add_argument("--url", default=None, help="the same as --url-compiled (older spelling)")
    servers.add_argument("--url-resolver", default=None, help="a running API with YMT_COMPILED_READS=false")
    servers.add_argument("--url-raw", default=None, help="a running raw_server.py (default: start one)")
    servers.add_argument("--raw-port", type=int, default=0, help="port for the raw server started (default: free)")
    servers.add_argument(
        "--raw-style",
        choices=["compact", "build-object"],
        default="compact",
        help="how raw_server.py builds the catalog page's JSON (see its docstring)",
    )
    servers.add_argument("--database-url", default=None, help="default: $DATABASE_URL")
    servers.add_argument("--redis-url", default=None, help="for --start-servers (default: $REDIS_URL)")
    servers.add_argument("--log-dir", default=None, help="for --start-servers: server logs (default: a temp dir)")
    servers.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                         help="for --start-servers: an environment variable for both API servers, e.g. "
                         "YMT_DB_POOL_SIZE=32 (repeatable)")
    servers.add_argument("--read-concurrency", type=int, default=None, metavar="N",
                         help="statements each started server runs at once: the API servers' "
                         "YMT_DB_READ_CONCURRENCY (unless --server-env sets it) and the raw server's pool "
                         "size (default: the API's default, 2 × this machine's cores)")
    load = ap.add_argument_group("load")
    load.add_argument("--connections", "--concurrency", dest="concurrency", type=int, default=32,
                      help="concurrent keep-alive connections per target (default 32)")
    load.add_argument("--duration", type=float, default=10.0, help="measured seconds per target")
    load.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    load.add_argument("--pause", type=float, default=1.0, help="seconds between targets")
    load.add_argument("--goal-ratio", type=float, default=0.45, help="goal: compiled req/s ≥ this × raw req/s")
    load.add_argument("--goal-p99", type=float, default=100.0, help="goal: compiled p99 below this many ms")
    sc = ap.add_argument_group("scenarios")
    sc.add_argument("--scenario", action="append", choices=[s.name for s in build_scenarios()],
                    help="run only this scenario (repeatable; default all)")
    sc.add_argument("--email", default="dealer1@demo.example", help="login of the catalog and dealer scenarios "
                    "and of order-list-25-dealer")
    sc.add_argument("--admin-email", default="admin@demo.example",
                    help="HQ_ADMIN login: order-list-25, and who makes missing orders")
    sc.add_argument("--password", default="demo-password")
    sc.add_argument("--tenant", default="demo", help="tenant code the raw endpoints filter on")
    sc.add_argument("--first", type=int, default=50, help="catalog and dealer-page: page size")
    sc.add_argument("--dealer", default="D0001", help="the dealer (code) whose pages are read; its subtree buys "
                    "the orders made for the order lists")
    sc.add_argument("--warehouse", default=None, help="warehouse code for `available`/`stockLevel` (dealer-page: "
                    "W-<dealer>; dealer-page-50/100: the HQ warehouse the dealer buys from)")
    sc.add_argument("--quantity", type=int, default=10, help="dealer-page: quantity priced")
    sc.add_argument("--orders", type=int, default=30,
                    help="order lists: each user must see at least this many orders (missing ones are made)")
    ap.add_argument("--json", action="store_true", help="print results as JSON on stdout (tables on stderr)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runner: Callable[[Any], Report] = asyncio.run
    try:
        import uvloop  # the client's own overhead matters on 2 cores

        runner = uvloop.run
    except ImportError:
        pass
    try:
        report = runner(run(args))
    except Abort as exc:
        err.print(f"[bold red]abort:[/] {exc}", highlight=False)
        return exc.code
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(report.to_json(args), indent=2, ensure_ascii=False))
        render(report, args, err if sys.stderr.isatty() else Console(stderr=True, width=160))
    else:
        # Piped output would be cut to 80 columns; the table needs more.
        render(report, args, Console() if sys.stdout.isatty() else Console(width=160))
    return 0


if __name__ == "__main__":
    sys.exit(main())
