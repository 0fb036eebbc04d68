"""Query fields of the after-sales centre (claims are opened by other centres for now)."""

from __future__ import annotations

import strawberry

from ymt_graph.aftersales import service
from ymt_graph.aftersales.loaders import AftersalesLoaders
from ymt_graph.aftersales.types import Claim, ClaimFilter
from ymt_graph.graph.connection import Connection, check_first, page_connection, selects
from ymt_graph.graph.context import Info
from ymt_graph.graph.inputs import enum_value, pk_filter
from ymt_graph.graph.node import from_row, register_loaded_node

register_loaded_node("Claim", AftersalesLoaders, "claim", from_row(Claim.from_row))


@strawberry.type
class AftersalesQuery:
    @strawberry.field(description="Claims of the orders you see, newest first.")
    async def claims(
        self, info: Info, filter: ClaimFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Claim]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or ClaimFilter()
        sf = service.ClaimFilter(order_id=pk_filter(f.order_id, "Order"), status=enum_value(f.status),
                                 kind=enum_value(f.kind))
        pg = await service.claims_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.CLAIM_ORDER, Claim.from_row)
