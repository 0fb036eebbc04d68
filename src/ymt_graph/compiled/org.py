"""Compiled fields of the organization: ``dealers``, ``dealer``, ``stores``, ``store``,
``warehouses``, and ``Dealer``, ``Store``, ``Warehouse`` wherever they are shown. Rows come from
``org.service``'s scoped selects (``dealer_select``, ``store_select``, ``warehouse_select``),
filters from its filter clauses, so a row is there exactly when the resolver path shows it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ymt_graph import access
from ymt_graph.compiled import sqljson
from ymt_graph.compiled.catalog import region
from ymt_graph.compiled.core import (
    Compiler,
    Filter,
    NotCompilable,
    Selection,
    columns,
    compiles,
    compiles_root,
    money,
    plain,
)
from ymt_graph.compiled.sqljson import Expr
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


@compiles("Dealer", "children")
def _children(c: Compiler, src: Any, sel: Selection) -> Expr:
    base = org_service.dealer_select(c.p).where(dealers.c.parent_id == src.c.id)
    return c.paged("Dealer", "Dealer", sel, base, org_service.DEALER_ORDER)


@compiles("Dealer", "stores")
def _stores(c: Compiler, src: Any, sel: Selection) -> Expr:
    base = org_service.store_select(c.p).where(stores.c.dealer_id == src.c.id)
    return c.paged("Dealer", "Store", sel, base, org_service.STORE_ORDER)


@compiles("Dealer", "warehouses")
def _warehouses(c: Compiler, src: Any, sel: Selection) -> Expr:
    base = org_service.warehouse_select(c.p).where(warehouses.c.dealer_id == src.c.id,
                                                   warehouses.c.owner_kind == "DEALER")
    return c.paged("Dealer", "Warehouse", sel, base, org_service.WAREHOUSE_ORDER)


# ---- roots -------------------------------------------------------------------------------------


def _in_region(c: Compiler, f: Filter, region_id: Any) -> list[Expr]:
    if not f.given.get("regionCode"):  # as the resolver path: an empty code filters nothing
        return []
    return [org_service.in_region_subtree(region_id, c.p.tenant_id, f.value("regionCode", plain, sa.Text))]


@compiles_root("dealers")
def _dealers(c: Compiler, sel: Selection) -> Expr:
    f, d = Filter(c, sel), dealers.c
    clauses = [*f.search(d.code, d.name), *f.equal(("level", d.level), ("tier", d.tier), ("status", d.status)),
               *_in_region(c, f, d.region_id)]
    if f.has("parentId"):
        clauses.append(d.parent_id == f.pk("parentId", "Dealer"))
    return c.paged("Query", "Dealer", sel, org_service.dealer_select(c.p).where(*clauses), org_service.DEALER_ORDER)


@compiles_root("stores")
def _stores_root(c: Compiler, sel: Selection) -> Expr:
    f, s = Filter(c, sel), stores.c
    clauses = [*f.search(s.code, s.name), *f.equal(("status", s.status), ("format", s.format)),
               *_in_region(c, f, s.region_id)]
    if f.has("dealerId"):
        clauses.append(s.dealer_id == f.pk("dealerId", "Dealer"))
    return c.paged("Query", "Store", sel, org_service.store_select(c.p).where(*clauses), org_service.STORE_ORDER)


@compiles_root("warehouses")
def _warehouses_root(c: Compiler, sel: Selection) -> Expr:
    f, w = Filter(c, sel), warehouses.c
    clauses = f.equal(("ownerKind", w.owner_kind))
    if f.has("dealerId"):
        clauses.append(w.dealer_id == f.pk("dealerId", "Dealer"))
    if f.has("storeId"):
        clauses.append(w.store_id == f.pk("storeId", "Store"))
    base = org_service.warehouse_select(c.p).where(*clauses)
    return c.paged("Query", "Warehouse", sel, base, org_service.WAREHOUSE_ORDER)


compiles_root("dealer")(lambda c, sel: c.by_id_or_key("Dealer", sel, org_service.dealer_select(c.p), dealers))
compiles_root("store")(lambda c, sel: c.by_id_or_key("Store", sel, org_service.store_select(c.p), stores))
