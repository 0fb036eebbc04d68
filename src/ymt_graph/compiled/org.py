"""Compiled fields of the organization: ``dealers``, ``dealer``, ``stores``, ``store``,
``warehouses``, and ``Dealer``, ``Store``, ``Warehouse`` wherever they are shown. Rows come from
``org.service``'s scoped selects (``dealer_select``, ``store_select``, ``warehouse_select``),
filters from its filter clauses, so a row is there exactly when the resolver path shows it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ymt_graph import access
from ymt_graph.compiled import sqljson
from ymt_graph.compiled.catalog import like_escaped, region
from ymt_graph.compiled.core import (
    Compiler,
    NotCompilable,
    Selection,
    columns,
    compiles,
    compiles_root,
    money,
    plain,
)
from ymt_graph.compiled.sqljson import Expr
from ymt_graph.graph.mutation import parse_pk
from ymt_graph.org import service as org_service

dealers, stores, warehouses, regions = (org_service.dealers, org_service.stores, org_service.warehouses,
                                        org_service.regions)

columns(
    "Dealer",
    id=lambda c: sqljson.gid("Dealer", c),
    code=None, name=None, level=None, tier=None, status=None, contactName=None, contactPhone=None,
    createdAt=sqljson.iso_datetime, updatedAt=sqljson.iso_datetime,
)
columns(
    "Store",
    id=lambda c: sqljson.gid("Store", c),
    code=None, name=None, address=None, format=None, status=None, createdAt=sqljson.iso_datetime,
)
columns("Warehouse", id=lambda c: sqljson.gid("Warehouse", c), code=None, name=None, ownerKind=None)
compiles("Dealer", "region")(lambda c, src, sel: region(c, src, sel, "region_id"))
compiles("Store", "region")(lambda c, src, sel: region(c, src, sel, "region_id"))


def _details(c: Compiler, src: Any) -> Expr:
    return access.dealer_details_clause(c.p, src.c.path, src.c.region_path)


@compiles("Dealer", "creditLimit")
def _credit_limit(c: Compiler, src: Any, sel: Selection) -> Expr:
    return sa.case((_details(c, src), money(c, sel, src.c.credit_limit, c.settings.currency)), else_=sa.null())


@compiles("Dealer", "paymentTermsDays")
def _terms(c: Compiler, src: Any, sel: Selection) -> Expr:
    return sa.case((_details(c, src), src.c.payment_terms_days), else_=sa.null())


@compiles("Store", "location")
def _location(c: Compiler, src: Any, sel: Selection) -> Expr:
    values = {"lat": src.c.lat, "lng": src.c.lng, "__typename": sa.literal("Location", sa.Text)}
    pairs = []
    for w in c.selections(c.object_type("Location"), sel.nodes):
        if w.name not in values:
            raise NotCompilable(f"Location.{w.name}")
        pairs.append((w.key, values[w.name]))
    return sa.case((src.c.lat.is_(None), sa.null()), else_=sqljson.json_object(pairs))


def dealer(c: Compiler, src: Any, sel: Selection, fk: str) -> Expr:
    """The dealer ``src``'s column ``fk`` names, as the principal sees it (NULL if none, or not visible)."""
    return c.related("Dealer", src, sel, fk, lambda ids: org_service.dealer_select(c.p).where(dealers.c.id.in_(ids)))


def store(c: Compiler, src: Any, sel: Selection, fk: str) -> Expr:
    return c.related("Store", src, sel, fk, lambda ids: org_service.store_select(c.p).where(stores.c.id.in_(ids)))


def warehouse(c: Compiler, src: Any, sel: Selection, fk: str) -> Expr:
    return c.related("Warehouse", src, sel, fk,
                     lambda ids: org_service.warehouse_select(c.p).where(warehouses.c.id.in_(ids)))


compiles("Dealer", "parent")(lambda c, src, sel: dealer(c, src, sel, "parent_id"))
compiles("Store", "dealer")(lambda c, src, sel: dealer(c, src, sel, "dealer_id"))
compiles("Warehouse", "dealer")(lambda c, src, sel: dealer(c, src, sel, "dealer_id"))
compiles("Warehouse", "store")(lambda c, src, sel: store(c, src, sel, "store_id"))


@compiles("Store", "warehouse")
def _store_warehouse(c: Compiler, src: Any, sel: Selection) -> Expr:
    base = org_service.warehouse_select(c.p).where(warehouses.c.store_id == src.c.id)
    return c.one("Warehouse", sel, base.order_by(*org_service.WAREHOUSE_ORDER.columns))


def _nested(c: Compiler, type_name: str, node_type: str, sel: Selection, base: sa.Select[Any], order: Any) -> Expr:
    return c.connection(node_type, sel, base, order, c.first(type_name, sel), c.after(type_name, sel, order))


@compiles("Dealer", "children")
def _children(c: Compiler, src: Any, sel: Selection) -> Expr:
    base = org_service.dealer_select(c.p).where(dealers.c.parent_id == src.c.id)
    return _nested(c, "Dealer", "Dealer", sel, base, org_service.DEALER_ORDER)


@compiles("Dealer", "stores")
def _stores(c: Compiler, src: Any, sel: Selection) -> Expr:
    base = org_service.store_select(c.p).where(stores.c.dealer_id == src.c.id)
    return _nested(c, "Dealer", "Store", sel, base, org_service.STORE_ORDER)


@compiles("Dealer", "warehouses")
def _warehouses(c: Compiler, src: Any, sel: Selection) -> Expr:
    base = org_service.warehouse_select(c.p).where(warehouses.c.dealer_id == src.c.id,
                                                   warehouses.c.owner_kind == "DEALER")
    return _nested(c, "Dealer", "Warehouse", sel, base, org_service.WAREHOUSE_ORDER)


# ---- roots -------------------------------------------------------------------------------------


def _filter(c: Compiler, sel: Selection) -> tuple[dict[str, Any], Any]:
    f = c.arg("Query", sel, "filter") or {}

    def part(name: str, convert: Any = plain, type_: Any = None) -> Expr:
        return c.arg_sql("Query", sel, "filter", lambda v: convert((v or {}).get(name)), type_)

    return f, part


def _search(f: dict[str, Any], part: Any, *cols: Any) -> list[Expr]:
    if not (f.get("search") or "").strip():
        return []
    term = part("search", like_escaped, sa.Text)
    return [sa.or_(*(col.icontains(term, escape="/") for col in cols))]


def _in_region(c: Compiler, f: dict[str, Any], part: Any, region_id: Any) -> list[Expr]:
    if not f.get("regionCode"):
        return []
    return [org_service.in_region_subtree(region_id, c.p.tenant_id, part("regionCode", plain, sa.Text))]


def _equal(f: dict[str, Any], part: Any, pairs: list[tuple[str, Any, Any, Any]]) -> list[Expr]:
    return [col == part(name, convert, type_) for name, col, convert, type_ in pairs if f.get(name) is not None]


def _pk(type_name: str) -> Any:
    return lambda g: parse_pk(g, type_name)


@compiles_root("dealers")
def _dealers(c: Compiler, sel: Selection) -> Expr:
    f, part = _filter(c, sel)
    d = dealers.c
    clauses = _search(f, part, d.code, d.name) + _equal(f, part, [
        ("level", d.level, plain, sa.Integer), ("tier", d.tier, plain, sa.Text),
        ("status", d.status, plain, sa.Text), ("parentId", d.parent_id, _pk("Dealer"), sa.BigInteger),
    ]) + _in_region(c, f, part, d.region_id)
    base = org_service.dealer_select(c.p).where(*clauses)
    order = org_service.DEALER_ORDER
    return c.connection("Dealer", sel, base, order, c.first("Query", sel), c.after("Query", sel, order))


@compiles_root("stores")
def _stores_root(c: Compiler, sel: Selection) -> Expr:
    f, part = _filter(c, sel)
    s = stores.c
    clauses = _search(f, part, s.code, s.name) + _equal(f, part, [
        ("dealerId", s.dealer_id, _pk("Dealer"), sa.BigInteger), ("status", s.status, plain, sa.Text),
        ("format", s.format, plain, sa.Text),
    ]) + _in_region(c, f, part, s.region_id)
    base = org_service.store_select(c.p).where(*clauses)
    order = org_service.STORE_ORDER
    return c.connection("Store", sel, base, order, c.first("Query", sel), c.after("Query", sel, order))


@compiles_root("warehouses")
def _warehouses_root(c: Compiler, sel: Selection) -> Expr:
    f, part = _filter(c, sel)
    w = warehouses.c
    clauses = _equal(f, part, [
        ("ownerKind", w.owner_kind, plain, sa.Text), ("dealerId", w.dealer_id, _pk("Dealer"), sa.BigInteger),
        ("storeId", w.store_id, _pk("Store"), sa.BigInteger),
    ])
    base = org_service.warehouse_select(c.p).where(*clauses)
    order = org_service.WAREHOUSE_ORDER
    return c.connection("Warehouse", sel, base, order, c.first("Query", sel), c.after("Query", sel, order))


def one_by_id_or_code(c: Compiler, sel: Selection, type_name: str, base: sa.Select[Any], table: sa.Table) -> Expr:
    """``dealer(id|code)``-style roots: exactly one of the two, else the resolver path's error."""
    given = [name for name in ("id", "code") if c.arg("Query", sel, name) is not None]
    if len(given) != 1:
        raise NotCompilable("exactly one of id, code")
    if given == ["id"]:
        key = table.c.id == c.arg_sql("Query", sel, "id", _pk(type_name), sa.BigInteger)
    else:
        key = table.c.code == c.arg_sql("Query", sel, "code", plain, sa.Text)
    return c.one(type_name, sel, base.where(key))


compiles_root("dealer")(lambda c, sel: one_by_id_or_code(c, sel, "Dealer", org_service.dealer_select(c.p), dealers))
compiles_root("store")(lambda c, sel: one_by_id_or_code(c, sel, "Store", org_service.store_select(c.p), stores))
