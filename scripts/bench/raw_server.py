"""The floor the GraphQL server is measured against: the same JSON, built by PostgreSQL.

A bare Starlette app on uvicorn (uvloop, httptools, one process, no access log:
the settings of ``ymt-graph serve``) with an asyncpg pool. Each endpoint runs
ONE SQL statement that returns the complete response body as bytes, and Python
only passes the bytes through, so what remains is HTTP + PostgreSQL: the cost a
compiled-to-SQL hot read could approach (ARCHITECTURE.md, "Speed").

    DATABASE_URL=postgresql://... python scripts/bench/raw_server.py --port 8001 \
        --user dealer1@demo.example --user admin@demo.example
    DATABASE_URL=postgresql://... python scripts/bench/raw_server.py --check

Endpoints (no authentication; the tenant filter is applied as in the API):

    POST /raw/catalog  {"first": 50, "after": null}  -> body of the CatalogPage query
    POST /raw/dealer-page  {"first": 50, "after": null, "dealerId": 1, "warehouseId": 3,
                            "quantity": 10, "user": "..."}  -> body of the DealerCatalogPage query
    POST /raw/sku-page  {"first": 50, "after": null, "dealerId": 1, "warehouseId": 1,
                         "user": "..."}  -> body of SKU_PAGE_QUERY (DealerSkuPage, issue 5)
    POST /raw/order-list  {"first": 25, "after": null, "user": "..."}
                          -> body of ORDER_LIST_QUERY (OrderList, issue 5)
    GET  /health

Every endpoint but /raw/catalog answers as a user would: ``--user`` (repeatable;
default dealer1@demo.example) names who, a request picks one with ``"user"`` (default:
the first). Each user's principal is built at startup by the project's own code, and
its access clauses and the project's SQL rules are compiled by SQLAlchemy once, at
startup, into the statements' text: the price rule (``ranked_offers``, and for
/raw/sku-page ``resolution_rows`` with ``explain_sql`` for ``why``), the price-band
query (``band_query``), the assortment rule (``orderable_clause``), the order scope
(``orders.service.scoped_orders``). Requests take primary keys (the global ids
decoded) and are plain asyncpg. ``--style`` applies to /raw/catalog only.

``--check`` serves nothing: it walks every page of the catalog through the SQL
and through a Python reference built with the project's own id and cursor
encoders, then DealerCatalogPage pages for several dealers, warehouses and
quantities through the SQL and through the service calls the resolvers make,
then (``check_graphql``) DealerSkuPage and OrderList pages for several users
(``--user``; default five demo logins from HQ to a store), dealers, warehouses and
page sizes through the SQL and through the API itself in-process, resolver path and
compiled path; it exits non-zero on the first difference (``--check-only`` picks parts).

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
import functools
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
import sqlalchemy as sa
import uvicorn
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ymt_graph import access
from ymt_graph.access import Principal
from ymt_graph.catalog import service as catalog_service
from ymt_graph.db import SESSION_SETTINGS, async_url
from ymt_graph.orders import service as order_service
from ymt_graph.org import identity
from ymt_graph.org import service as org
from ymt_graph.pricing import service as pricing

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


# --- dealer's priced catalog page ---------------------------------------------------------
# DealerCatalogPage: the SKUs a dealer may order, each with its guide retail price, the
# dealer's supply price for a quantity (the price rule), the national price band and what
# a warehouse has available. The principal is fixed at startup (the benchmark's login,
# ``--user``); its access clauses are compiled from ymt_graph.access into the statement, so
# PostgreSQL does the authorization work of the GraphQL path too. SQLAlchemy runs at startup
# only: requests send the finished SQL text through asyncpg.


def _sql_text(stmt: Any) -> str:
    """A SQLAlchemy expression as SQL text in the app's dialect (asyncpg: no ``%%``), with
    its values inlined; request parameters are ``$n`` literal columns already. Parenthesised:
    a clause compiles without outer parentheses (``a AND b OR c AND d`` for a sub-dealer's
    dealer_scope), and ``x AND <that>`` would then read as ``(x AND a AND b) OR (c AND d)``."""
    return "(" + str(stmt.compile(dialect=pg_asyncpg.dialect(), compile_kwargs={"literal_binds": True})) + ")"


def _money(amount_sql: str, currency: str, with_currency: bool = True) -> Json:
    """A Money object; NUMERIC(18,2) as text is what str(Decimal) writes ("1999.00")."""
    fields: list[tuple[str, Json]] = [("amount", _quoted(f"{amount_sql}::text"))]
    if with_currency:
        fields.append(("currency", _lit(orjson.dumps(currency).decode())))
    return _object(*fields)


def _when(condition: str, doc: Json) -> Json:
    """``doc`` when ``condition`` holds, else JSON null (a null condition gives null too)."""
    return [(False, f"(case when {condition} then {_render(doc)} else 'null' end)")]


def dealer_page_sql(p: Principal, currency: str, after: bool) -> str:
    """One statement for the whole DealerCatalogPage response. $1 tenant id, $2 first,
    $3 dealer id (``orderableBy`` and the buyer of ``price``), $4 warehouse id,
    $5 quantity, $6/$7 the after-cursor's code and id.

    The project's rules are reused where they are SQL: ``ranked_offers`` (THE price rule)
    and ``band_query`` (price limits) from the price centre, and the principal's clauses
    from ``access``: ``dealer_scope`` for the orderableBy dealer, ``dealer_price_scope`` and
    ``price_list_scope`` for prices, ``warehouse_scope`` for stock. The assortment rule
    (``catalog.service.orderable_clause``) takes a dealer row in Python, so it is written
    out here against the dealer as a CTE."""
    # The SKUs: the page's ids (an IN subquery where the resolvers pass a list of keys).
    page_ids: Any = sa.select(sa.table("dp_page", sa.column("id")).c.id)
    buyer: Any = sa.literal_column("$3::bigint")
    quantity: Any = sa.literal_column("$5::int")

    # resolve_prices without the explanation (``why`` is not asked for, so no runner-up):
    # rank 1 is the price; a winner from a list the principal may not see is no price, and
    # so is any price of a dealer whose prices it may not see.
    offer = pricing.ranked_offers(p.tenant_id, buyer, page_ids, quantity).subquery("offer")
    pl = pricing.price_lists
    offer_sql = _sql_text(
        sa.select(
            offer.c.sku_id,
            offer.c.amount,
            offer.c.min_quantity,
            pl.c.code.label("list_code"),
            access.price_list_scope(p, pl, pricing.dealers, pricing.regions).label("visible"),
        )
        .select_from(offer.join(pl, pl.c.id == offer.c.list_id))
        .where(offer.c.rank == 1, access.dealer_price_scope(p, offer.c.buyer_id, pricing.dealers, pricing.regions))
    )
    band_sql = _sql_text(pricing.band_query(p.tenant_id, page_ids, None))  # priceLimit without regionCode
    dealer_scope = _sql_text(access.dealer_scope(p, org.dealers, org.regions))
    warehouse_scope = _sql_text(access.warehouse_scope(p, org.warehouses, org.dealers, org.stores, org.regions))
    keyset = "and (s.code, s.id) > ($6::varchar, $7::bigint)" if after else ""

    def money(amount_sql: str, with_currency: bool = True) -> Json:
        return _money(amount_sql, currency, with_currency)

    node = _object(
        ("id", _quoted(_gid("Sku", "e.id"))),
        ("code", _string("e.code")),
        ("name", _string("e.name")),
        ("unit", _string("e.unit")),
        ("moq", _scalar("e.moq")),
        ("orderMultiple", _scalar("e.order_multiple")),
        ("guideRetailPrice", _when("e.guide is not null", money("e.guide"))),
        (
            "price",
            _when(
                "e.price_visible",
                _object(
                    ("amount", money("e.price")),
                    ("list", _object(("code", _string("e.list_code")))),
                    ("break", _object(("minQuantity", _scalar("e.min_quantity")))),
                ),
            ),
        ),
        (
            "priceLimit",
            _when(
                "e.has_band",
                _object(
                    ("floor", _when("e.floor is not null", money("e.floor", with_currency=False))),
                    ("ceiling", _when("e.ceiling is not null", money("e.ceiling", with_currency=False))),
                ),
            ),
        ),
        ("available", _nullable("e.available")),
    )
    edge = _object(("cursor", _quoted("e.cursor")), ("node", node))
    on_page = "filter (where e.rn <= $2::int)"  # the extra row is not an edge
    end_cursor = f"(array_agg(e.cursor order by e.rn desc) {on_page})[1]"
    edges = f"coalesce(string_agg({_render(edge)}, ',' order by e.rn) {on_page}, '')"
    page_info = _object(
        ("hasNextPage", _scalar("count(*) > $2::int")),
        ("endCursor", [(False, f"""coalesce('"' || {end_cursor} || '"', 'null')""")]),
    )
    skus = _object(("pageInfo", page_info), ("edges", [*_lit("["), (False, edges), *_lit("]")]))
    doc = _object(("data", _object(("skus", skus))))
    return f"""
        with dp_dealer as (  -- the orderableBy dealer, when the principal sees it
            select dealers.id, dealers.tenant_id, dealers.level, dealers.tier,
                   string_to_array(trim(both '/' from regions.path), '/')::bigint[] as region_ids
            from dealers join regions on regions.id = dealers.region_id
            where dealers.id = $3::bigint and {dealer_scope}
        ),
        dp_page as (  -- first + 1 orderable SKUs in (code, id) order
            select s.*, {_cursor("s.code", "s.id")} as cursor, row_number() over (order by s.code, s.id) as rn
            from (
                select s.id, s.code, s.name, s.unit, s.moq, s.order_multiple
                from skus s
                where s.tenant_id = $1::bigint and s.status = 'ACTIVE' {keyset}
                  and exists (
                    select from dp_dealer d join assortment_rules r on r.tenant_id = d.tenant_id
                    where r.tenant_id = s.tenant_id
                      and (r.dealer_level is null or r.dealer_level = d.level)
                      and (r.dealer_tier is null or r.dealer_tier = d.tier)
                      and (r.dealer_id is null or r.dealer_id = d.id)
                      and (r.region_id is null or r.region_id = any(d.region_ids))
                      and (r.category_id is null or r.category_id = s.category_id)
                      and (r.sku_id is null or r.sku_id = s.id))
                order by s.code, s.id
                limit $2::int + 1
            ) s
        ),
        dp_offer as {offer_sql},
        dp_band as {band_sql},
        dp_wh as (select warehouses.id from warehouses where warehouses.id = $4::bigint and {warehouse_scope})
        select convert_to({_render(doc)}, 'UTF8')
        from (
            select pg.*, g.amount as guide,
                   o.amount as price, o.min_quantity, o.list_code, o.visible as price_visible,
                   b.sku_id is not null as has_band, b.floor, b.ceiling,
                   -- levels_at: null when the warehouse is not visible, 0 when it never held the SKU
                   case when exists (select from dp_wh) then coalesce(sl.on_hand - sl.reserved, 0) end as available
            from dp_page pg
            left join guide_retail_prices g on g.tenant_id = $1::bigint and g.sku_id = pg.id
            left join dp_offer o on o.sku_id = pg.id
            left join dp_band b on b.sku_id = pg.id
            left join stock_levels sl
                on sl.tenant_id = $1::bigint and sl.warehouse_id = $4::bigint and sl.sku_id = pg.id
        ) e"""


async def principal_of(dsn: str, tenant: str, email: str) -> Principal | None:
    """The principal of a user, built by the project's own code (ymt_graph.org.identity),
    through a short-lived SQLAlchemy engine; None if the tenant has no such user."""
    engine = create_async_engine(async_url(dsn), poolclass=NullPool, connect_args={"server_settings": {"jit": "off"}})
    try:
        async with engine.connect() as conn:
            user_id = (
                await conn.execute(
                    sa.select(org.users.c.id)
                    .join(org.tenants, org.tenants.c.id == org.users.c.tenant_id)
                    .where(org.tenants.c.code == tenant, org.users.c.email == email.strip().lower())
                )
            ).scalar()
            found = await identity.principal_for_user(conn, user_id) if user_id is not None else None
    finally:
        await engine.dispose()
    return found[0] if found else None


class DealerPage:
    """The DealerCatalogPage statements of one principal."""

    def __init__(self, pool: asyncpg.Pool, tenant_id: int, principal: Principal, currency: str) -> None:
        if principal.tenant_id != tenant_id:
            raise SystemExit("raw_server: --user belongs to another tenant than --tenant")
        self.pool = pool
        self.tenant_id = tenant_id
        self.sql_first = dealer_page_sql(principal, currency, False)
        self.sql_after = dealer_page_sql(principal, currency, True)

    async def page(
        self, first: int, after: tuple[str, int] | None, dealer_id: int, warehouse_id: int, quantity: int
    ) -> bytes:
        args = (self.tenant_id, first, dealer_id, warehouse_id, quantity)
        if after is None:
            body = await self.pool.fetchval(self.sql_first, *args)
        else:
            body = await self.pool.fetchval(self.sql_after, *args, *after)
        return bytes(body)


# The GraphQL operations the issue-5 endpoints answer (catalog.py loads both ways).
SKU_PAGE_QUERY = """
query DealerSkuPage($first: Int!, $after: String, $dealerId: ID!, $warehouseId: ID!) {
  skus(first: $first, after: $after, filter: {orderableBy: $dealerId}) {
    pageInfo { hasNextPage endCursor }
    edges { node { id code name unit moq orderMultiple
      category { code name } model { code name }
      guideRetailPrice { amount currency }
      price(dealerId: $dealerId) { amount { amount currency } list { code } why }
      priceLimit { floor { amount } ceiling { amount } }
      available(warehouseId: $warehouseId)
      stockLevel(warehouseId: $warehouseId) { onHand reserved available } } } } }
"""

ORDER_LIST_QUERY = """
query OrderList($first: Int!, $after: String) {
  orders(first: $first, after: $after) {
    edges { node { id number status createdAt total { amount currency }
      buyer { code name } buyerStore { code } seller { code }
      lines { quantity unitPrice { amount } lineTotal { amount } sku { code name } }
      shipments { number status carrier trackingNumber estimatedArrival } } }
    pageInfo { hasNextPage endCursor } } }
"""


# --- issue 5: the full dealer page and the order list --------------------------------------
# Same approach as DealerCatalogPage: the principal is fixed when the statement is built (one
# statement pair per ``--user``), the project's SQL rules are compiled once by SQLAlchemy
# into the text, requests are plain asyncpg.


def _iso_datetime(sql: str) -> str:
    """A timestamptz as the API writes it (``datetime.isoformat()`` of the UTC value asyncpg
    returns: microseconds only when non-zero, ``+00:00``); NULL stays NULL."""
    utc = f"({sql} at time zone 'UTC')"
    return (
        f"case when {sql} is null then null else to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
        f"|| case when extract(microseconds from {sql})::bigint % 1000000 = 0 then '' "
        f"else to_char({utc}, '.US') end || '+00:00' end"
    )


class _Cols:
    """Attribute access to a dict of SQL columns (``explain_sql`` reads ``row.pl_code``…)."""

    def __init__(self, cols: dict[str, Any]) -> None:
        self.__dict__.update(cols)


SKU_PAGE_QUANTITY = 1  # Sku.price(dealerId:) without `quantity`: its default


def sku_page_sql(p: Principal, currency: str, after: bool) -> str:
    """One statement for the whole DealerSkuPage response (``catalog.py``'s dealer-page-50/100):
    $1 tenant id, $2 first, $3 dealer id (``orderableBy`` and the buyer of ``price``), $4
    warehouse id, $5/$6 the after-cursor's code and id.

    Rules reused from the project, compiled here once: the SKU filter (``access.dealer_scope``
    for the orderableBy dealer and ``catalog.service.orderable_clause`` over its terms), the
    price rule with its explanation (``pricing.service.resolution_rows``: ranked offers, the
    principal's ``dealer_price_scope`` and ``price_list_scope``; ``explain_sql`` for ``why``),
    the national price band (``band_query``), ``access.availability_scope`` for ``available``
    and ``access.warehouse_scope`` for ``stockLevel`` (as ``inventory.service.levels_at``)."""
    if not access.catalog_readable(p):
        raise ValueError("no catalog:read")
    s = catalog_service.skus
    tenant = sa.literal_column("$1::bigint", sa.BigInteger)
    first = sa.literal_column("$2::int", sa.Integer)
    dealer_id = sa.literal_column("$3::bigint", sa.BigInteger)
    warehouse_id = sa.literal_column("$4::bigint", sa.BigInteger)

    # skus(filter: {orderableBy}): a dealer the principal sees, and the assortment rule over it.
    d, r = org.dealers.alias("sp_d"), org.regions.alias("sp_r")
    seen = sa.exists().where(
        d.c.id == dealer_id, d.c.tenant_id == p.tenant_id, r.c.id == d.c.region_id, access.dealer_scope(p, d, r)
    )

    def term(col: str) -> Any:
        t, tr = org.dealers.alias(f"sp_t_{col}"), org.regions.alias(f"sp_tr_{col}")
        value = tr.c.path if col == "region_path" else t.c[col]
        return sa.select(value).where(t.c.id == dealer_id, tr.c.id == t.c.region_id).scalar_subquery()

    terms = catalog_service.DealerTerms(
        id=dealer_id, level=term("level"), tier=term("tier"), region_path=term("region_path")
    )
    page = sa.select(
        s.c.id, s.c.code, s.c.name, s.c.unit, s.c.moq, s.c.order_multiple, s.c.category_id, s.c.model_id
    ).where(s.c.tenant_id == tenant, seen, catalog_service.orderable_clause(terms))
    if after:
        page = page.where(
            sa.tuple_(s.c.code, s.c.id)
            > sa.tuple_(sa.literal_column("$5::varchar"), sa.literal_column("$6::bigint"))
        )
    page_sql = _sql_text(page.order_by(s.c.code, s.c.id).limit(first + 1))

    # price(dealerId:) { amount list { code } why }: rank 1 when visible; why from rank 2.
    page_ids: Any = sa.select(sa.table("sp_page", sa.column("id")).c.id)
    ranked = pricing.resolution_rows(p, False, dealer_id, page_ids, SKU_PAGE_QUANTITY).subquery("sp_res")
    runner_up = _Cols({**{n: ranked.c[f"next_{n}"] for n in pricing.RUNNER_UP}, "seller_code": ranked.c.seller_code})
    why = pricing.explain_sql(ranked.c, runner_up, SKU_PAGE_QUANTITY)
    price_sql = _sql_text(
        sa.select(ranked.c.sku_id, ranked.c.amount, ranked.c.pl_code, why.label("why")).where(
            ranked.c.rank < 2, ranked.c.visible  # not "= 1": see compiled/pricing.py's winners
        )
    )
    band_sql = _sql_text(pricing.band_query(p.tenant_id, page_ids, None))  # priceLimit without regionCode

    def warehouse_seen(scope: Any) -> str:
        w = org.warehouses.alias("sp_w")
        return _sql_text(sa.exists().where(w.c.id == warehouse_id, scope(p, w, org.dealers, org.stores, org.regions)))

    def money(amount_sql: str, with_currency: bool = True) -> Json:
        return _money(amount_sql, currency, with_currency)

    def code_name(prefix: str) -> Json:
        return _object(("code", _string(f"e.{prefix}_code")), ("name", _string(f"e.{prefix}_name")))

    node = _object(
        ("id", _quoted(_gid("Sku", "e.id"))),
        ("code", _string("e.code")),
        ("name", _string("e.name")),
        ("unit", _string("e.unit")),
        ("moq", _scalar("e.moq")),
        ("orderMultiple", _scalar("e.order_multiple")),
        ("category", code_name("c")),
        ("model", code_name("m")),
        ("guideRetailPrice", _when("e.guide is not null", money("e.guide"))),
        (
            "price",
            _when(
                "e.has_price",
                _object(
                    ("amount", money("e.price")),
                    ("list", _object(("code", _string("e.list_code")))),
                    ("why", _string("e.why")),
                ),
            ),
        ),
        (
            "priceLimit",
            _when(
                "e.has_band",
                _object(
                    ("floor", _when("e.floor is not null", money("e.floor", with_currency=False))),
                    ("ceiling", _when("e.ceiling is not null", money("e.ceiling", with_currency=False))),
                ),
            ),
        ),
        ("available", _nullable("e.available")),
        (
            "stockLevel",
            _when(
                "e.has_level",
                _object(
                    ("onHand", _scalar("e.on_hand")),
                    ("reserved", _scalar("e.reserved")),
                    ("available", _scalar("e.on_hand - e.reserved")),
                ),
            ),
        ),
    )
    on_page = "filter (where e.rn <= $2::int)"
    end_cursor = f"(array_agg(e.cursor order by e.rn desc) {on_page})[1]"
    edges = f"coalesce(string_agg({_render(_object(('node', node)))}, ',' order by e.rn) {on_page}, '')"
    page_info = _object(
        ("hasNextPage", _scalar("count(*) > $2::int")),
        ("endCursor", [(False, f"""coalesce('"' || {end_cursor} || '"', 'null')""")]),
    )
    skus = _object(("pageInfo", page_info), ("edges", [*_lit("["), (False, edges), *_lit("]")]))
    doc = _object(("data", _object(("skus", skus))))
    return f"""
        with sp_page as (  -- first + 1 orderable SKUs in (code, id) order
            select pg.*, {_cursor("pg.code", "pg.id")} as cursor, row_number() over (order by pg.code, pg.id) as rn
            from {page_sql} pg
        ),
        sp_price as {price_sql},
        sp_band as {band_sql},
        sp_wh as (select {warehouse_seen(access.availability_scope)} as avail_ok,
                         {warehouse_seen(access.warehouse_scope)} as full_ok)
        select convert_to({_render(doc)}, 'UTF8')
        from (
            select pg.*, c.code as c_code, c.name as c_name, m.code as m_code, m.name as m_name,
                   g.amount as guide,
                   pr.sku_id is not null as has_price, pr.amount as price, pr.pl_code as list_code, pr.why,
                   b.sku_id is not null as has_band, b.floor, b.ceiling,
                   -- levels_at: null when the warehouse's availability is not visible, 0 without a level
                   case when w.avail_ok then coalesce(sl.on_hand - sl.reserved, 0) end as available,
                   -- stockLevel: the level row, when the warehouse is visible in full
                   coalesce(w.full_ok and sl.sku_id is not null, false) as has_level, sl.on_hand, sl.reserved
            from sp_page pg
            cross join sp_wh w
            join categories c on c.id = pg.category_id
            join product_models m on m.id = pg.model_id
            left join guide_retail_prices g on g.tenant_id = $1::bigint and g.sku_id = pg.id
            left join sp_price pr on pr.sku_id = pg.id
            left join sp_band b on b.sku_id = pg.id
            left join stock_levels sl
                on sl.tenant_id = $1::bigint and sl.warehouse_id = $4::bigint and sl.sku_id = pg.id
        ) e"""


def order_list_sql(p: Principal, after: bool) -> str:
    """One statement for the whole OrderList response (``catalog.py``'s order-list-25): $1
    tenant id, $2 first, $3 the after-cursor's order id.

    The orders are ``orders.service.scoped_orders(p)`` (the principal's order scope), newest
    first, compiled once; per order, ``buyer`` and ``seller`` are dealers under
    ``access.dealer_scope``, ``buyerStore`` a store under ``access.store_scope`` (null when not
    visible, as the loaders answer), ``lines`` (by id, each with its SKU when the catalog is
    readable) and ``shipments`` (by id) aggregated as JSON text, like ``sku_page_sql``."""
    o = order_service.orders
    page = order_service.scoped_orders(p)
    if after:
        page = page.where(o.c.id < sa.literal_column("$3::bigint"))
    page_sql = _sql_text(page.order_by(o.c.id.desc()).limit(sa.literal_column("$2::int", sa.Integer) + 1))

    def dealer_ref(alias: str, id_sql: str, fields: Json) -> Json:
        """A dealer the principal sees (``access.dealer_scope``), else null."""
        d, r = org.dealers.alias(alias), org.regions.alias(f"{alias}r")
        scope = _sql_text(access.dealer_scope(p, d, r))
        return [(False, f"coalesce((select {_render(fields)} from dealers {alias} join regions {alias}r "
                        f"on {alias}r.id = {alias}.region_id where {alias}.id = {id_sql} and {scope}), 'null')")]

    st = org.stores.alias("ol_st")
    store_scope = _sql_text(access.store_scope(p, st, org.dealers, org.regions))
    buyer_store: Json = [(False, f"""coalesce((select {_render(_object(("code", _string("ol_st.code"))))}
        from stores ol_st join regions ol_str on ol_str.id = ol_st.region_id
        where ol_st.id = o.buyer_store_id and {store_scope}), 'null')""")]
    sku: Json = (
        _when("s.id is not null", _object(("code", _string("s.code")), ("name", _string("s.name"))))
        if access.catalog_readable(p)
        else _lit("null")
    )
    line = _object(
        ("quantity", _scalar("l.quantity")),
        ("unitPrice", _object(("amount", _quoted("l.unit_price::text")))),
        ("lineTotal", _object(("amount", _quoted("l.line_total::text")))),
        ("sku", sku),
    )
    lines: Json = [(False, f"""(select '[' || coalesce(string_agg({_render(line)}, ',' order by l.id), '') || ']'
                 from order_lines l left join skus s on s.id = l.sku_id and s.tenant_id = $1::bigint
                 where l.order_id = o.id)""")]
    shipment = _object(
        ("number", _string("sh.number")),
        ("status", _string("sh.status")),
        ("carrier", _nullable("sh.carrier")),
        ("trackingNumber", _nullable("sh.tracking_number")),
        ("estimatedArrival", [(False, f"""coalesce('"' || {_iso_datetime("sh.estimated_arrival")} || '"', 'null')""")]),
    )
    shipments: Json = [(False, f"""(select '[' || coalesce(string_agg({_render(shipment)}, ',' order by sh.id), '')
                 || ']' from shipments sh where sh.order_id = o.id)""")]
    node = _object(
        ("id", _quoted(_gid("Order", "o.id"))),
        ("number", _string("o.number")),
        ("status", _string("o.status")),
        ("createdAt", _quoted(_iso_datetime("o.created_at"))),
        ("total", _object(("amount", _quoted("o.total::text")), ("currency", _string("o.currency")))),
        ("buyer", dealer_ref("ol_bd", "o.buyer_dealer_id",
                             _object(("code", _string("ol_bd.code")), ("name", _string("ol_bd.name"))))),
        ("buyerStore", buyer_store),
        ("seller", dealer_ref("ol_sd", "o.seller_dealer_id", _object(("code", _string("ol_sd.code"))))),
        ("lines", lines),
        ("shipments", shipments),
    )
    cursor = _b64url("convert_to('[' || o.id::text || ']', 'UTF8')")  # paging.encode_cursor([id])
    on_page = "filter (where o.rn <= $2::int)"
    end_cursor = f"(array_agg({cursor} order by o.rn desc) {on_page})[1]"
    edges = f"coalesce(string_agg({_render(_object(('node', node)))}, ',' order by o.rn) {on_page}, '')"
    orders = _object(
        ("edges", [*_lit("["), (False, edges), *_lit("]")]),
        ("pageInfo", _object(
            ("hasNextPage", _scalar("count(*) > $2::int")),
            ("endCursor", [(False, f"""coalesce('"' || {end_cursor} || '"', 'null')""")]),
        )),
    )
    return f"""
        select convert_to({_render(_object(("data", _object(("orders", orders)))))}, 'UTF8')
        from (select so.*, row_number() over (order by so.id desc) as rn from {page_sql} so) o"""


class UserStatements:
    """The issue-5 statements of one principal (``--user``): SKU page and order list."""

    def __init__(self, pool: asyncpg.Pool, tenant_id: int, principal: Principal, currency: str) -> None:
        if principal.tenant_id != tenant_id:
            raise SystemExit("raw_server: a --user belongs to another tenant than --tenant")
        self.pool = pool
        self.tenant_id = tenant_id
        self.principal = principal
        self.dealer_page = DealerPage(pool, tenant_id, principal, currency)
        self.sku_first: str | None = None
        self.sku_after: str | None = None
        if access.catalog_readable(principal):
            self.sku_first = sku_page_sql(principal, currency, False)
            self.sku_after = sku_page_sql(principal, currency, True)
        self.orders_first = order_list_sql(principal, False)
        self.orders_after = order_list_sql(principal, True)

    async def sku_page(self, first: int, after: tuple[str, int] | None, dealer_id: int, warehouse_id: int) -> bytes:
        if self.sku_first is None or self.sku_after is None:
            raise Forbidden("This user may not read the catalog.")
        args = (self.tenant_id, first, dealer_id, warehouse_id)
        if after is None:
            return bytes(await self.pool.fetchval(sized(self.sku_first, first), *args))
        return bytes(await self.pool.fetchval(sized(self.sku_after, first), *args, *after))

    async def order_list(self, first: int, after: int | None) -> bytes:
        if after is None:
            return bytes(await self.pool.fetchval(sized(self.orders_first, first), self.tenant_id, first))
        return bytes(await self.pool.fetchval(sized(self.orders_after, first), self.tenant_id, first, after))


@functools.lru_cache(maxsize=1024)
def sized(sql: str, first: int) -> str:
    """The statement with its page size written into the LIMIT, as the API's compiled path does
    (``compiled.core.page_size_variables``): PostgreSQL keeps one generic plan per prepared
    statement and, with ``LIMIT $2``, plans for a tenth of the rows."""
    return sql.replace("LIMIT $2::int + 1", f"LIMIT {int(first)} + 1")


# --- request handling ------------------------------------------------------------------


class BadInput(Exception):
    pass


class Forbidden(Exception):
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


def _pk(payload: dict[str, Any], key: str) -> int:
    value = payload.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise BadInput(f"`{key}` must be a positive integer (a primary key).")
    return value


def dealer_page_args(payload: Any) -> tuple[int, tuple[str, int] | None, int, int, int]:
    """first, after, dealerId, warehouseId, quantity: the DealerCatalogPage variables with
    the global ids decoded to primary keys."""
    first, after = page_args(payload)
    quantity = payload.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity < 2**31:
        raise BadInput("`quantity` must be at least 1.")  # Sku.price refuses it too
    return first, after, _pk(payload, "dealerId"), _pk(payload, "warehouseId"), quantity


def sku_page_args(payload: Any) -> tuple[int, tuple[str, int] | None, int, int]:
    """first, after, dealerId, warehouseId of DealerSkuPage (global ids decoded to keys)."""
    first, after = page_args(payload)
    return first, after, _pk(payload, "dealerId"), _pk(payload, "warehouseId")


def decode_id_cursor(cursor: str) -> int:
    """[id] from a newest-first cursor (orders, shipments: paging.newest_first)."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise BadInput("Invalid cursor.") from exc
    if not isinstance(values, list) or len(values) != 1 or not isinstance(values[0], int) or isinstance(
        values[0], bool
    ):
        raise BadInput("Invalid cursor.")
    return values[0]


def order_list_args(payload: Any) -> tuple[int, int | None]:
    if not isinstance(payload, dict):
        raise BadInput("Body must be a JSON object.")
    first = payload.get("first", 10)
    after = payload.get("after")
    if not isinstance(first, int) or isinstance(first, bool) or not 0 <= first <= MAX_PAGE:
        raise BadInput(f"`first` must be between 0 and {MAX_PAGE}.")
    if after is not None and not isinstance(after, str):
        raise BadInput("`after` must be a string or null.")
    return first, (decode_id_cursor(after) if after is not None else None)


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
    # Same connection settings as ymt_graph.db.get_engine (SESSION_SETTINGS), big statement cache, and
    # statements up to 1 MiB cached (asyncpg's default stops at 15 KiB: a larger statement is
    # parsed and planned again on every call, ~3 ms for the SKU page).
    return await asyncpg.create_pool(
        plain_dsn(dsn),
        min_size=size,
        max_size=size,
        statement_cache_size=1024,
        max_cacheable_statement_size=1024 * 1024,
        server_settings=SESSION_SETTINGS,
    )


async def tenant_id_of(pool: asyncpg.Pool, code: str) -> int:
    tid = await pool.fetchval("select id from tenants where code = $1", code)
    if tid is None:
        raise SystemExit(f"raw_server: no tenant with code {code!r} (seed the database first)")
    return int(tid)


def default_currency() -> str:
    """The API's currency (``Settings.currency``: the same environment gives the same one)."""
    from ymt_graph.settings import get_settings

    return get_settings().currency


def create_app(
    dsn: str,
    *,
    tenant: str = "demo",
    pool_size: int = 10,
    style: str = "compact",
    user: str | Sequence[str] = "dealer1@demo.example",
    currency: str | None = None,
) -> Starlette:
    """``user``: whose rights the principal-bound endpoints apply, one email or several (the
    first is the default; a request names another with ``"user"`` in its body)."""
    users = [user] if isinstance(user, str) else list(user)
    if not users:
        raise ValueError("give at least one user")
    state: dict[str, Any] = {}
    by_user: dict[str, UserStatements] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await open_pool(dsn, pool_size)
        try:
            tid = await tenant_id_of(pool, tenant)
            state["catalog"] = Catalog(pool, tid, style)
            cur = currency or default_currency()
            for email in users:
                principal = await principal_of(dsn, tenant, email)
                if principal is None:
                    print(f"raw_server: no user {email!r} in tenant {tenant!r}: its requests answer 503",
                          file=sys.stderr)
                    continue
                by_user[email.strip().lower()] = UserStatements(pool, tid, principal, cur)
            yield
        finally:
            await pool.close()

    async def payload_of(request: Request) -> Any:
        try:
            return orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadInput("Body is not JSON.") from exc

    def statements_for(payload: Any) -> UserStatements:
        email = payload.get("user") if isinstance(payload, dict) else None
        if email is not None and not isinstance(email, str):
            raise BadInput("`user` must be an email.")
        found = by_user.get((email or users[0]).strip().lower())
        if found is None:
            raise LookupError(f"No principal for {email or users[0]!r} (start the server with --user for it).")
        return found

    async def raw_catalog(request: Request) -> Response:
        try:
            first, after = page_args(await payload_of(request))
        except BadInput as exc:
            return _error(400, str(exc))
        body = await state["catalog"].page(first, after)
        return Response(body, media_type="application/json")

    async def raw_dealer_page(request: Request) -> Response:
        try:
            payload = await payload_of(request)
            statements = statements_for(payload)
            args = dealer_page_args(payload)
        except BadInput as exc:
            return _error(400, str(exc))
        except LookupError as exc:
            return _error(503, str(exc))
        body = await statements.dealer_page.page(*args)
        return Response(body, media_type="application/json")

    async def raw_sku_page(request: Request) -> Response:
        try:
            payload = await payload_of(request)
            statements = statements_for(payload)
            args = sku_page_args(payload)
            body = await statements.sku_page(*args)
        except BadInput as exc:
            return _error(400, str(exc))
        except LookupError as exc:
            return _error(503, str(exc))
        except Forbidden as exc:
            return _error(403, str(exc))
        return Response(body, media_type="application/json")

    async def raw_order_list(request: Request) -> Response:
        try:
            payload = await payload_of(request)
            statements = statements_for(payload)
            body = await statements.order_list(*order_list_args(payload))
        except BadInput as exc:
            return _error(400, str(exc))
        except LookupError as exc:
            return _error(503, str(exc))
        return Response(body, media_type="application/json")

    async def health(request: Request) -> Response:
        return Response(b"ok", media_type="text/plain")

    routes: list[Route] = [
        Route("/raw/catalog", raw_catalog, methods=["POST"]),
        Route("/raw/dealer-page", raw_dealer_page, methods=["POST"]),
        Route("/raw/sku-page", raw_sku_page, methods=["POST"]),
        Route("/raw/order-list", raw_order_list, methods=["POST"]),
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


async def check_dealer_page(dsn: str, tenant: str, user: str, currency: str) -> int:
    """Walk DealerCatalogPage pages through the SQL and through the project's services (the
    calls the GraphQL resolvers make: skus_page, guide_retail_prices_of, resolve_prices,
    price_limits_of, levels_at) for a few dealers (the user's, some below it, some it does not
    see), quantities and warehouses (its own, HQ's, another dealer's); 0 when identical."""
    from ymt_graph.catalog import service as catalog
    from ymt_graph.graph.ids import encode_gid
    from ymt_graph.inventory import service as inventory

    p = await principal_of(dsn, tenant, user)
    if p is None:
        print(f"no user {user!r} in tenant {tenant!r}", file=sys.stderr)
        return 1
    pool = await open_pool(dsn, 2)
    engine = create_async_engine(async_url(dsn), poolclass=NullPool, connect_args={"server_settings": {"jit": "off"}})
    try:
        tid = await tenant_id_of(pool, tenant)
        dp = DealerPage(pool, tid, p, currency)
        subtree = p.dealer_path or ""
        dealer_ids = [
            r["id"]
            for r in await pool.fetch(
                """(select id from dealers where tenant_id = $1 and path like $2 || '%' order by level, id limit 3)
               union all
               (select id from dealers where tenant_id = $1 and path not like $2 || '%' order by id limit 2)""",
                tid,
                subtree,
            )
        ]
        home = p.dealer_id or dealer_ids[0]
        warehouse_ids = [
            r["id"]
            for r in await pool.fetch(
                """(select id from warehouses where tenant_id = $1 and owner_kind = 'DEALER' and dealer_id = $2
                order by id limit 1)
               union all (select id from warehouses where tenant_id = $1 and owner_kind = 'HQ' order by id limit 1)
               union all (select id from warehouses where tenant_id = $1 and owner_kind = 'DEALER'
                          and dealer_id <> $2 order by id limit 1)""",
                tid,
                home,
            )
        ]

        def money(amount: Any, with_currency: bool = True) -> dict[str, Any]:
            return {"amount": str(amount), "currency": currency} if with_currency else {"amount": str(amount)}

        async with engine.connect() as conn:

            async def reference(first: int, after: str | None, dealer: int, wh: int, quantity: int) -> dict[str, Any]:
                f = catalog.SkuFilter(orderable_by=dealer)
                pg = await catalog.skus_page(conn, p, f, first, after, False)
                rows = list(pg.rows) if pg is not None else []
                shown = rows[:first]
                ids = [r.id for r in shown]
                guide = await pricing.guide_retail_prices_of(conn, p, ids) if ids else {}
                prices = await pricing.resolve_prices(conn, p, dealer, ids, quantity)
                bands = await pricing.price_limits_of(conn, p, ids, None) if ids else {}
                levels = await inventory.levels_at(conn, p, [(i, wh) for i in ids]) if ids else {}
                edges = []
                for r in shown:
                    price, band = prices.get(r.id), bands.get(r.id)
                    node = {
                        "id": encode_gid("Sku", r.id),
                        "code": r.code,
                        "name": r.name,
                        "unit": r.unit,
                        "moq": r.moq,
                        "orderMultiple": r.order_multiple,
                        "guideRetailPrice": money(guide[r.id]) if r.id in guide else None,
                        "price": None
                        if price is None
                        else {
                            "amount": money(price.amount),
                            "list": {"code": price.price_list["code"]},
                            "break": {"minQuantity": price.min_quantity},
                        },
                        "priceLimit": None
                        if band is None
                        else {
                            "floor": money(band.floor, False) if band.floor is not None else None,
                            "ceiling": money(band.ceiling, False) if band.ceiling is not None else None,
                        },
                        "available": levels[(r.id, wh)].available,
                    }
                    edges.append({"cursor": catalog.SKU_ORDER.cursor_of(r), "node": node})
                info = {"hasNextPage": len(rows) > first, "endCursor": edges[-1]["cursor"] if edges else None}
                return {"data": {"skus": {"pageInfo": info, "edges": edges}}}

            pages = edges = no_price = no_stock = 0
            cases = [(first, home, warehouse_ids[0], 10) for first in (0, 1, 7, MAX_PAGE)]
            cases += [(50, d, w, q) for d in dealer_ids for w in warehouse_ids for q in (1, 10, 100)]
            for first, dealer, wh, quantity in cases:
                after: str | None = None
                while True:
                    got = await dp.page(first, decode_cursor(after) if after else None, dealer, wh, quantity)
                    want = await reference(first, after, dealer, wh, quantity)
                    if got != orjson.dumps(want):
                        print(
                            f"MISMATCH first={first} after={after!r} dealer={dealer} warehouse={wh} "
                            f"quantity={quantity}",
                            file=sys.stderr,
                        )
                        print(got.decode()[:2000], file=sys.stderr)
                        print(orjson.dumps(want).decode()[:2000], file=sys.stderr)
                        return 1
                    pages += 1
                    edges += len(want["data"]["skus"]["edges"])
                    no_price += got.count(b'"price":null')
                    no_stock += got.count(b'"available":null')
                    info = want["data"]["skus"]["pageInfo"]
                    if not info["hasNextPage"] or first == 0:
                        break
                    after = info["endCursor"]
        print(
            f"ok: {pages} dealer pages identical ({len(cases)} cases: dealers {dealer_ids}, warehouses "
            f"{warehouse_ids}, quantities 1/10/100; {edges} SKUs shown, {no_price} without a price, "
            f"{no_stock} with available null)"
        )
        return 0
    finally:
        await engine.dispose()
        await pool.close()


CHECK_USERS = (
    "admin@demo.example",
    "dealer1@demo.example",
    "subdealer1@demo.example",
    "sales.east@demo.example",
    "store1@demo.example",
)


def api_settings_update(settings_cls: Any, dsn: str, compiled: bool) -> dict[str, Any]:
    """Settings for an API answering a benchmark or a check: this database, the read path
    chosen, and no per-principal rate limit (one login sends thousands of queries)."""
    update: dict[str, Any] = {"database_url": dsn, "compiled_reads": compiled}
    if "rate_limit_enabled" in settings_cls.model_fields:
        update["rate_limit_enabled"] = False
    return update


class _GraphQLApp:
    """The API in-process (httpx over ASGI), one per read path."""

    def __init__(self, dsn: str, compiled: bool) -> None:
        import httpx

        from ymt_graph.app import create_app
        from ymt_graph.settings import Settings

        settings = Settings().model_copy(update=api_settings_update(Settings, dsn, compiled))
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://t")

    async def post(self, query: str, variables: dict[str, Any], token: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        return orjson.loads(r.content)

    async def login(self, email: str, password: str) -> str | None:
        doc = await self.post(
            "mutation($i: TokenCreateInput!){ tokenCreate(input:$i){ token } }",
            {"i": {"email": email, "password": password}},
            None,
        )
        return ((doc.get("data") or {}).get("tokenCreate") or {}).get("token")


async def check_graphql(dsn: str, tenant: str, users: Sequence[str], password: str, currency: str) -> int:
    """The issue-5 endpoints against the API itself, in-process: for each user, SKU pages
    (several orderableBy dealers and warehouses, several page sizes, every page walked) and
    order lists (several page sizes, every page walked) through /raw/sku-page's and
    /raw/order-list's SQL, the resolver path and the compiled path. The raw answer must equal
    the resolver path's (the reference) after parsing (key order and JSON spacing aside, list
    order kept); a compiled answer that differs is reported as a warning (a compiled-path
    bug, not the raw endpoint's). 0 when every raw answer matched."""
    from ymt_graph.db import dispose_engines
    from ymt_graph.graph.ids import encode_gid

    resolver, compiled = _GraphQLApp(dsn, False), _GraphQLApp(dsn, True)
    pool = await open_pool(dsn, 2)
    raw_bad = compiled_bad = compared = 0
    refused: Counter[str] = Counter()
    shown: Counter[str] = Counter()

    async def compare(
        email: str, token: str, what: str, raw: Callable[[], Awaitable[bytes]], query: str, variables: dict[str, Any]
    ) -> Any:
        """Compare the three answers of one request; the resolver's document (None when refused)."""
        nonlocal raw_bad, compiled_bad, compared
        want = await resolver.post(query, variables, token)
        got_compiled = await compiled.post(query, variables, token)
        try:
            got = orjson.loads(await raw())
        except Forbidden:
            got = None
        if want.get("errors") or not isinstance(want.get("data"), dict):
            # Refused by the API (no catalog:read, a query over the cost limit): nothing to compare.
            refused[str((want.get("errors") or [{}])[0].get("message"))[:80]] += 1
            return None
        want = {"data": want["data"]}  # extensions (cost) are the API's own
        for conn_name, conn in want["data"].items():
            nodes = [e["node"] for e in conn["edges"]]
            shown[conn_name] += len(nodes)
            shown["order lines"] += sum(len(n.get("lines") or ()) for n in nodes)
            shown["shipments"] += sum(len(n.get("shipments") or ()) for n in nodes)
            shown["SKUs with a price"] += sum(1 for n in nodes if n.get("price"))
        got_compiled = {"data": got_compiled.get("data")}
        compared += 1
        if got != want:
            raw_bad += 1
            print(f"MISMATCH {email} {what} {variables}", file=sys.stderr)
            print("  raw:     " + orjson.dumps(got).decode()[:1500], file=sys.stderr)
            print("  graphql: " + orjson.dumps(want).decode()[:1500], file=sys.stderr)
        if got_compiled != want:
            compiled_bad += 1
            print(f"WARNING {email} {what}: the compiled path differs from the resolver path "
                  f"({orjson.dumps(got_compiled).decode()[:300]})")
        return want

    try:
        tid = await tenant_id_of(pool, tenant)
        dealer_ids = {
            r["code"]: r["id"]
            for r in await pool.fetch(
                "select id, code from dealers where tenant_id = $1 and code = any($2::text[])",
                tid,
                ["D0001", "D0001-01", "D0002"],
            )
        }
        warehouse_ids = [
            r["id"]
            for r in await pool.fetch(
                """(select id from warehouses where tenant_id = $1 and owner_kind = 'HQ' order by id limit 1)
                   union all (select id from warehouses where tenant_id = $1 and code = any($2::text[]))""",
                tid,
                ["W-D0001", "W-D0002"],
            )
        ]
        for email in users:
            p = await principal_of(dsn, tenant, email)
            token = await resolver.login(email, password)
            if p is None or token is None:
                print(f"  {email}: no such user or login failed; skipped")
                continue
            st = UserStatements(pool, tid, p, currency)

            # DealerSkuPage: the user's own dealer first, then the others; its seller's HQ
            # warehouse, its own and another dealer's.
            dealers = ([p.dealer_id] if p.dealer_id else []) + [d for d in dealer_ids.values() if d != p.dealer_id]
            sku_cases = [(first, dealers[0], warehouse_ids[0]) for first in (0, 1, 7, 100, MAX_PAGE)]
            sku_cases += [(50, d, w) for d in dealers[:3] for w in warehouse_ids]
            for first, dealer, wh in sku_cases:
                after: str | None = None
                while True:
                    variables: dict[str, Any] = {
                        "first": first, "after": after,
                        "dealerId": encode_gid("Dealer", dealer), "warehouseId": encode_gid("Warehouse", wh),
                    }
                    cursor = decode_cursor(after) if after else None
                    want = await compare(
                        email, token, f"sku-page first={first} dealer={dealer} warehouse={wh}",
                        functools.partial(st.sku_page, first, cursor, dealer, wh), SKU_PAGE_QUERY, variables,
                    )
                    info = want["data"]["skus"]["pageInfo"] if want else None
                    if not info or not info["hasNextPage"] or first == 0:
                        break
                    after = info["endCursor"]
            for first in (0, 1, 7, 25, MAX_PAGE):
                after = None
                while True:
                    oc = decode_id_cursor(after) if after else None
                    want = await compare(
                        email, token, f"order-list first={first}", functools.partial(st.order_list, first, oc),
                        ORDER_LIST_QUERY, {"first": first, "after": after},
                    )
                    info = want["data"]["orders"]["pageInfo"] if want else None
                    if not info or not info["hasNextPage"] or first == 0:
                        break
                    after = info["endCursor"]
            print(f"  {email}: {compared} answers compared so far ({', '.join(f'{k} {v}' for k, v in shown.items())})")
    finally:
        await pool.close()
        for app in (resolver, compiled):
            await app.client.aclose()
        await dispose_engines()
    print(
        f"{'ok' if not raw_bad else 'FAILED'}: {compared} SKU-page and order-list answers compared with the API "
        f"{raw_bad} raw mismatches; compiled path differs from the resolver path in {compiled_bad}"
    )
    for message, n in refused.most_common():
        print(f"  refused by the API {n}×, not compared: {message}")
    return 1 if raw_bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001)
    ap.add_argument("--tenant", default="demo", help="tenant code the endpoints filter on")
    ap.add_argument("--pool-size", type=int, default=10)
    ap.add_argument("--style", choices=sorted(STYLES), default="compact")
    ap.add_argument(
        "--user",
        action="append",
        default=None,
        help="whose rights the principal-bound endpoints apply (repeatable; the first is the default of a request "
        "that names none; default dealer1@demo.example). With --check: the users checked against the API "
        f"(default {', '.join(CHECK_USERS)})",
    )
    ap.add_argument("--password", default="demo-password", help="--check: the users' password (API logins)")
    ap.add_argument("--currency", default=None, help="Money currency (default: the API's setting)")
    ap.add_argument(
        "--check",
        action="store_true",
        help="compare the SQL with the Python services (catalog, dealer-page) and with the API in-process "
        "(sku-page, order-list); no server",
    )
    ap.add_argument(
        "--check-only",
        choices=["catalog", "dealer-page", "graphql"],
        action="append",
        help="with --check: only these parts (repeatable)",
    )
    args = ap.parse_args(argv)
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        print("raw_server: set DATABASE_URL=postgresql://...", file=sys.stderr)
        return 2
    currency = args.currency or default_currency()
    if args.check:
        parts = set(args.check_only or ("catalog", "dealer-page", "graphql"))
        code = asyncio.run(check(dsn, args.tenant, args.style)) if "catalog" in parts else 0
        if not code and "dealer-page" in parts:
            user = (args.user or ["dealer1@demo.example"])[0]
            code = asyncio.run(check_dealer_page(dsn, args.tenant, user, currency))
        if not code and "graphql" in parts:
            code = asyncio.run(check_graphql(dsn, args.tenant, args.user or CHECK_USERS, args.password, currency))
        return code
    app = create_app(
        dsn,
        tenant=args.tenant,
        pool_size=args.pool_size,
        style=args.style,
        user=args.user or ["dealer1@demo.example"],
        currency=args.currency,
    )
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
