"""Compiled price fields of ``Sku`` (``guideRetailPrice``, ``price``, ``storePrice``,
``priceLimit``) and the types they return. The price is THE rule of the price centre
(``pricing.service.resolution_rows`` over ``ranked_offers``) correlated with the SKU's row;
its ``why`` is ``pricing.service.explain_sql``, the twin of ``explain``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ymt_graph import access
from ymt_graph.compiled import sqljson
from ymt_graph.compiled.catalog import region
from ymt_graph.compiled.core import Compiler, NotCompilable, Selection, columns, compiles, money
from ymt_graph.compiled.sqljson import Expr
from ymt_graph.graph.mutation import parse_pk
from ymt_graph.pricing import service as pricing_service

price_lists, guide_retail_prices = pricing_service.price_lists, pricing_service.guide_retail_prices

columns(
    "PriceList",
    id=lambda c: sqljson.gid("PriceList", c),
    code=None, name=None, kind=None, priority=None, status=None,
    validFrom=sqljson.iso_datetime, validTo=sqljson.iso_datetime, dealerLevel=None, dealerTier=None,
    createdAt=sqljson.iso_datetime, updatedAt=sqljson.iso_datetime,
)
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


_RUNNER_UP = ("pl_kind", "pl_code", "pl_priority", "from_hq", "seller_code")


def _resolved(c: Compiler, src: Any, sel: Selection, *, store: bool) -> Expr:
    buyer_arg, buyer_type = ("storeId", "Store") if store else ("dealerId", "Dealer")
    buyer = c.arg_sql("Sku", sel, buyer_arg, lambda g: parse_pk(g, buyer_type), sa.BigInteger)
    quantity = c.arg_sql("Sku", sel, "quantity", _quantity, sa.Integer)

    def winners(ids: Any) -> sa.Select[Any]:
        """Per SKU the winning offer (visible to the principal), the runner-up's columns beside."""
        rows = _sub(c, pricing_service.resolution_rows(c.p, store, buyer, ids, quantity))
        ranked = _sub(c, sa.select(rows, *(
            sa.func.lead(rows.c[n]).over(partition_by=rows.c.sku_id, order_by=rows.c.rank).label(f"next_{n}")
            for n in _RUNNER_UP)))
        return sa.select(ranked).where(ranked.c.rank == 1, ranked.c.visible)

    def build(row: Any) -> Expr:
        runner = _Named({n: row.c[f"next_{n}"] for n in _RUNNER_UP})
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
            pl = c.alias(price_lists)
            pairs.append((w.key, c.one("PriceList", w, sa.select(pl).where(pl.c.id == row.c.list_id))))
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
