"""The floor the GraphQL server is measured against: the same JSON, built by PostgreSQL.

A bare Starlette app on uvicorn (uvloop, httptools, one process, no access log:
the settings of ``ymt-graph serve``) with an asyncpg pool. Each endpoint runs
ONE SQL statement that returns the complete response body as bytes, and Python
only passes the bytes through, so what remains is HTTP + PostgreSQL: the cost a
compiled-to-SQL hot read could approach (ARCHITECTURE.md, "Speed").

    DATABASE_URL=postgresql://... python scripts/bench/raw_server.py --port 8001
    DATABASE_URL=postgresql://... python scripts/bench/raw_server.py --check

Endpoints (no authentication; the tenant filter is applied as in the API):

    POST /raw/catalog  {"first": 50, "after": null}  -> body of the CatalogPage query
    GET  /health

``--check`` serves nothing: it walks every page of the catalog through the SQL
and through a Python reference built with the project's own id and cursor
encoders, and exits non-zero on the first difference.

Why the JSON is concatenated text rather than json_build_object/json_agg:
PostgreSQL's ``json`` output puts spaces around ``:`` and after ``,``
(``{"a" : 1, "b" : 2}``) while the API writes compact JSON; concatenating
``to_json(value)`` pieces gives byte-identical output for the same cost.
``--style build-object`` switches to the json_build_object/json_agg statement
(PostGraphile's shape; same data, different whitespace) to compare the two.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

MAX_PAGE = 250  # the API's bound on `first`


# --- SQL building blocks ---------------------------------------------------------------


def _b64url(bytea_sql: str) -> str:
    """base64url without padding, in SQL. encode(..., 'base64') wraps lines every 76
    characters (and may end with a newline), so newlines go before anything else."""
    return f"rtrim(translate(replace(encode({bytea_sql}, 'base64'), E'\\n', ''), '+/', '-_'), '=')"


def _gid(type_name: str, id_sql: str) -> str:
    """Relay id: base64url("Type:<id>") without padding (ymt_graph.graph.ids.encode_gid)."""
    return _b64url(f"convert_to('{type_name}:' || {id_sql}::text, 'UTF8')")


def _cursor(code_sql: str, id_sql: str) -> str:
    """base64url of orjson.dumps([code, id]): to_json(text) escapes exactly like orjson
    (\\" \\\\ \\b \\f \\n \\r \\t, other controls as \\u00XX, non-ASCII kept as UTF-8)."""
    return _b64url(f"convert_to('[' || to_json({code_sql})::text || ',' || {id_sql}::text || ']', 'UTF8')")


# A JSON text under construction: pieces of literal JSON text and SQL expressions
# that yield JSON text. Adjacent literals are merged so the statement does as few
# concatenations as possible; every expression is text already (see _scalar).
Json = list[tuple[bool, str]]  # (is literal, text or SQL)


def _lit(text: str) -> Json:
    return [(True, text)]


def _string(sql: str) -> Json:
    """A text column as a JSON string (to_json escapes)."""
    return [(False, f"to_json({sql})::text")]


def _nullable(sql: str) -> Json:
    return [(False, f"coalesce(to_json({sql})::text, 'null')")]


def _scalar(sql: str) -> Json:
    """Numbers and booleans (bool::text is 'true'/'false'). The cast is explicit because
    `text || integer` goes through anytextcat, which looks the output function up on
    every call; that made the statement ~40% slower."""
    return [(False, f"({sql})::text")]


def _quoted(sql: str) -> Json:
    """A string that never needs escaping (base64url ids and cursors)."""
    return [(True, '"'), (False, sql), (True, '"')]


def _object(*fields: tuple[str, Json]) -> Json:
    out: Json = []
    for i, (key, value) in enumerate(fields):
        out += _lit(("{" if i == 0 else ",") + orjson.dumps(key).decode() + ":") + value
    return out + _lit("}")


def _render(doc: Json) -> str:
    """The SQL text expression of ``doc``."""
    parts: list[str] = []
    literal = ""
    for is_lit, text in doc:
        if is_lit:
            literal += text
            continue
        if literal:
            parts.append("'" + literal.replace("'", "''") + "'")
            literal = ""
        parts.append(text)
    if literal:
        parts.append("'" + literal.replace("'", "''") + "'")
    return " || ".join(parts)


def _page_rows(after: bool) -> str:
    """first + 1 rows of the tenant's SKUs in (code, id) order; the extra row only says
    there is a next page. $1 tenant id, $2 first, $3/$4 the after-cursor's code and id."""
    keyset = "and (s.code, s.id) > ($3::varchar, $4::bigint)" if after else ""
    return f"""
        select p.*, c.code as c_code, c.name as c_name, m.code as m_code, m.name as m_name,
               {_cursor("p.code", "p.id")} as cursor,
               row_number() over (order by p.code, p.id) as rn
        from (
            select s.id, s.code, s.name, s.unit, s.moq, s.order_multiple, s.serial_tracked,
                   s.status, s.launch_date, s.category_id, s.model_id
            from skus s
            where s.tenant_id = $1 {keyset}
            order by s.code, s.id
            limit $2::int + 1
        ) p
        -- Join after the limit: the page's rows only, not the whole catalog.
        join categories c on c.id = p.category_id and c.tenant_id = $1
        join product_models m on m.id = p.model_id and m.tenant_id = $1"""


def catalog_sql_compact(after: bool) -> str:
    def ref(type_name: str, id_col: str, code_col: str, name_col: str) -> Json:
        return _object(
            ("id", _quoted(_gid(type_name, id_col))), ("code", _string(code_col)), ("name", _string(name_col))
        )

    edge = _object(
        ("cursor", _quoted("e.cursor")),
        (
            "node",
            _object(
                ("id", _quoted(_gid("Sku", "e.id"))),
                ("code", _string("e.code")),
                ("name", _string("e.name")),
                ("unit", _string("e.unit")),
                ("moq", _scalar("e.moq")),
                ("orderMultiple", _scalar("e.order_multiple")),
                ("serialTracked", _scalar("e.serial_tracked")),
                ("status", _string("e.status")),
                ("launchDate", _nullable("e.launch_date")),
                ("category", ref("Category", "e.category_id", "e.c_code", "e.c_name")),
                ("model", ref("ProductModel", "e.model_id", "e.m_code", "e.m_name")),
            ),
        ),
    )
    on_page = "filter (where e.rn <= $2::int)"  # the extra row is not an edge
    end_cursor = f"(array_agg(e.cursor order by e.rn desc) {on_page})[1]"
    edges = f"coalesce(string_agg({_render(edge)}, ',' order by e.rn) {on_page}, '')"
    page_info = _object(
        ("hasNextPage", _scalar("count(*) > $2::int")),
        ("endCursor", [(False, f"""coalesce('"' || {end_cursor} || '"', 'null')""")]),
    )
    skus = _object(
        ("totalCount", _scalar("select count(*) from skus where tenant_id = $1")),
        ("pageInfo", page_info),
        ("edges", [*_lit("["), (False, edges), *_lit("]")]),
    )
    doc = _object(("data", _object(("skus", skus))))
    return f"select convert_to({_render(doc)}, 'UTF8') from ({_page_rows(after)}) e"


def catalog_sql_build_object(after: bool) -> str:
    def ref(type_name: str, id_col: str, code_col: str, name_col: str) -> str:
        return f"json_build_object('id', {_gid(type_name, id_col)}, 'code', {code_col}, 'name', {name_col})"

    node = f"""json_build_object(
        'cursor', e.cursor,
        'node', json_build_object(
            'id', {_gid("Sku", "e.id")}, 'code', e.code, 'name', e.name, 'unit', e.unit,
            'moq', e.moq, 'orderMultiple', e.order_multiple, 'serialTracked', e.serial_tracked,
            'status', e.status, 'launchDate', e.launch_date,
            'category', {ref("Category", "e.category_id", "e.c_code", "e.c_name")},
            'model', {ref("ProductModel", "e.model_id", "e.m_code", "e.m_name")}))"""
    return f"""
        select convert_to(json_build_object('data', json_build_object('skus', json_build_object(
            'totalCount', (select count(*) from skus where tenant_id = $1),
            'pageInfo', json_build_object(
                'hasNextPage', count(*) > $2::int,
                'endCursor',
                (array_agg(e.cursor order by e.rn desc) filter (where e.rn <= $2::int))[1]),
            'edges', coalesce(
                json_agg({node} order by e.rn) filter (where e.rn <= $2::int), '[]'::json)
        )))::text, 'UTF8')
        from ({_page_rows(after)}) e"""


STYLES: dict[str, Callable[[bool], str]] = {
    "compact": catalog_sql_compact,
    "build-object": catalog_sql_build_object,
}


# --- request handling ------------------------------------------------------------------


class BadInput(Exception):
    pass


def decode_cursor(cursor: str) -> tuple[str, int]:
    """[code, id] from a catalog cursor (the API's encode_cursor, reversed)."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise BadInput("Invalid cursor.") from exc
    if (
        not isinstance(values, list)
        or len(values) != 2
        or not isinstance(values[0], str)
        or not isinstance(values[1], int)
    ):
        raise BadInput("Invalid cursor.")
    return values[0], values[1]


def page_args(payload: Any) -> tuple[int, tuple[str, int] | None]:
    if not isinstance(payload, dict):
        raise BadInput("Body must be a JSON object.")
    first = payload.get("first", 50)
    after = payload.get("after")
    if not isinstance(first, int) or isinstance(first, bool) or not 0 <= first <= MAX_PAGE:
        raise BadInput(f"`first` must be between 0 and {MAX_PAGE}.")
    if after is not None and not isinstance(after, str):
        raise BadInput("`after` must be a string or null.")
    return first, (decode_cursor(after) if after is not None else None)


class Catalog:
    """Statements and the tenant, fixed at startup."""

    def __init__(self, pool: asyncpg.Pool, tenant_id: int, style: str) -> None:
        self.pool = pool
        self.tenant_id = tenant_id
        self.sql_first = STYLES[style](False)
        self.sql_after = STYLES[style](True)

    async def page(self, first: int, after: tuple[str, int] | None) -> bytes:
        if after is None:
            body = await self.pool.fetchval(self.sql_first, self.tenant_id, first)
        else:
            body = await self.pool.fetchval(self.sql_after, self.tenant_id, first, *after)
        return bytes(body)


def _error(status: int, message: str) -> Response:
    return Response(
        orjson.dumps({"data": None, "errors": [{"message": message}]}),
        status_code=status,
        media_type="application/json",
    )


def plain_dsn(url: str) -> str:
    """asyncpg wants postgresql://; accept the SQLAlchemy spelling too."""
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


async def open_pool(dsn: str, size: int) -> asyncpg.Pool:
    # Same connection settings as ymt_graph.db.get_engine: JIT off, big statement cache.
    return await asyncpg.create_pool(
        plain_dsn(dsn),
        min_size=size,
        max_size=size,
        statement_cache_size=1024,
        server_settings={"jit": "off"},
    )


async def tenant_id_of(pool: asyncpg.Pool, code: str) -> int:
    tid = await pool.fetchval("select id from tenants where code = $1", code)
    if tid is None:
        raise SystemExit(f"raw_server: no tenant with code {code!r} (seed the database first)")
    return int(tid)


def create_app(dsn: str, *, tenant: str = "demo", pool_size: int = 10, style: str = "compact") -> Starlette:
    state: dict[str, Catalog] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await open_pool(dsn, pool_size)
        try:
            state["catalog"] = Catalog(pool, await tenant_id_of(pool, tenant), style)
            yield
        finally:
            await pool.close()

    async def raw_catalog(request: Request) -> Response:
        try:
            first, after = page_args(orjson.loads(await request.body()))
        except orjson.JSONDecodeError:
            return _error(400, "Body is not JSON.")
        except BadInput as exc:
            return _error(400, str(exc))
        body = await state["catalog"].page(first, after)
        return Response(body, media_type="application/json")

    async def health(request: Request) -> Response:
        return Response(b"ok", media_type="text/plain")

    routes: list[Route] = [
        Route("/raw/catalog", raw_catalog, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


# --- self-check against a Python reference ----------------------------------------------


def _reference_encoders() -> tuple[Callable[[list[Any]], str], Callable[[str, int], str], str]:
    """The project's own cursor and id encoders (the reference the SQL must match); the
    module moves while the API is being built, so look in the known places, then fall
    back to the documented definition."""
    import importlib

    cursor_fn = gid_fn = None
    found = []
    for mod_name in ("ymt_graph.paging", "ymt_graph.graph.connection", "ymt_graph.graph.ids"):
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        if cursor_fn is None and hasattr(mod, "encode_cursor"):
            cursor_fn = mod.encode_cursor
            found.append(f"{mod_name}.encode_cursor")
        if gid_fn is None and hasattr(mod, "encode_gid"):
            gid_fn = mod.encode_gid
            found.append(f"{mod_name}.encode_gid")
    if cursor_fn is None:
        found.append("local encode_cursor")

        def cursor_fn(values: list[Any]) -> str:
            return base64.urlsafe_b64encode(orjson.dumps(values)).rstrip(b"=").decode()

    if gid_fn is None:
        found.append("local encode_gid")

        def gid_fn(type_name: str, pk: int) -> str:
            return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).rstrip(b"=").decode()

    return cursor_fn, gid_fn, ", ".join(found)


async def check(dsn: str, tenant: str, style: str) -> int:
    """Walk every page through SQL and through Python; 0 when identical."""
    encode_cursor, encode_gid, source = _reference_encoders()
    print(f"reference encoders: {source}")
    pool = await open_pool(dsn, 2)
    try:
        tid = await tenant_id_of(pool, tenant)
        cat = Catalog(pool, tid, style)
        rows = await pool.fetch(
            """select s.*, c.code as c_code, c.name as c_name, m.code as m_code, m.name as m_name
               from skus s join categories c on c.id = s.category_id
               join product_models m on m.id = s.model_id
               where s.tenant_id = $1 order by s.code, s.id""",
            tid,
        )
        cursors = [encode_cursor([r["code"], r["id"]]) for r in rows]

        def reference(first: int, start: int) -> dict[str, Any]:
            page = rows[start : start + first]
            edges = [
                {
                    "cursor": cursors[start + i],
                    "node": {
                        "id": encode_gid("Sku", r["id"]),
                        "code": r["code"],
                        "name": r["name"],
                        "unit": r["unit"],
                        "moq": r["moq"],
                        "orderMultiple": r["order_multiple"],
                        "serialTracked": r["serial_tracked"],
                        "status": r["status"],
                        "launchDate": r["launch_date"].isoformat() if r["launch_date"] else None,
                        "category": {
                            "id": encode_gid("Category", r["category_id"]),
                            "code": r["c_code"],
                            "name": r["c_name"],
                        },
                        "model": {
                            "id": encode_gid("ProductModel", r["model_id"]),
                            "code": r["m_code"],
                            "name": r["m_name"],
                        },
                    },
                }
                for i, r in enumerate(page)
            ]
            return {
                "data": {
                    "skus": {
                        "totalCount": len(rows),
                        "pageInfo": {
                            "hasNextPage": start + first < len(rows),
                            "endCursor": edges[-1]["cursor"] if edges else None,
                        },
                        "edges": edges,
                    }
                }
            }

        pages = 0
        for first in (0, 1, 7, 50, MAX_PAGE):
            after: str | None = None
            start = 0
            while True:
                got = await cat.page(first, decode_cursor(after) if after else None)
                want = reference(first, start)
                if orjson.loads(got) != want:
                    print(f"MISMATCH first={first} after={after!r}", file=sys.stderr)
                    print(got.decode()[:2000], file=sys.stderr)
                    print(orjson.dumps(want).decode()[:2000], file=sys.stderr)
                    return 1
                if style == "compact" and got != orjson.dumps(want):
                    print(f"BYTES DIFFER first={first} after={after!r}", file=sys.stderr)
                    return 1
                pages += 1
                info = want["data"]["skus"]["pageInfo"]
                if not info["hasNextPage"] or first == 0:
                    break
                after, start = info["endCursor"], start + first
        print(f"ok: {pages} pages over {len(rows)} SKUs identical (style={style})")
        return 0
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001)
    ap.add_argument("--tenant", default="demo", help="tenant code the endpoints filter on")
    ap.add_argument("--pool-size", type=int, default=10)
    ap.add_argument("--style", choices=sorted(STYLES), default="compact")
    ap.add_argument("--check", action="store_true", help="compare SQL output with Python; no server")
    args = ap.parse_args(argv)
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        print("raw_server: set DATABASE_URL=postgresql://...", file=sys.stderr)
        return 2
    if args.check:
        return asyncio.run(check(dsn, args.tenant, args.style))
    app = create_app(dsn, tenant=args.tenant, pool_size=args.pool_size, style=args.style)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        workers=1,
        access_log=False,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
