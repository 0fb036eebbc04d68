"""Query and Mutation fields of the price centre: read inputs, call the service, map errors."""

from __future__ import annotations

from typing import Any

import strawberry

from ymt_graph.graph.connection import Connection, check_first, page_connection, selects
from ymt_graph.graph.context import Context, Info
from ymt_graph.graph.inputs import enum_value, exactly_one, given, pk_filter
from ymt_graph.graph.mutation import Outcome, attempt, parse_pk
from ymt_graph.graph.node import from_row, register_loaded_node
from ymt_graph.graph.scalars import Money
from ymt_graph.pricing import service
from ymt_graph.pricing.loaders import PricingLoaders
from ymt_graph.pricing.types import (
    GuideRetailPriceSetInput,
    GuideRetailPriceSetPayload,
    PriceLimit,
    PriceLimitSetInput,
    PriceLimitSetPayload,
    PriceList,
    PriceListCreateInput,
    PriceListCreatePayload,
    PriceListFilter,
    PriceListLine,
    PriceListLinesSetInput,
    PriceListLinesSetPayload,
    PriceListUpdateInput,
    PriceListUpdatePayload,
    PriceViolation,
    PriceViolationFilter,
    PricingUserError,
)

register_loaded_node("PriceList", PricingLoaders, "price_list", from_row(PriceList.from_row))
register_loaded_node(
    "PriceListLine", PricingLoaders, "line", lambda row, ctx: PriceListLine.from_row(row, ctx.settings.currency)
)
register_loaded_node(
    "PriceViolation", PricingLoaders, "violation", lambda row, ctx: PriceViolation.from_row(row, ctx.settings.currency)
)


def _user_errors(done: Outcome[Any]) -> list[PricingUserError]:
    """Every refusal of the call (an upload reports each bad line)."""
    if isinstance(done.error, service.PricingErrors):
        return [PricingUserError(field=e.field, message=e.message, code=e.code) for e in done.error.errors]
    return done.user_errors(PricingUserError)


async def _reload_list(ctx: Context, list_id: int) -> PriceList | None:
    row = (await service.price_lists_by_ids(ctx.db, ctx.require_principal(), [list_id])).get(list_id)
    return PriceList.from_row(row) if row else None


@strawberry.type
class PricingQuery:
    @strawberry.field(
        description="Price lists you may see, ordered by code: HQ and analysts all; a dealer the lists offered to "
        "it and those published in its subtree; a store its dealer's DOWNSTREAM lists."
    )
    async def price_lists(
        self, info: Info, filter: PriceListFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[PriceList]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or PriceListFilter()
        sf = service.PriceListFilter(
            kind=enum_value(f.kind),
            status=enum_value(f.status),
            search=given(f.search),
            dealer_id=pk_filter(f.dealer_id, "Dealer"),
            offered_to=pk_filter(f.offered_to, "Dealer"),
        )
        pg = await service.price_lists_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.PRICE_LIST_ORDER, PriceList.from_row)

    @strawberry.field(description="One price list by global id or code; null if it does not exist for you.")
    async def price_list(
        self, info: Info, id: strawberry.ID | None = None, code: str | None = None
    ) -> PriceList | None:
        ctx = info.context
        p = ctx.require_principal()
        exactly_one(id, code)
        if id is not None:
            row = await ctx.loaders(PricingLoaders).price_list.load(parse_pk(id, "PriceList"))
        else:
            row = (await service.price_lists_by_codes(ctx.db, p, [code or ""])).get(code or "")
        return PriceList.from_row(row) if row else None

    @strawberry.field(
        description="Reported sales outside their price band (乱价), in the order recorded: HQ and analysts see "
        "all, HQ sales their areas', a dealer its own subtree's."
    )
    async def price_violations(
        self,
        info: Info,
        filter: PriceViolationFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PriceViolation]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or PriceViolationFilter()
        sf = service.ViolationFilter(
            dealer_id=pk_filter(f.dealer_id, "Dealer"),
            sku_id=pk_filter(f.sku_id, "Sku"),
            sold_from=given(f.from_),
            sold_to=given(f.to),
        )
        pg = await service.violations_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        currency = ctx.settings.currency
        return page_connection(pg, n, after, service.VIOLATION_ORDER, lambda r: PriceViolation.from_row(r, currency))


@strawberry.type
class PricingMutation:
    @strawberry.mutation(
        description="Create a price list: HQ_ADMIN for HQ's lists; a dealer admin for DOWNSTREAM lists of its own "
        "dealer. It starts ACTIVE and empty; set its prices with priceListLinesSet."
    )
    async def price_list_create(self, info: Info, input: PriceListCreateInput) -> PriceListCreatePayload:
        ctx = info.context
        p = ctx.require_principal()
        data = service.PriceListCreate(
            code=input.code,
            name=input.name,
            kind=enum_value(input.kind),
            priority=input.priority,
            valid_from=input.valid_from,
            valid_to=input.valid_to,
            dealer_level=input.dealer_level,
            dealer_tier=enum_value(input.dealer_tier),
            region_code=input.region_code,
            dealer_id=parse_pk(input.dealer_id, "Dealer") if input.dealer_id is not None else None,
            owner_dealer_id=parse_pk(input.owner_dealer_id, "Dealer") if input.owner_dealer_id is not None else None,
        )
        done = await attempt(ctx, lambda conn: service.create_price_list(conn, p, data))
        if done.error:
            return PriceListCreatePayload(user_errors=_user_errors(done))
        return PriceListCreatePayload(price_list=await _reload_list(ctx, done.value))

    @strawberry.mutation(description="Rename, re-prioritise, re-date, withdraw (INACTIVE) or restore a price list.")
    async def price_list_update(self, info: Info, input: PriceListUpdateInput) -> PriceListUpdatePayload:
        ctx = info.context
        p = ctx.require_principal()
        list_id = parse_pk(input.id, "PriceList")
        changes = service.PriceListChanges(
            name=given(input.name),
            priority=given(input.priority),
            status=enum_value(input.status),
            valid_from=given(input.valid_from),
            valid_to=given(input.valid_to),
        )
        done = await attempt(ctx, lambda conn: service.update_price_list(conn, p, list_id, changes))
        if done.error:
            return PriceListUpdatePayload(user_errors=_user_errors(done))
        return PriceListUpdatePayload(price_list=await _reload_list(ctx, list_id))

    @strawberry.mutation(
        description="Set prices on a list. Each line's window overrides what the list said for its SKU and break in "
        "that window, so a change can be dated in the future. DOWNSTREAM prices must stay inside the price limit "
        "of the owner's region. All lines or none; every change is audited."
    )
    async def price_list_lines_set(self, info: Info, input: PriceListLinesSetInput) -> PriceListLinesSetPayload:
        ctx = info.context
        p = ctx.require_principal()
        list_id = parse_pk(input.price_list_id, "PriceList")
        lines = [
            service.LineInput(
                sku_id=parse_pk(line.sku_id, "Sku"),
                min_quantity=line.min_quantity,
                amount=line.amount,
                valid_from=line.valid_from,
                valid_to=line.valid_to,
            )
            for line in input.lines
        ]
        done = await attempt(ctx, lambda conn: service.set_price_list_lines(conn, p, list_id, lines, input.replace))
        if done.error:
            return PriceListLinesSetPayload(user_errors=_user_errors(done))
        return PriceListLinesSetPayload(price_list=await _reload_list(ctx, list_id))

    @strawberry.mutation(
        description="Set a SKU's price band (HQ_ADMIN), nationally or for a region and everything below it; no floor "
        "and no ceiling removes the band. Audited."
    )
    async def price_limit_set(self, info: Info, input: PriceLimitSetInput) -> PriceLimitSetPayload:
        ctx = info.context
        p = ctx.require_principal()
        data = service.PriceLimitInput(
            sku_id=parse_pk(input.sku_id, "Sku"), region_code=input.region_code, floor=input.floor,
            ceiling=input.ceiling,
        )
        done = await attempt(ctx, lambda conn: service.set_price_limit(conn, p, data))
        if done.error:
            return PriceLimitSetPayload(user_errors=_user_errors(done))
        row = (await service.price_limits_of(ctx.db, p, [data.sku_id], data.region_code)).get(data.sku_id)
        return PriceLimitSetPayload(price_limit=PriceLimit.from_row(row, ctx.settings.currency) if row else None)

    @strawberry.mutation(description="Set a SKU's national consumer price (HQ_ADMIN). Audited.")
    async def guide_retail_price_set(self, info: Info, input: GuideRetailPriceSetInput) -> GuideRetailPriceSetPayload:
        ctx = info.context
        p = ctx.require_principal()
        sku_id = parse_pk(input.sku_id, "Sku")
        done = await attempt(ctx, lambda conn: service.set_guide_retail_price(conn, p, sku_id, input.amount))
        if done.error:
            return GuideRetailPriceSetPayload(user_errors=_user_errors(done))
        return GuideRetailPriceSetPayload(guide_retail_price=Money.of(done.value, ctx.settings.currency))
