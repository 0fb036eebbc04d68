"""Compiled stock fields: ``Sku.stockLevel`` / ``Sku.available`` (null where the principal may
not see the warehouse, or its availability, as ``inventory.service.levels_at`` answers),
``StockLevel``, ``Warehouse``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from graphql import print_ast

from ymt_graph import access
from ymt_graph.compiled import sqljson
from ymt_graph.compiled.catalog import sku
from ymt_graph.compiled.core import Compiler, Filter, Selection, columns, compiles, compiles_root
from ymt_graph.compiled.org import warehouse
from ymt_graph.compiled.sqljson import Expr
from ymt_graph.graph.mutation import parse_pk
from ymt_graph.inventory import service as inventory_service
from ymt_graph.org import service as org_service

stock_levels, warehouses = inventory_service.stock_levels, org_service.warehouses
dealers, stores, regions = org_service.dealers, org_service.stores, org_service.regions

columns(
    "StockLevel",
    id=lambda c: sqljson.gid("StockLevel", c),
    onHand=None, reserved=None, inbound=None, safetyStock=None, reorderPoint=None,
    updatedAt=sqljson.iso_datetime,
)
compiles("StockLevel", "available")(lambda _c, src, _s: src.c.on_hand - src.c.reserved)
compiles("StockLevel", "belowReorderPoint")(lambda _c, src, _s: inventory_service.below_reorder_point(src.c))


def seen_warehouse(c: Compiler, warehouse_id: Any, scope: Any = access.warehouse_scope) -> Expr:
    """Whether the principal may see the warehouse (``access.warehouse_scope``, or another scope
    of the same shape)."""
    w = c.alias(warehouses)
    return sa.exists().where(w.c.id == warehouse_id, scope(c.p, w, dealers, stores, regions))


compiles("StockLevel", "warehouse")(lambda c, src, sel: warehouse(c, src, sel, "warehouse_id"))


compiles("StockLevel", "sku")(lambda c, src, sel: sku(c, src, sel, "sku_id"))


def _warehouse_arg(c: Compiler, sel: Selection) -> Expr:
    return c.arg_sql("Sku", sel, "warehouseId", lambda g: parse_pk(g, "Warehouse"), sa.BigInteger)


def _same_levels(sel: Selection) -> Any:
    """``available`` and ``stockLevel`` at the same warehouse (the same literal or variable) read
    the same stock levels: the page joins them once."""
    node = next((a.value for a in sel.node.arguments or () if a.name.value == "warehouseId"), None)
    return ("stock_levels", print_ast(node) if node is not None else None)


def _levels(c: Compiler, wid: Expr) -> Any:
    lv = stock_levels

    def rows(ids: Any) -> sa.Select[Any]:
        return sa.select(lv).where(lv.c.tenant_id == c.p.tenant_id, lv.c.warehouse_id == wid, lv.c.sku_id.in_(ids))

    return rows


@compiles("Sku", "available")
def _available(c: Compiler, src: Any, sel: Selection) -> Expr:
    wid = _warehouse_arg(c, sel)
    units = c.per_row(src, _levels(c, wid), "sku_id", lambda row: row.c.on_hand - row.c.reserved,
                      share=_same_levels(sel))
    return sa.case((seen_warehouse(c, wid, access.availability_scope), sa.func.coalesce(units, 0)), else_=sa.null())


@compiles("Sku", "stockLevel")
def _stock_level(c: Compiler, src: Any, sel: Selection) -> Expr:
    wid = _warehouse_arg(c, sel)
    level = c.per_row(src, _levels(c, wid), "sku_id", lambda row: c.object("StockLevel", row, sel),
                      share=_same_levels(sel))
    return sa.case((seen_warehouse(c, wid), level), else_=sa.null())


@compiles_root("stockLevels")
def _stock_levels(c: Compiler, sel: Selection) -> Expr:
    """``inventory.service.stock_levels_page``: levels at the warehouses the principal sees."""
    f, lv = Filter(c, sel), stock_levels.c
    clauses: list[Expr] = []
    if f.has("warehouseId"):
        clauses.append(lv.warehouse_id == f.pk("warehouseId", "Warehouse"))
    if f.has("skuId"):
        clauses.append(lv.sku_id == f.pk("skuId", "Sku"))
    if f.has("dealerId"):
        w = c.alias(warehouses)
        clauses.append(lv.warehouse_id.in_(sa.select(w.c.id).where(
            w.c.tenant_id == c.p.tenant_id, w.c.dealer_id == f.pk("dealerId", "Dealer"))))
    if f.has("belowReorderPoint"):
        clause = inventory_service.below_reorder_point(lv)
        clauses.append(clause if f.given["belowReorderPoint"] else sa.not_(clause))
    base = inventory_service.level_select(c.p).where(*clauses)
    return c.paged("Query", "StockLevel", sel, base, inventory_service.LEVEL_ORDER)
