"""Query and Mutation fields of the catalog."""

from __future__ import annotations

from typing import Any, cast

import strawberry

from ymt_graph.catalog import service
from ymt_graph.catalog.loaders import CatalogLoaders
from ymt_graph.catalog.types import (
    CatalogUserError,
    Category,
    ProductModel,
    Sku,
    SkuCreateInput,
    SkuCreatePayload,
    SkuFilter,
    SkuUpdateInput,
    SkuUpdatePayload,
)
from ymt_graph.graph.connection import Connection, build_connection, check_first, page_connection, selects
from ymt_graph.graph.context import Context, Info
from ymt_graph.graph.inputs import enum_value, exactly_one, given, pk_filter
from ymt_graph.graph.mutation import attempt, parse_pk
from ymt_graph.graph.node import from_row, register_loaded_node
from ymt_graph.graph.prefetch import prefetch

register_loaded_node("Sku", CatalogLoaders, "sku", from_row(Sku.from_row))
register_loaded_node("Category", CatalogLoaders, "category", from_row(Category.from_row))
register_loaded_node("ProductModel", CatalogLoaders, "model", from_row(ProductModel.from_row))


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="SKUs, ordered by code. Filter by search, category, status or orderability.")
    async def skus(
        self, info: Info, filter: SkuFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Sku]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or SkuFilter()
        sf = service.SkuFilter(
            search=given(f.search),
            category_id=pk_filter(f.category_id, "Category"),
            status=enum_value(f.status),
            orderable_by=pk_filter(f.orderable_by, "Dealer"),
        )
        want_total = selects(info, "totalCount")
        pg = await service.skus_page(ctx.db, p, sf, n, after, want_total)
        if pg is None:  # orderableBy names a dealer you cannot see
            return build_connection([], n, service.SKU_ORDER, Sku.from_row,
                                    total_count=0 if want_total else None, has_previous=False)
        conn = page_connection(pg, n, after, service.SKU_ORDER, Sku.builder())
        await prefetch(info, "Sku", [e.node for e in conn.edges], ("edges", "node"))
        return conn

    @strawberry.field(description="One SKU by global id or code.")
    async def sku(self, info: Info, id: strawberry.ID | None = None, code: str | None = None) -> Sku | None:
        ctx = info.context
        p = ctx.require_principal()
        exactly_one(id, code)
        if id is not None:
            row = await ctx.loaders(CatalogLoaders).sku.load(parse_pk(id, "Sku"))
        else:
            row = (await service.skus_by_codes(ctx.db, p, [code or ""])).get(code or "")
        return Sku.from_row(row) if row else None

    @strawberry.field(description="Product categories, ordered by code.")
    async def categories(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Category]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        pg = await service.categories_page(ctx.db, p, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.CATEGORY_ORDER, Category.from_row)


async def _reload_sku(ctx: Context, sku_id: int) -> Sku | None:
    row = (await service.skus_by_ids(ctx.db, ctx.require_principal(), [sku_id])).get(sku_id)
    return Sku.from_row(row) if row else None


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(description="Add a SKU (HQ only). New SKUs start as DRAFT unless a status is given.")
    async def sku_create(self, info: Info, input: SkuCreateInput) -> SkuCreatePayload:
        ctx = info.context
        p = ctx.require_principal()
        data = service.SkuCreate(
            code=input.code,
            name=input.name,
            model_id=parse_pk(input.model_id, "ProductModel"),
            unit=input.unit,
            moq=input.moq,
            order_multiple=input.order_multiple,
            serial_tracked=input.serial_tracked,
            status=input.status.value,
            launch_date=input.launch_date,
            attributes=cast(dict[str, Any], input.attributes) if input.attributes is not None else {},
        )

        done = await attempt(ctx, lambda conn: service.create_sku(conn, p, data))
        if done.error:
            return SkuCreatePayload(user_errors=done.user_errors(CatalogUserError))
        return SkuCreatePayload(sku=await _reload_sku(ctx, done.value))

    @strawberry.mutation(description="Change a SKU (HQ only): name, unit, MOQ, multiple, status, attributes.")
    async def sku_update(self, info: Info, input: SkuUpdateInput) -> SkuUpdatePayload:
        ctx = info.context
        p = ctx.require_principal()
        sku_id = parse_pk(input.id, "Sku")
        changes = service.SkuChanges(
            name=given(input.name),
            unit=given(input.unit),
            moq=given(input.moq),
            order_multiple=given(input.order_multiple),
            serial_tracked=given(input.serial_tracked),
            status=enum_value(input.status),
            launch_date=given(input.launch_date),
            attributes=given(input.attributes),
        )

        done = await attempt(ctx, lambda conn: service.update_sku(conn, p, sku_id, changes))
        if done.error:
            return SkuUpdatePayload(user_errors=done.user_errors(CatalogUserError))
        return SkuUpdatePayload(sku=await _reload_sku(ctx, sku_id))
