"""GraphQL types of the after-sales centre."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.engine import Row

from ymt_graph.aftersales import service
from ymt_graph.aftersales.loaders import AftersalesLoaders
from ymt_graph.graph.context import Info
from ymt_graph.graph.ids import encode_gid
from ymt_graph.graph.node import Node
from ymt_graph.inventory.types import load_sku, load_user
from ymt_graph.orders.loaders import OrdersLoaders
from ymt_graph.org.types import User

if TYPE_CHECKING:
    from ymt_graph.catalog.types import Sku
    from ymt_graph.orders.types import Order

LazySku = Annotated["Sku", strawberry.lazy("ymt_graph.catalog.types")]
LazyOrder = Annotated["Order", strawberry.lazy("ymt_graph.orders.types")]

ClaimKindEnum = strawberry.enum(service.ClaimKind, name="ClaimKind", description=(
    "RECEIPT_DISCREPANCY: units short or damaged at receipt. RETURN, WARRANTY and REPAIR are opened "
    "by the after-sales mutations (to come)."))
ClaimStatusEnum = strawberry.enum(service.ClaimStatus, name="ClaimStatus")


async def load_order(info: Info, pk: int | None) -> Order | None:
    """An order through the orders centre's scoped loader (null if you do not see it)."""
    from ymt_graph.orders.types import Order  # orders.types may import this module

    if pk is None:
        return None
    row = await info.context.loaders(OrdersLoaders).order.load(pk)
    return Order.from_row(row) if row else None


@strawberry.type(description="A matter to settle about goods (after-sales). Receipt discrepancies stay "
                 "inbound at the buyer's warehouse until their claim is settled.")
class Claim(Node):
    id: strawberry.ID
    number: str
    kind: ClaimKindEnum  # type: ignore[valid-type]
    status: ClaimStatusEnum  # type: ignore[valid-type]
    quantity: int = strawberry.field(description="Units concerned (receipt discrepancy: short + damaged).")
    short_quantity: int
    damaged_quantity: int
    serials: list[str] = strawberry.field(description="Serials of the units concerned that are known (receipt "
                                          "discrepancy: the damaged units the buyer named).")
    missing_serials: list[str] = strawberry.field(description="Units shipped by serial that were neither received "
                                                  "nor named damaged.")
    order_line_id: strawberry.ID | None
    note: str | None
    created_at: datetime
    updated_at: datetime
    order_pk: strawberry.Private[int | None]
    sku_pk: strawberry.Private[int]
    created_by_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Claim:
        return cls(
            id=strawberry.ID(encode_gid("Claim", row.id)),
            number=row.number,
            kind=service.ClaimKind(row.kind),
            status=service.ClaimStatus(row.status),
            quantity=row.quantity,
            short_quantity=row.short_quantity,
            damaged_quantity=row.damaged_quantity,
            serials=list(row.serials),
            missing_serials=list((row.details or {}).get("missingSerials", [])),
            order_line_id=strawberry.ID(encode_gid("OrderLine", row.order_line_id)) if row.order_line_id else None,
            note=row.note,
            created_at=row.created_at,
            updated_at=row.updated_at,
            order_pk=row.order_id,
            sku_pk=row.sku_id,
            created_by_pk=row.created_by_user_id,
        )

    @strawberry.field
    async def order(self, info: Info) -> LazyOrder | None:
        return await load_order(info, self.order_pk)

    @strawberry.field
    async def sku(self, info: Info) -> LazySku | None:
        return await load_sku(info, self.sku_pk)

    @strawberry.field(description="Who opened it; null for keys and people you may not see.")
    async def created_by(self, info: Info) -> User | None:
        return await load_user(info, self.created_by_pk)


async def claims_of_order(info: Info, order_pk: int) -> list[Claim]:
    """Claims of an order already read through the orders centre's scope, oldest first: one
    statement for all orders of a page (``Order.claims``)."""
    rows = await info.context.loaders(AftersalesLoaders).by_order.load(order_pk)
    return [Claim.from_row(r) for r in rows]


@strawberry.input
class ClaimFilter:
    order_id: strawberry.ID | None = strawberry.UNSET
    status: ClaimStatusEnum | None = strawberry.UNSET  # type: ignore[valid-type]
    kind: ClaimKindEnum | None = strawberry.UNSET  # type: ignore[valid-type]
