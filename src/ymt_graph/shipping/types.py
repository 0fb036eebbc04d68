"""GraphQL types of the shipping centre."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.engine import Row

from ymt_graph.aftersales.types import Claim, load_order
from ymt_graph.graph.context import Info
from ymt_graph.graph.errors import UserError
from ymt_graph.graph.ids import encode_gid
from ymt_graph.graph.node import Node
from ymt_graph.inventory.types import load_sku, load_user, load_warehouse
from ymt_graph.org.types import User, Warehouse
from ymt_graph.shipping import service
from ymt_graph.shipping.loaders import ShippingLoaders

if TYPE_CHECKING:
    from ymt_graph.catalog.types import Sku
    from ymt_graph.orders.types import Order

LazySku = Annotated["Sku", strawberry.lazy("ymt_graph.catalog.types")]
LazyOrder = Annotated["Order", strawberry.lazy("ymt_graph.orders.types")]

ShippingErrorCodeEnum = strawberry.enum(service.ShippingErrorCode, name="ShippingErrorCode")
ShipmentStatusEnum = strawberry.enum(service.ShipmentStatus, name="ShipmentStatus",
                                     description="Where a shipment is: CREATED when it leaves the seller's "
                                     "warehouse, then as its last tracking event says.")
ShipmentEventKindEnum = strawberry.enum(service.EventKind, name="ShipmentEventKind")


def shipping(info: Info) -> ShippingLoaders:
    return info.context.loaders(ShippingLoaders)


def _line_gid(pk: int) -> strawberry.ID:
    return strawberry.ID(encode_gid("OrderLine", pk))


@strawberry.type(description="Units of one order line in a shipment.")
class ShipmentLine:
    order_line_id: strawberry.ID
    quantity: int
    serials: list[str] = strawberry.field(description="Serials of the units (serial-tracked SKUs; empty when the "
                                          "units left from stock held without serials).")
    sku_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any]) -> ShipmentLine:
        return cls(order_line_id=_line_gid(row.order_line_id), quantity=row.quantity, serials=list(row.serials),
                   sku_pk=row.sku_id)

    @strawberry.field
    async def sku(self, info: Info) -> LazySku | None:
        return await load_sku(info, self.sku_pk)


@strawberry.type(description="A tracking step of a shipment.")
class ShipmentEvent:
    kind: ShipmentEventKindEnum  # type: ignore[valid-type]
    location: str | None
    note: str | None
    at: datetime = strawberry.field(description="When it happened (the carrier's scan).")
    recorded_at: datetime
    via_api_key: bool
    actor_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> ShipmentEvent:
        return cls(kind=service.EventKind(row.kind), location=row.location, note=row.note, at=row.occurred_at,
                   recorded_at=row.created_at, via_api_key=row.actor_api_key_id is not None,
                   actor_pk=row.actor_user_id)

    @strawberry.field(description="Who recorded it; null for keys and people you may not see.")
    async def actor(self, info: Info) -> User | None:
        return await load_user(info, self.actor_pk)


@strawberry.type(description="Goods of one order on their way from the seller's warehouse to the buyer's.")
class Shipment(Node):
    id: strawberry.ID
    number: str = strawberry.field(description="The order's number and the shipment's place in it.")
    status: ShipmentStatusEnum  # type: ignore[valid-type]
    carrier: str
    tracking_number: str | None
    estimated_arrival: datetime | None
    arrival_notice_at: datetime | None = strawberry.field(description="When the buyer was told it is about to "
                                                          "arrive (`YMT_ARRIVAL_NOTICE_HOURS` ahead).")
    shipped_at: datetime = strawberry.field(description="When the goods left the seller's warehouse.")
    delivered_at: datetime | None
    note: str | None
    pk: strawberry.Private[int]
    order_pk: strawberry.Private[int]
    from_pk: strawberry.Private[int]
    to_pk: strawberry.Private[int]
    created_by_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Shipment:
        return cls(
            id=strawberry.ID(encode_gid("Shipment", row.id)),
            number=row.number,
            status=service.ShipmentStatus(row.status),
            carrier=row.carrier,
            tracking_number=row.tracking_number,
            estimated_arrival=row.estimated_arrival,
            arrival_notice_at=row.arrival_notice_at,
            shipped_at=row.created_at,
            delivered_at=row.delivered_at,
            note=row.note,
            pk=row.id,
            order_pk=row.order_id,
            from_pk=row.from_warehouse_id,
            to_pk=row.to_warehouse_id,
            created_by_pk=row.created_by_user_id,
        )

    @strawberry.field
    async def order(self, info: Info) -> LazyOrder | None:
        return await load_order(info, self.order_pk)

    @strawberry.field
    async def lines(self, info: Info) -> list[ShipmentLine]:
        return [ShipmentLine.from_row(r) for r in await shipping(info).lines.load(self.pk)]

    @strawberry.field(description="Tracking steps, oldest first.")
    async def events(self, info: Info) -> list[ShipmentEvent]:
        return [ShipmentEvent.from_row(r) for r in await shipping(info).events.load(self.pk)]

    @strawberry.field(description="Null where you may not see the seller's warehouse.")
    async def from_warehouse(self, info: Info) -> Warehouse | None:
        return await load_warehouse(info, self.from_pk)

    @strawberry.field(description="The buyer's warehouse.")
    async def to_warehouse(self, info: Info) -> Warehouse | None:
        return await load_warehouse(info, self.to_pk)

    @strawberry.field
    async def shipped_by(self, info: Info) -> User | None:
        return await load_user(info, self.created_by_pk)


async def shipments_of_order(info: Info, order_pk: int) -> list[Shipment]:
    """Shipments of an order already read through the orders centre's scope, oldest first: one
    statement for all orders of a page (``Order.shipments``)."""
    return [Shipment.from_row(r) for r in await shipping(info).by_order.load(order_pk)]


@strawberry.type(description="What the buyer confirmed for one order line.")
class ReceiptLine:
    order_line_id: strawberry.ID
    shipped: int
    received: int
    short: int
    damaged: int
    serials: list[str] = strawberry.field(description="Serials of the units received.")
    damaged_serials: list[str]
    note: str | None
    sku_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any]) -> ReceiptLine:
        return cls(order_line_id=_line_gid(row.order_line_id), shipped=row.shipped, received=row.received,
                   short=row.short, damaged=row.damaged, serials=list(row.serials),
                   damaged_serials=list(row.damaged_serials), note=row.note, sku_pk=row.sku_id)

    @strawberry.field
    async def sku(self, info: Info) -> LazySku | None:
        return await load_sku(info, self.sku_pk)


@strawberry.type(description="The buyer's confirmation of what arrived for an order.")
class Receipt:
    received_at: datetime
    note: str | None
    pk: strawberry.Private[int]
    warehouse_pk: strawberry.Private[int]
    received_by_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Receipt:
        return cls(received_at=row.created_at, note=row.note, pk=row.id, warehouse_pk=row.warehouse_id,
                   received_by_pk=row.received_by_user_id)

    @strawberry.field
    async def lines(self, info: Info) -> list[ReceiptLine]:
        return [ReceiptLine.from_row(r) for r in await shipping(info).receipt_lines.load(self.pk)]

    @strawberry.field(description="Where the received goods went (the buyer's warehouse).")
    async def warehouse(self, info: Info) -> Warehouse | None:
        return await load_warehouse(info, self.warehouse_pk)

    @strawberry.field
    async def received_by(self, info: Info) -> User | None:
        return await load_user(info, self.received_by_pk)


async def receipt_of_order(info: Info, order_pk: int) -> Receipt | None:
    """The receipt of an order already read through the orders centre's scope (batched)."""
    row = await shipping(info).receipt.load(order_pk)
    return Receipt.from_row(row) if row else None


# ---- inputs and payloads --------------------------------------------------------------------


@strawberry.input(description="Units of one order line to ship: name the line by `orderLineId` or by `skuId`.")
class ShipmentLineInput:
    order_line_id: strawberry.ID | None = None
    sku_id: strawberry.ID | None = None
    quantity: int
    serials: list[str] | None = strawberry.field(
        default=None, description="Serial-tracked SKUs: the serial of every unit (none only while the warehouse "
        "still holds units without serials).")


@strawberry.input
class ShipmentCreateInput:
    order_id: strawberry.ID
    carrier: str
    tracking_number: str | None = None
    estimated_arrival: datetime | None = None
    lines: list[ShipmentLineInput]
    note: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="The client's key for this shipment: sent again, it returns the same shipment.")


@strawberry.input
class ShipmentEventAddInput:
    shipment_id: strawberry.ID
    kind: ShipmentEventKindEnum  # type: ignore[valid-type]
    at: datetime | None = strawberry.field(default=None, description="When it happened; default now.")
    location: str | None = strawberry.field(default=None, description="Required for IN_TRANSIT.")
    note: str | None = None
    estimated_arrival: datetime | None = strawberry.field(default=None, description="A new estimate, if the "
                                                          "carrier gave one.")


@strawberry.input(description="What arrived of one order line: received + short + damaged = shipped.")
class OrderReceiveLineInput:
    order_line_id: strawberry.ID | None = None
    sku_id: strawberry.ID | None = None
    received: int
    short: int = 0
    damaged: int = 0
    serials: list[str] | None = strawberry.field(
        default=None, description="Serials of the units received (every unit that shipped by serial).")
    damaged_serials: list[str] | None = strawberry.field(default=None, description="Serials of damaged units.")
    note: str | None = None


@strawberry.input
class OrderReceiveInput:
    order_id: strawberry.ID
    lines: list[OrderReceiveLineInput] = strawberry.field(description="Every line of the order.")
    note: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="The client's key for this receipt: sent again, it returns the same answer.")


@strawberry.input
class ShipmentFilter:
    order_id: strawberry.ID | None = strawberry.UNSET
    buyer_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET,
                                                      description="A buying dealer or store.")
    status: ShipmentStatusEnum | None = strawberry.UNSET  # type: ignore[valid-type]
    tracking_number: str | None = strawberry.UNSET


@strawberry.type
class ShippingUserError(UserError):
    field: list[str] | None
    message: str
    code: ShippingErrorCodeEnum  # type: ignore[valid-type]


@strawberry.type
class ShipmentPayload:
    shipment: Shipment | None = None
    user_errors: list[ShippingUserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrderReceivePayload:
    order: LazyOrder | None = None
    receipt: Receipt | None = None
    claims: list[Claim] = strawberry.field(default_factory=list,
                                           description="Claims opened for units short or damaged.")
    user_errors: list[ShippingUserError] = strawberry.field(default_factory=list)
