"""Query and Mutation fields of the order centre: read the input, call the service, map errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ymt_graph.errors import DomainError
from ymt_graph.graph.connection import Connection, check_first, page_connection, selects
from ymt_graph.graph.context import Context, Info
from ymt_graph.graph.errors import bad_input
from ymt_graph.graph.ids import decode_gid
from ymt_graph.graph.inputs import enum_value, given, pk_filter
from ymt_graph.graph.mutation import attempt, parse_pk
from ymt_graph.graph.node import from_row, register_loaded_node
from ymt_graph.orders import service
from ymt_graph.orders.loaders import OrdersLoaders
from ymt_graph.orders.types import (
    Cart,
    CartLineInput,
    CartLinesAddInput,
    CartLinesRemoveInput,
    CartLinesUpdateInput,
    CartPayload,
    Order,
    OrderDecisionInput,
    OrderFilter,
    OrderPayload,
    OrderSubmitInput,
    OrdersUserError,
)

register_loaded_node("Order", OrdersLoaders, "order", from_row(Order.from_row))


def parse_buyer(gid: str | None) -> service.BuyerRef:
    """A buyer id is a Dealer's or a Store's global id; anything else matches no buyer."""
    decoded = decode_gid(gid) if gid else None
    if decoded is not None and decoded[0] == "Store":
        return service.BuyerRef.store(decoded[1])
    if decoded is not None and decoded[0] == "Dealer":
        return service.BuyerRef.dealer(decoded[1])
    return service.BuyerRef.dealer(0)


def _lines(lines: list[CartLineInput]) -> list[service.LineInput]:
    return [service.LineInput(parse_pk(ln.sku_id, "Sku"), ln.quantity) for ln in lines]


async def _cart_change(
    ctx: Context, buyer: service.BuyerRef, work: Callable[[AsyncConnection], Awaitable[service.BuyerRef]]
) -> CartPayload:
    done = await attempt(ctx, work)
    if done.error:
        return CartPayload(user_errors=done.user_errors(OrdersUserError))
    return CartPayload(cart=Cart.of(await service.review(ctx.db, ctx.require_principal(), buyer)))


async def _reload(ctx: Context, order_id: int) -> Order | None:
    row = await ctx.loaders(OrdersLoaders).order.load(order_id)
    return Order.from_row(row) if row else None


async def _order_change(ctx: Context, work: Callable[[AsyncConnection], Awaitable[int]]) -> OrderPayload:
    done = await attempt(ctx, work)
    if done.error:
        return OrderPayload(user_errors=done.user_errors(OrdersUserError))
    return OrderPayload(order=await _reload(ctx, done.value))


@strawberry.type
class OrdersQuery:
    @strawberry.field(description="A buyer's cart with server-resolved prices, totals and problems (the review "
                      "step); null unless you order for that buyer.")
    async def cart(self, info: Info, buyer_id: strawberry.ID) -> Cart | None:
        ctx = info.context
        p = ctx.require_principal()
        buyer = parse_buyer(buyer_id)
        try:
            return Cart.of(await service.review(ctx.db, p, buyer))
        except DomainError:
            return None  # not a buyer you order for: absent, like any row you may not see

    @strawberry.field(description="Orders you see (as buyer, seller, HQ or area sales), newest first.")
    async def orders(
        self, info: Info, filter: OrderFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Order]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or OrderFilter()
        sf = service.OrderFilter(
            status=enum_value(f.status),
            buyer=parse_buyer(f.buyer_id) if given(f.buyer_id) is not None else None,
            seller_id=pk_filter(f.seller_id, "Dealer"),
            since=given(f.from_),
            until=given(f.to),
            search=given(f.search),
        )
        pg = await service.orders_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.ORDER_ORDER, Order.from_row)

    @strawberry.field(description="An order by id or number; null if you do not see it.")
    async def order(self, info: Info, id: strawberry.ID | None = None, number: str | None = None) -> Order | None:
        ctx = info.context
        p = ctx.require_principal()
        if (id is None) == (number is None):
            raise bad_input("Give exactly one of `id` or `number`.")
        if id is not None:
            return await _reload(ctx, parse_pk(id, "Order"))
        row = await service.order_by_number(ctx.db, p, number or "")
        return Order.from_row(row) if row else None


@strawberry.type
class OrdersMutation:
    @strawberry.mutation(description="Add SKUs to a buyer's cart (quantities add up).")
    async def cart_lines_add(self, info: Info, input: CartLinesAddInput) -> CartPayload:
        ctx = info.context
        p = ctx.require_principal()
        buyer, lines = parse_buyer(input.buyer_id), _lines(input.lines)
        return await _cart_change(ctx, buyer, lambda conn: service.add_lines(conn, p, buyer, lines))

    @strawberry.mutation(description="Set quantities of lines in a buyer's cart (0 removes a line).")
    async def cart_lines_update(self, info: Info, input: CartLinesUpdateInput) -> CartPayload:
        ctx = info.context
        p = ctx.require_principal()
        buyer, lines = parse_buyer(input.buyer_id), _lines(input.lines)
        return await _cart_change(ctx, buyer, lambda conn: service.update_lines(conn, p, buyer, lines))

    @strawberry.mutation(description="Remove SKUs from a buyer's cart.")
    async def cart_lines_remove(self, info: Info, input: CartLinesRemoveInput) -> CartPayload:
        ctx = info.context
        p = ctx.require_principal()
        buyer = parse_buyer(input.buyer_id)
        sku_ids = [parse_pk(s, "Sku") for s in input.sku_ids]
        return await _cart_change(ctx, buyer, lambda conn: service.remove_lines(conn, p, buyer, sku_ids))

    @strawberry.mutation(description="Turn the buyer's cart into an order in one transaction: prices re-resolved, "
                         "checks re-run, stock reserved at the seller's warehouse, credit checked (APPROVED within "
                         "the credit limit, else PENDING_APPROVAL). The same idempotency key returns the same order.")
    async def order_submit(self, info: Info, input: OrderSubmitInput) -> OrderPayload:
        ctx = info.context
        p = ctx.require_principal()
        req = service.SubmitRequest(parse_buyer(input.buyer_id), input.idempotency_key, given(input.note))
        try:
            return await _order_change(ctx, lambda conn: service.submit(conn, p, req))
        except IntegrityError as exc:
            # A racing request with the same key committed first: answer with its order.
            if "idempotency_key" not in str(exc.orig):
                raise
            found = await service.order_id_by_key(ctx.db, p.tenant_id, req.buyer, req.idempotency_key.strip())
            if found is None:
                raise
            return OrderPayload(order=await _reload(ctx, found))

    @strawberry.mutation(description="Approve an order waiting for approval.")
    async def order_approve(self, info: Info, input: OrderDecisionInput) -> OrderPayload:
        ctx = info.context
        p = ctx.require_principal()
        oid, reason = parse_pk(input.order_id, "Order"), given(input.reason)
        return await _order_change(ctx, lambda conn: service.approve(conn, p, oid, reason))

    @strawberry.mutation(description="Reject an order waiting for approval; its stock is released.")
    async def order_reject(self, info: Info, input: OrderDecisionInput) -> OrderPayload:
        ctx = info.context
        p = ctx.require_principal()
        oid, reason = parse_pk(input.order_id, "Order"), given(input.reason)
        return await _order_change(ctx, lambda conn: service.reject(conn, p, oid, reason))

    @strawberry.mutation(description="The buyer cancels its order before shipment; its stock is released.")
    async def order_cancel(self, info: Info, input: OrderDecisionInput) -> OrderPayload:
        ctx = info.context
        p = ctx.require_principal()
        oid, reason = parse_pk(input.order_id, "Order"), given(input.reason)
        return await _order_change(ctx, lambda conn: service.cancel(conn, p, oid, reason))
