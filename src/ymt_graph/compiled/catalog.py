"""Compiled fields of the catalog (and the regions every centre shows): ``skus``, ``sku``,
``Sku``, ``Category``, ``ProductModel``, ``Region``. Same rows and rules as
``catalog.service`` (``sku_select``, ``sku_filter_clauses``, ``SKU_ORDER``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ymt_graph import access
from ymt_graph.catalog import service as catalog_service
from ymt_graph.compiled import sqljson
from ymt_graph.compiled.core import (
    Compiler,
    Filter,
    NotCompilable,
    Prefixed,
    Selection,
    columns,
    compiles,
    compiles_root,
)
from ymt_graph.compiled.sqljson import Expr
from ymt_graph.org import service as org_service

skus, categories, product_models = catalog_service.skus, catalog_service.categories, catalog_service.product_models
regions = org_service.regions

columns("Category", id=lambda c: sqljson.gid("Category", c), code=None, name=None)
columns("ProductModel", id=lambda c: sqljson.gid("ProductModel", c), code=None, name=None)
columns("Region", id=lambda c: sqljson.gid("Region", c), code=None, name=None, kind=None)
columns(
    "Sku",
    id=lambda c: sqljson.gid("Sku", c),
    code=None, name=None, unit=None, moq=None, orderMultiple=None, serialTracked=None, status=None,
    launchDate=sqljson.iso_date, attributes=None, createdAt=sqljson.iso_datetime, updatedAt=sqljson.iso_datetime,
)


def region(c: Compiler, src: Any, sel: Selection, fk: str) -> Expr:
    """The region ``src``'s column ``fk`` names (reference data: every principal of the tenant reads it)."""
    r = regions
    return c.related("Region", src, sel, fk, lambda ids: sa.select(r).where(r.c.tenant_id == c.p.tenant_id,
                                                                           r.c.id.in_(ids)))


@compiles("Region", "parent")
def _region_parent(c: Compiler, src: Any, sel: Selection) -> Expr:
    return region(c, src, sel, "parent_id")


def _category(c: Compiler, src: Any, sel: Selection, fk: str) -> Expr:
    cat = categories
    return c.related("Category", src, sel, fk, lambda ids: sa.select(cat).where(cat.c.tenant_id == c.p.tenant_id,
                                                                               cat.c.id.in_(ids)))


@compiles("Category", "parent")
def _category_parent(c: Compiler, src: Any, sel: Selection) -> Expr:
    return _category(c, src, sel, "parent_id")


@compiles("ProductModel", "category")
def _model_category(c: Compiler, src: Any, sel: Selection) -> Expr:
    return _category(c, src, sel, "category_id")


# A SKU row of ``catalog.service.sku_select`` comes joined with its category and model
# (category_code, model_name…), as on the resolver path: read there, not looked up again.


@compiles("Sku", "category")
def _sku_category(c: Compiler, src: Any, sel: Selection) -> Expr:
    joined = Prefixed.of(src, "category_", "code")
    if joined is not None:
        return c.object("Category", joined, sel)
    return _category(c, src, sel, "category_id")


@compiles("Sku", "model")
def _sku_model(c: Compiler, src: Any, sel: Selection) -> Expr:
    joined = Prefixed.of(src, "model_", "code")
    if joined is not None:
        return c.object("ProductModel", joined, sel)
    m = product_models
    return c.related("ProductModel", src, sel, "model_id",
                     lambda ids: sa.select(m).where(m.c.tenant_id == c.p.tenant_id, m.c.id.in_(ids)))


def sku(c: Compiler, src: Any, sel: Selection, fk: str) -> Expr:
    """A related SKU (the catalog is readable to whoever may read it: NULL otherwise)."""
    if not access.catalog_readable(c.p):
        return sa.null()
    s = skus
    return c.related("Sku", src, sel, fk, lambda ids: sa.select(s).where(s.c.tenant_id == c.p.tenant_id,
                                                                         s.c.id.in_(ids)))


def _readable(c: Compiler) -> None:
    if not access.catalog_readable(c.p):
        raise NotCompilable("no catalog:read")  # the resolver path answers FORBIDDEN


def _filter_clauses(c: Compiler, sel: Selection) -> list[Expr]:
    """``catalog.service.sku_filter_clauses`` with the filter's values as parameters."""
    f = Filter(c, sel)
    clauses = [skus.c.tenant_id == c.p.tenant_id, *f.search(skus.c.code, skus.c.name),
               *f.equal(("status", skus.c.status))]
    if f.has("categoryId"):
        clauses.append(skus.c.category_id == f.pk("categoryId", "Category"))
    if f.has("orderableBy"):
        clauses.append(orderable_by(c, f.pk("orderableBy", "Dealer")))
    return clauses


def orderable_by(c: Compiler, dealer_id: Expr) -> Expr:
    """SKUs a dealer the principal sees may order: ``catalog.service.orderable_clause`` over
    the dealer's terms read in SQL (an unseen dealer orders nothing). The terms are
    uncorrelated subqueries — PostgreSQL reads them once — so the rule's EXISTS sits directly
    on the SKU row it correlates with."""
    d, r = c.alias(org_service.dealers), c.alias(regions)
    seen = sa.exists().where(d.c.id == dealer_id, d.c.tenant_id == c.p.tenant_id, r.c.id == d.c.region_id,
                             access.dealer_scope(c.p, d, r))

    def term(col: str) -> Any:
        t, tr = c.alias(org_service.dealers), c.alias(regions)
        value = tr.c.path if col == "region_path" else t.c[col]
        return sa.select(value).where(t.c.id == dealer_id, tr.c.id == t.c.region_id).scalar_subquery()

    dealer = catalog_service.DealerTerms(id=dealer_id, level=term("level"), tier=term("tier"),
                                         region_path=term("region_path"))
    return sa.and_(seen, catalog_service.orderable_clause(dealer))


@compiles_root("skus")
def _skus(c: Compiler, sel: Selection) -> Expr:
    _readable(c)
    base = catalog_service.sku_select().where(*_filter_clauses(c, sel))
    return c.paged("Query", "Sku", sel, base, catalog_service.SKU_ORDER)


@compiles_root("sku")
def _sku(c: Compiler, sel: Selection) -> Expr:
    _readable(c)
    return c.by_id_or_key("Sku", sel, sa.select(skus).where(skus.c.tenant_id == c.p.tenant_id), skus)
