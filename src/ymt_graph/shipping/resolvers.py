"""Query and Mutation fields of the shipping centre: read the input, call the service, map errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from ymt_graph.aftersales.types import claims_of_order, load_order
from ymt_graph.graph.connection import Connection, check_first, page_connection, selects
from ymt_graph.graph.context import Context, Info
from ymt_graph.graph.errors import bad_input
from ymt_graph.graph.inputs import enum_value, given, pk_filter
from ymt_graph.graph.mutation import attempt, parse_pk
from ymt_graph.graph.node import from_row, register_loaded_node
from ymt_graph.orders.resolvers import parse_buyer
from ymt_graph.shipping import service
from ymt_graph.shipping.loaders import ShippingLoaders
from ymt_graph.shipping.types import (
    OrderReceiveInput,
    OrderReceivePayload,
    Shipment,
    ShipmentCreateInput,
    ShipmentEventAddInput,
    ShipmentFilter,
    ShipmentPayload,
    ShippingUserError,
    receipt_of_order,
)

register_loaded_node("Shipment", ShippingLoaders, "shipment", from_row(Shipment.from_row))


def _optional_pk(gid: strawberry.ID | None, type_name: str) -> int | None:
    return parse_pk(gid, type_name) if gid is not None else None


async def _reload(ctx: Context, shipment_id: int) -> Shipment | None:
    row = await ctx.loaders(ShippingLoaders).shipment.load(shipment_id)
    return Shipment.from_row(row) if row else None


async def _shipment_change(ctx: Context, work: Callable[[AsyncConnection], Awaitable[int]]) -> ShipmentPayload:
    done = await attempt(ctx, work)
    if done.error:
        return ShipmentPayload(user_errors=done.user_errors(ShippingUserError))
    return ShipmentPayload(shipment=await _reload(ctx, done.value))


@strawberry.type
class ShippingQuery:
    @strawberry.field(description="Shipments of the orders you see, newest first.")
    async def shipments(
        self, info: Info, filter: ShipmentFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Shipment]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or ShipmentFilter()
        sf = service.ShipmentFilter(
            order_id=pk_filter(f.order_id, "Order"),
            buyer=parse_buyer(f.buyer_id) if given(f.buyer_id) is not None else None,
            status=enum_value(f.status),
            tracking_number=given(f.tracking_number),
        )
        pg = await service.shipments_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.SHIPMENT_ORDER, Shipment.from_row)

    @strawberry.field(description="A shipment by id or number; null if you do not see its order.")
    async def shipment(
        self, info: Info, id: strawberry.ID | None = None, number: str | None = None
    ) -> Shipment | None:
        ctx = info.context
        p = ctx.require_principal()
        if (id is None) == (number is None):
            raise bad_input("Give exactly one of `id` or `number`.")
        if id is not None:
            return await _reload(ctx, parse_pk(id, "Shipment"))
        row = await service.shipment_by_number(ctx.db, p, number or "")
        return Shipment.from_row(row) if row else None


@strawberry.type
class ShippingMutation:
    @strawberry.mutation(description="The seller ships lines of an APPROVED or PARTIALLY_SHIPPED order: the reserved "
                         "stock leaves its warehouse and is inbound at the buyer's; the order becomes "
                         "PARTIALLY_SHIPPED or SHIPPED. The same idempotency key returns the same shipment.")
    async def shipment_create(self, info: Info, input: ShipmentCreateInput) -> ShipmentPayload:
        ctx = info.context
        p = ctx.require_principal()
        req = service.ShipmentRequest(
            order_id=parse_pk(input.order_id, "Order"),
            carrier=input.carrier,
            lines=tuple(
                service.ShipLine(_optional_pk(ln.order_line_id, "OrderLine"), _optional_pk(ln.sku_id, "Sku"),
                                 ln.quantity, tuple(ln.serials or ()))
                for ln in input.lines
            ),
            tracking_number=input.tracking_number,
            estimated_arrival=input.estimated_arrival,
            note=input.note,
            idempotency_key=input.idempotency_key,
        )
        return await _shipment_change(ctx, lambda conn: service.create_shipment(conn, p, req))

    @strawberry.mutation(description="Record a tracking step (PICKED, IN_TRANSIT with a location, "
                         "OUT_FOR_DELIVERY, DELIVERED). When every shipment of a fully shipped order is "
                         "delivered, the order is DELIVERED.")
    async def shipment_event_add(self, info: Info, input: ShipmentEventAddInput) -> ShipmentPayload:
        ctx = info.context
        p = ctx.require_principal()
        req = service.EventRequest(
            shipment_id=parse_pk(input.shipment_id, "Shipment"),
            kind=service.EventKind(enum_value(input.kind)),
            at=input.at,
            location=input.location,
            note=input.note,
            estimated_arrival=input.estimated_arrival,
        )
        return await _shipment_change(ctx, lambda conn: service.add_event(conn, p, req))

    @strawberry.mutation(description="The buyer confirms, once, what arrived per order line (received, short, "
                         "damaged) of a SHIPPED or DELIVERED order: received goods enter its warehouse, short or "
                         "damaged ones open a claim; the order becomes RECEIVED.")
    async def order_receive(self, info: Info, input: OrderReceiveInput) -> OrderReceivePayload:
        ctx = info.context
        p = ctx.require_principal()
        req = service.ReceiveRequest(
            order_id=parse_pk(input.order_id, "Order"),
            lines=tuple(
                service.ReceiveLine(
                    _optional_pk(ln.order_line_id, "OrderLine"), _optional_pk(ln.sku_id, "Sku"), ln.received,
                    ln.short, ln.damaged, tuple(ln.serials or ()), tuple(ln.damaged_serials or ()), ln.note,
                )
                for ln in input.lines
            ),
            note=input.note,
            idempotency_key=input.idempotency_key,
        )
        done = await attempt(ctx, lambda conn: service.receive(conn, p, req))
        if done.error:
            return OrderReceivePayload(user_errors=done.user_errors(ShippingUserError))
        order_id = done.value
        return OrderReceivePayload(
            order=await load_order(info, order_id),
            receipt=await receipt_of_order(info, order_id),
            claims=await claims_of_order(info, order_id),
        )
