"""Compiled price fields of ``Sku`` (``guideRetailPrice``, ``price``, ``storePrice``,
``priceLimit``) and the types they return. The price is THE rule of the price centre
(``pricing.service.resolution_rows`` over ``ranked_offers``) correlated with the SKU's row;
its ``why`` is ``pricing.service.explain_sql``, the twin of ``explain``."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import sqlalchemy as sa

from ymt_graph import access
from ymt_graph.compiled import sqljson
from ymt_graph.compiled.catalog import region, sku
from ymt_graph.compiled.core import (
    Compiler,
    Filter,
    NotCompilable,
    Prefixed,
    Selection,
    columns,
    compiles,
    compiles_root,
    money,
    plain,
)
from ymt_graph.compiled.org import dealer
from ymt_graph.compiled.sqljson import Expr
from ymt_graph.graph.mutation import parse_pk
from ymt_graph.pricing import service as pricing_service

price_lists, guide_retail_prices = pricing_service.price_lists, pricing_service.guide_retail_prices
price_list_lines = pricing_service.price_list_lines

columns(
    "PriceList",
    id=lambda c: sqljson.gid("PriceList", c),
    code=None, name=None, kind=None, priority=None, status=None,
    validFrom=sqljson.iso_datetime, validTo=sqljson.iso_datetime, dealerLevel=None, dealerTier=None,
    createdAt=sqljson.iso_datetime, updatedAt=sqljson.iso_datetime,
)
compiles("PriceList", "region")(lambda c, src, sel: region(c, src, sel, "region_id"))
compiles("PriceList", "dealer")(lambda c, src, sel: dealer(c, src, sel, "dealer_id"))
compiles("PriceList", "ownerDealer")(lambda c, src, sel: dealer(c, src, sel, "owner_dealer_id"))
columns(
    "PriceListLine",
    id=lambda c: sqljson.gid("PriceListLine", c),
    minQuantity=None, validFrom=sqljson.iso_datetime, validTo=sqljson.iso_datetime,
)
compiles("PriceListLine", "amount")(lambda c, src, sel: money(c, sel, src.c.amount, _currency(c)))
compiles("PriceListLine", "sku")(lambda c, src, sel: sku(c, src, sel, "sku_id"))


@compiles("PriceListLine", "priceList")
def _line_list(c: Compiler, src: Any, sel: Selection) -> Expr:
    return c.related("PriceList", src, sel, "price_list_id",
                     lambda ids: pricing_service.price_list_select(c.p).where(price_lists.c.id.in_(ids)))


def _utc(at: Any) -> Any:
    """API times are UTC: a time sent without an offset is taken as UTC (``pricing.service._aware``)."""
    return at if at is None or at.tzinfo is not None else at.replace(tzinfo=UTC)


@compiles("PriceList", "lines")
def _list_lines(c: Compiler, src: Any, sel: Selection) -> Expr:
    """``pricing.service.line_pages`` for one list: ``line_select`` with the arguments as SQL
    (which of them are given, and ``includeExpired``, are the statement's shape)."""
    def given(name: str, convert: Any, type_: Any) -> Any:
        return c.arg_sql("PriceList", sel, name, convert, type_) if c.arg("PriceList", sel, name) is not None else None

    f = pricing_service.LineFilter(
        sku_id=given("skuId", lambda g: parse_pk(g, "Sku"), sa.BigInteger),
        valid_at=given("validAt", _utc, sa.DateTime(timezone=True)),
        include_expired=bool(c.arg("PriceList", sel, "includeExpired")),
    )
    base = pricing_service.line_select(c.p, f).where(price_list_lines.c.price_list_id == src.c.id)
    return c.paged("PriceList", "PriceListLine", sel, base, pricing_service.LINE_ORDER)


# A PriceBreak is read off the resolved offer's row (its winning line).
columns("PriceBreak", minQuantity="min_quantity")
columns("PriceBreak", validFrom=sqljson.iso_datetime, validTo=sqljson.iso_datetime)
compiles("PriceBreak", "validFrom")(lambda _c, src, _s: sqljson.iso_datetime(src.c.line_valid_from))
compiles("PriceBreak", "validTo")(lambda _c, src, _s: sqljson.iso_datetime(src.c.line_valid_to))


def _currency(c: Compiler) -> str:
    return c.settings.currency


def _sub(c: Compiler, stmt: sa.Select[Any]) -> Any:
    return stmt.subquery(f"c{next(c._aliases)}")


@compiles("Sku", "guideRetailPrice")
def _guide(c: Compiler, src: Any, sel: Selection) -> Expr:
    if not access.catalog_readable(c.p):
        return sa.null()
    g = guide_retail_prices

    def rows(ids: Any) -> sa.Select[Any]:
        return sa.select(g.c.sku_id, g.c.amount).where(g.c.tenant_id == c.p.tenant_id, g.c.sku_id.in_(ids))

    return c.per_row(src, rows, "sku_id", lambda row: money(c, sel, row.c.amount, _currency(c)))


def _quantity(q: Any) -> int:
    if q is None or int(q) < 1:
        raise NotCompilable("quantity < 1")  # the resolver path answers BAD_USER_INPUT
    return int(q)


def _resolved(c: Compiler, src: Any, sel: Selection, *, store: bool) -> Expr:
    buyer_arg, buyer_type = ("storeId", "Store") if store else ("dealerId", "Dealer")
    buyer = c.arg_sql("Sku", sel, buyer_arg, lambda g: parse_pk(g, buyer_type), sa.BigInteger)
    quantity = c.arg_sql("Sku", sel, "quantity", _quantity, sa.Integer)

    def winners(ids: Any) -> sa.Select[Any]:
        """Per SKU the winning offer (visible to the principal), the runner-up's columns beside."""
        rows = _sub(c, pricing_service.resolution_rows(c.p, store, buyer, ids, quantity))
        # "rank < 2", not "rank = 1": PostgreSQL has no statistics for a window's output and
        # guesses an equality keeps 1 row of the page's ~100, then joins the page to it by a
        # nested loop (100 × 100 comparisons); an inequality it guesses keeps a third.
        return sa.select(rows).where(rows.c.rank < 2, rows.c.visible)

    def build(row: Any) -> Expr:
        runner = _Named({n: row.c[f"next_{n}"] for n in pricing_service.RUNNER_UP} | {"seller_code": row.c.seller_code})
        return _price_object(c, sel, row, pricing_service.explain_sql(row.c, runner, quantity))

    return c.per_row(src, winners, "sku_id", build)


class _Named:
    def __init__(self, cols: dict[str, Any]) -> None:
        self.__dict__.update(cols)


def _price_object(c: Compiler, sel: Selection, row: Any, why: Expr) -> Expr:
    pairs: list[tuple[str, Expr]] = []
    for w in c.selections(c.object_type("ResolvedPrice"), sel.nodes):
        if w.name == "__typename":
            pairs.append((w.key, sa.literal("ResolvedPrice", sa.Text)))
        elif w.name == "amount":
            pairs.append((w.key, money(c, w, row.c.amount, _currency(c))))
        elif w.name == "list":
            # The offer's row carries its list's columns (pl_*): no lookup per SKU.
            pairs.append((w.key, c.object("PriceList", Prefixed(row, "pl_"), w)))
        elif w.name == "break":
            pairs.append((w.key, c.object("PriceBreak", row, w)))
        elif w.name == "why":
            pairs.append((w.key, why))
        else:
            raise NotCompilable(f"ResolvedPrice.{w.name}")
    return sqljson.json_object(pairs)


@compiles("Sku", "price")
def _price(c: Compiler, src: Any, sel: Selection) -> Expr:
    return _resolved(c, src, sel, store=False)


@compiles("Sku", "storePrice")
def _store_price(c: Compiler, src: Any, sel: Selection) -> Expr:
    return _resolved(c, src, sel, store=True)


@compiles("Sku", "priceLimit")
def _price_limit(c: Compiler, src: Any, sel: Selection) -> Expr:
    if not access.catalog_readable(c.p):
        return sa.null()
    path: Any = None
    if c.arg("Sku", sel, "regionCode") is not None:
        target = c.alias(pricing_service.regions)
        code = c.arg_sql("Sku", sel, "regionCode", type_=sa.Text)
        path = sa.select(target.c.path).where(target.c.tenant_id == c.p.tenant_id, target.c.code == code)
        path = path.scalar_subquery()
    return c.per_row(src, lambda ids: pricing_service.band_query(c.p.tenant_id, ids, path), "sku_id",
                   lambda row: c.object("PriceLimit", row, sel))


compiles("PriceLimit", "floor")(lambda c, src, sel: money(c, sel, src.c.floor, _currency(c)))
compiles("PriceLimit", "ceiling")(lambda c, src, sel: money(c, sel, src.c.ceiling, _currency(c)))
compiles("PriceLimit", "region")(lambda c, src, sel: region(c, src, sel, "region_id"))


# ---- roots -------------------------------------------------------------------------------------


@compiles_root("priceLists")
def _price_lists(c: Compiler, sel: Selection) -> Expr:
    """``pricing.service.price_lists_page``: ``price_list_filter_clauses`` with the filter's values
    as SQL (the search as the other roots write it: ``paging.search_clauses``)."""
    f, pl = Filter(c, sel), price_lists.c

    def given(name: str, convert: Any = plain, type_: Any = sa.Text) -> Any:
        return f.value(name, convert, type_) if f.has(name) else None

    def dealer(name: str) -> Any:
        return given(name, lambda g: parse_pk(g, "Dealer"), sa.BigInteger)

    sf = pricing_service.PriceListFilter(kind=given("kind"), status=given("status"), dealer_id=dealer("dealerId"),
                                         offered_to=dealer("offeredTo"))
    clauses = [*pricing_service.price_list_filter_clauses(c.p, sf), *f.search(pl.code, pl.name)]
    base = pricing_service.price_list_select(c.p).where(*clauses)
    return c.paged("Query", "PriceList", sel, base, pricing_service.PRICE_LIST_ORDER)


@compiles_root("priceList")
def _price_list(c: Compiler, sel: Selection) -> Expr:
    return c.by_id_or_key("PriceList", sel, pricing_service.price_list_select(c.p), price_lists)
