"""Catalog read benchmark: the GraphQL API against the same JSON built by PostgreSQL.

How to run (from the repository root):

1. Start the API on a seeded database, e.g. ``scripts/dev`` or
   ``DATABASE_URL=postgresql://... ymt-graph serve --port 8000`` (a dealer login
   ``dealer1@demo.example`` / ``demo-password`` must exist in tenant ``demo``).
2. With the SAME ``DATABASE_URL`` in the environment (``postgresql://...``), run::

       .venv/bin/python scripts/bench/catalog.py                  # 10 s per target
       .venv/bin/python scripts/bench/catalog.py --duration 5 --concurrency 32 --json

What it does: logs in through ``tokenCreate``, starts ``raw_server.py`` (bare
Starlette + asyncpg, one SQL statement that returns the finished JSON) on
``--raw-port``, checks that both answer every scenario with the same JSON
(first page and the next one; aborts with a diff otherwise), then runs the same
closed-loop load (``loadgen.py``) against each and prints req/s, latency, errors,
the graphql/raw throughput ratio and, when the processes can be found, server
and PostgreSQL CPU per request. The raw server is stopped at the end.

CPU per request is the process's user+system time over the whole run divided
by every request it served (warmup included); "PG CPU" counts only the
PostgreSQL backends whose client port belongs to that server (looked up in
pg_stat_activity), so other users of the database are not charged to it.

Scenarios are data (``build_scenarios``): a GraphQL query with variables and the
raw endpoint that must return the same JSON. To add one ("order list"), add a
route to ``raw_server.py`` and an entry there.

- ``catalog``: the tenant's catalog page (``skus(first: 50)`` with category and model).
- ``dealer-page``: a dealer's priced catalog page (DealerCatalogPage): the SKUs the
  dealer may order, each with its guide retail price, its supply price for
  ``--quantity`` units (the price rule), the national price band and what the
  dealer's warehouse has available. The dealer (``--dealer``) and warehouse
  (``--warehouse``, default ``W-<dealer>``) ids are looked up through GraphQL at
  start; the raw endpoint applies the logged-in user's access rules (``--email``).

Order: log in, look the scenarios' ids up, start the raw server, verify every
scenario, then load each one.

Both servers and the load generator share this machine; on 2 cores the numbers
are comparable with each other (same run, same conditions), not absolute.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import socket
import subprocess
import sys
import time
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
from raw_server import plain_dsn
from rich.console import Console
from rich.table import Table

from ymt_graph.graph.ids import decode_gid

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
}
"""


# --- scenarios ---------------------------------------------------------------------------


# Runs a GraphQL query as the logged-in user; returns ``data`` (aborts on errors).
GraphQL = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Scenario:
    """One read measured both ways. ``raw_body`` maps the GraphQL variables to the raw
    endpoint's JSON body; ``next_variables`` gives the variables of the page after a
    response (or None), so verification also covers cursors. ``prepare`` looks up what
    the variables need (global ids) through GraphQL before anything runs; ``describe``
    says what the first page holds (so a reader knows which paths were exercised)."""

    name: str
    operation: str
    query: str
    variables: dict[str, Any]
    raw_path: str
    raw_body: Callable[[dict[str, Any]], dict[str, Any]] = dict
    next_variables: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None] | None = None
    prepare: Callable[[GraphQL], Awaitable[dict[str, Any]]] | None = None
    describe: Callable[[dict[str, Any]], str] | None = None


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
    async def prepare(gql: GraphQL) -> dict[str, Any]:
        dealer = (await gql(DEALER_LOOKUP, {"code": dealer_code})).get("dealer")
        if dealer is None:
            raise Abort(f"dealer {dealer_code!r} not found, or not visible to this user")
        found = {e["node"]["code"]: e["node"]["id"] for e in dealer["warehouses"]["edges"]}
        if warehouse_code not in found:
            raise Abort(f"dealer {dealer_code} has no warehouse {warehouse_code!r} (it has {sorted(found)})")
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


def build_scenarios(
    first: int, dealer: str = "D0001", warehouse: str | None = None, quantity: int = 10
) -> list[Scenario]:
    # Later: "order list" (add a raw route for it).
    warehouse = warehouse or f"W-{dealer}"
    return [
        Scenario(
            name="catalog",
            operation="CatalogPage",
            query=CATALOG_PAGE,
            variables={"first": first},
            raw_path="/raw/catalog",
            raw_body=lambda v: {"first": v["first"], "after": v.get("after")},
            next_variables=_next_page("skus"),
        ),
        Scenario(
            name="dealer-page",
            operation="DealerCatalogPage",
            query=DEALER_CATALOG_PAGE,
            variables={"first": first, "quantity": quantity},  # + dealerId, warehouseId from prepare
            raw_path="/raw/dealer-page",
            raw_body=lambda v: {
                "first": v["first"],
                "after": v.get("after"),
                "dealerId": pk_of(v["dealerId"], "Dealer"),
                "warehouseId": pk_of(v["warehouseId"], "Warehouse"),
                "quantity": v["quantity"],
            },
            next_variables=_next_page("skus"),
            prepare=dealer_lookup(dealer, warehouse),
            describe=describe_dealer_page(warehouse),
        ),
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
        }


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(x, nd)


@dataclass
class ScenarioResult:
    scenario: str
    graphql: Measured
    raw: Measured
    bytes_identical: bool
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        raw = self.raw.result.rps
        return self.graphql.result.rps / raw if raw else None


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


def print_diff(graphql: Any, raw: Any, limit: int = 80) -> None:
    where = first_difference(graphql, raw)
    err.print(f"[bold red]first difference[/] {where}")
    lines = difflib.unified_diff(
        json.dumps(graphql, indent=1, ensure_ascii=False).splitlines(),
        json.dumps(raw, indent=1, ensure_ascii=False).splitlines(),
        "graphql",
        "raw",
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


@contextmanager
def raw_server(port: int, tenant: str, style: str, user: str) -> Iterator[subprocess.Popen[bytes]]:
    if port_in_use(port):
        raise Abort(f"port {port} is already in use; stop that process or pass --raw-port")
    cmd = [
        sys.executable,
        str(RAW_SERVER),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--tenant",
        tenant,
        "--style",
        style,
        "--user",
        user,
    ]
    proc = subprocess.Popen(cmd, env=os.environ.copy())
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def wait_ready(proc: subprocess.Popen[bytes], port: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Abort(f"raw_server.py exited with code {proc.returncode} (see its output above)")
        try:
            r = await request_once("127.0.0.1", port, "/health", method="GET", time_limit=2.0)
            if r.status == 200:
                return
        except (OSError, asyncio.IncompleteReadError, ProtocolError):
            pass  # not listening yet (TimeoutError is an OSError)
        await asyncio.sleep(0.1)
    raise Abort(f"raw_server.py not ready on port {port} after {within:.0f} s")


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
    graphql: Any  # the first page's documents, as load responses must be (``comparable``)
    raw: Any
    bytes_identical: bool  # on every page verified
    pages: int


async def verify(
    sc: Scenario, host: str, port: int, path: str, headers: dict[str, str], raw_port: int, pages: int
) -> Verified:
    """Compare both answers for the first ``pages`` pages (fewer if the list ends)."""
    variables: dict[str, Any] | None = sc.variables
    expected: tuple[Any, Any] | None = None
    identical = True
    compared = 0
    for page in range(pages):
        if variables is None:
            break
        g = await request_once(host, port, path, graphql_body(sc.query, variables, sc.operation), headers)
        r = await request_once("127.0.0.1", raw_port, sc.raw_path, orjson.dumps(sc.raw_body(variables)))
        gdoc = orjson.loads(g.body) if g.body else None
        if g.status != 200 or not isinstance(gdoc, dict) or gdoc.get("errors") or not gdoc.get("data"):
            raise Abort(f"{sc.name}: GraphQL answered HTTP {g.status}: {g.body[:1000]!r}", 1)
        if r.status != 200:
            raise Abort(f"{sc.name}: raw answered HTTP {r.status}: {r.body[:1000]!r}", 1)
        rdoc = orjson.loads(r.body)
        want, got = comparable(gdoc), comparable(rdoc)
        if want != got:
            err.print(f"[bold red]{sc.name}: page {page + 1} differs (variables {variables})[/]")
            print_diff(want, got)
            raise Abort(f"{sc.name}: GraphQL and raw responses differ", 1)
        identical = identical and g.body == r.body
        compared += 1
        if expected is None:
            expected = (want, got)
        variables = sc.next_variables(variables, gdoc["data"]) if sc.next_variables else None
    assert expected is not None
    return Verified(expected[0], expected[1], identical, compared)


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
) -> Measured:
    err.print(f"  {target}: {args.concurrency} connections, {args.warmup:g} s warmup + {args.duration:g} s")
    s0, d0 = await server.sample(), await db.sample()
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
    s1, d1 = await server.sample(), await db.sample()
    return Measured(
        target=target,
        result=result,
        server_cpu=CpuMeter.delta(s0, s1),
        db_cpu=CpuMeter.delta(d0, d1),
    )


def fmt(x: float | None, spec: str = ".1f") -> str:
    return "–" if x is None or x != x else format(x, spec)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b and a == a and b == b else None


def render(results: list[ScenarioResult], args: argparse.Namespace, console: Console) -> None:
    table = Table(
        title=f"first={args.first}  concurrency={args.concurrency}  {args.duration:g} s per target",
    )
    for col in (
        "scenario",
        "target",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "errors",
        "server CPU ms/req",
        "PG CPU ms/req",
        "client CPU %",
    ):
        table.add_column(col, justify="left" if col in ("scenario", "target") else "right")
    for sr in results:
        for m in (sr.graphql, sr.raw):
            res = m.result
            table.add_row(
                sr.scenario if m is sr.graphql else "",
                m.target,
                fmt(res.rps),
                fmt(res.p50, ".2f"),
                fmt(res.p90, ".2f"),
                fmt(res.p99, ".2f"),
                f"[red]{res.errors}[/]" if res.errors else "0",
                fmt(m.per_request_ms(m.server_cpu), ".3f"),
                fmt(m.per_request_ms(m.db_cpu), ".3f"),
                fmt(res.client_cpu / (args.warmup + args.duration) * 100, ".0f"),
            )
        g, r = sr.graphql, sr.raw
        table.add_row(
            "",
            "[bold]graphql/raw[/]",
            f"[bold]{fmt(sr.ratio, '.3f')}[/]",
            fmt(_ratio(g.result.p50, r.result.p50), ".2f"),
            fmt(_ratio(g.result.p90, r.result.p90), ".2f"),
            fmt(_ratio(g.result.p99, r.result.p99), ".2f"),
            "",
            fmt(_ratio(g.per_request_ms(g.server_cpu), r.per_request_ms(r.server_cpu)), ".2f"),
            fmt(_ratio(g.per_request_ms(g.db_cpu), r.per_request_ms(r.db_cpu)), ".2f"),
            "",
            end_section=True,
        )
    console.print(table)
    for sr in results:
        extra = "" if sr.bytes_identical else " (same JSON after parsing; bytes differ)"
        console.print(f"{sr.scenario}: responses verified identical{extra}")
        for m in (sr.graphql, sr.raw):
            for sample in m.result.error_samples:
                console.print(f"  {m.target} error: {sample}", markup=False, highlight=False)
        for note in sr.notes:
            console.print(f"  note: {note}")


async def run(args: argparse.Namespace) -> list[ScenarioResult]:
    url = urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        raise Abort(f"--url must be http://host:port/path, got {args.url!r}")
    host, port, path = url.hostname, url.port or 80, url.path or "/graphql"
    try:
        check_loopback(host)
    except ValueError as exc:
        raise Abort(str(exc)) from exc
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        raise Abort("set DATABASE_URL (postgresql://...) to the API's database: raw_server.py needs it")
    wanted = set(args.scenario or [])
    all_scenarios = build_scenarios(args.first, args.dealer, args.warehouse, args.quantity)
    scenarios = [s for s in all_scenarios if not wanted or s.name in wanted]
    if not scenarios:
        raise Abort(f"no scenario named {sorted(wanted)}")

    token = await login(host, port, path, args.email, args.password)
    headers = {"Authorization": f"Bearer {token}"}
    err.print(f"logged in as {args.email}")
    gql = graphql_client(host, port, path, headers)
    for i, sc in enumerate(scenarios):
        if sc.prepare is not None:
            found = await sc.prepare(gql)
            scenarios[i] = replace(sc, variables={**sc.variables, **found})
            err.print(f"{sc.name}: {found}")

    server_pid = listening_pid(port)
    notes: list[str] = []
    if server_pid is None:
        notes.append(f"no process found listening on port {port}: its CPU is not measured")
    db_port = local_db_port(database_url)
    if db_port is None:
        notes.append("database is not on 127.0.0.1 over TCP: PostgreSQL CPU is not measured")
    # A connection of our own for pg_stat_activity lookups (excluded from the counts).
    stats_conn = await asyncpg.connect(plain_dsn(database_url)) if db_port else None

    results: list[ScenarioResult] = []
    try:
        with raw_server(args.raw_port, args.tenant, args.raw_style, args.email) as proc:
            await wait_ready(proc, args.raw_port)
            targets = {
                "graphql": (
                    CpuMeter(tree_finder(server_pid)),
                    CpuMeter(backend_finder(stats_conn, server_pid, db_port) if stats_conn and db_port else None),
                ),
                "raw": (
                    CpuMeter(tree_finder(proc.pid)),
                    CpuMeter(backend_finder(stats_conn, proc.pid, db_port) if stats_conn and db_port else None),
                ),
            }
            # Every scenario is verified before any load: a wrong answer stops the run early.
            verified: list[Verified] = []
            for sc in scenarios:
                v = await verify(sc, host, port, path, headers, args.raw_port, pages=2)
                err.print(f"[bold]{sc.name}[/]: {v.pages} page(s) verified, bytes identical: {v.bytes_identical}")
                verified.append(v)
            for sc, v in zip(scenarios, verified, strict=True):
                err.print(f"[bold]{sc.name}[/]: load")
                g = await measure(
                    "graphql",
                    host,
                    port,
                    path,
                    graphql_body(sc.query, sc.variables, sc.operation),
                    headers,
                    v.graphql,
                    args,
                    *targets["graphql"],
                )
                await asyncio.sleep(1.0)  # let the first target's tail drain before the next
                r = await measure(
                    "raw",
                    "127.0.0.1",
                    args.raw_port,
                    sc.raw_path,
                    orjson.dumps(sc.raw_body(sc.variables)),
                    {},
                    v.raw,
                    args,
                    *targets["raw"],
                )
                described = [sc.describe(v.graphql["data"])] if sc.describe else []
                results.append(ScenarioResult(sc.name, g, r, v.bytes_identical, [*described, *notes]))
    finally:
        if stats_conn is not None:
            await stats_conn.close()
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8000/graphql", help="GraphQL endpoint (loopback only)")
    ap.add_argument("--raw-port", type=int, default=8001)
    ap.add_argument(
        "--raw-style",
        choices=["compact", "build-object"],
        default="compact",
        help="how raw_server.py builds JSON (see its docstring)",
    )
    ap.add_argument("--first", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--duration", type=float, default=10.0, help="measured seconds per target")
    ap.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    ap.add_argument("--email", default="dealer1@demo.example")
    ap.add_argument("--password", default="demo-password")
    ap.add_argument("--tenant", default="demo", help="tenant code the raw endpoints filter on")
    ap.add_argument("--dealer", default="D0001", help="dealer-page: the dealer (code) whose page is read")
    ap.add_argument("--warehouse", default=None, help="dealer-page: warehouse code for `available` (W-<dealer>)")
    ap.add_argument("--quantity", type=int, default=10, help="dealer-page: quantity priced")
    ap.add_argument(
        "--scenario",
        action="append",
        choices=[s.name for s in build_scenarios(1)],  # default: all
        help="run only this scenario (repeatable; default all)",
    )
    ap.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runner: Callable[[Any], list[ScenarioResult]] = asyncio.run
    try:
        import uvloop  # the client's own overhead matters on 2 cores

        runner = uvloop.run
    except ImportError:
        pass
    try:
        results = runner(run(args))
    except Abort as exc:
        err.print(f"[bold red]abort:[/] {exc}")
        return exc.code
    except KeyboardInterrupt:
        return 130
    if args.json:
        doc = {
            "config": {
                k: getattr(args, k)
                for k in (
                    "url",
                    "raw_port",
                    "raw_style",
                    "first",
                    "concurrency",
                    "duration",
                    "warmup",
                    "email",
                    "dealer",
                    "warehouse",
                    "quantity",
                )
            },
            "scenarios": [
                {
                    "scenario": sr.scenario,
                    "ratio_graphql_over_raw": _r(sr.ratio, 4),
                    "bytes_identical": sr.bytes_identical,
                    "graphql": sr.graphql.summary(),
                    "raw": sr.raw.summary(),
                    "notes": sr.notes,
                }
                for sr in results
            ],
        }
        print(json.dumps(doc, indent=2))
        render(results, args, err if sys.stderr.isatty() else Console(stderr=True, width=140))
    else:
        # Piped output would be cut to 80 columns; the table needs more.
        render(results, args, Console() if sys.stdout.isatty() else Console(width=140))
    return 0


if __name__ == "__main__":
    sys.exit(main())
