"""GraphQL types of the order centre."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.engine import Row
from strawberry.scalars import JSON

from ymt_graph.aftersales.types import Claim, claims_of_order
from ymt_graph.graph.context import Info
from ymt_graph.graph.errors import UserError
from ymt_graph.graph.ids import encode_gid
from ymt_graph.graph.node import Node
from ymt_graph.graph.scalars import Money
from ymt_graph.inventory.types import load_sku, load_user, load_warehouse
from ymt_graph.orders import service
from ymt_graph.orders.loaders import OrdersLoaders
from ymt_graph.org.types import Dealer, Store, User, Warehouse, load_dealer, load_store
from ymt_graph.shipping.types import Receipt, Shipment, receipt_of_order, shipments_of_order

if TYPE_CHECKING:
    from ymt_graph.catalog.types import Sku

LazySku = Annotated["Sku", strawberry.lazy("ymt_graph.catalog.types")]

OrdersErrorCodeEnum = strawberry.enum(service.OrdersErrorCode, name="OrdersErrorCode")
OrderStatusEnum = strawberry.enum(service.OrderStatus, name="OrderStatus")
CartProblemCode = strawberry.enum(service.ProblemCode, name="CartProblemCode",
                                  description="Why a cart line cannot be ordered as it is.")


@strawberry.type(description="Something that keeps a cart line from being ordered as it is.")
class CartProblem:
    code: CartProblemCode  # type: ignore[valid-type]
    message: str


@strawberry.type(description="A cart line with its server-resolved price.")
class CartLine:
    quantity: int
    unit_price: Money | None = strawberry.field(description="Null when no price applies (see `problems`).")
    line_total: Money | None
    price_list_id: strawberry.ID | None = strawberry.field(description="The winning price list.")
    price_why: str | None = strawberry.field(description="Why this price: the winning list and break.")
    problems: list[CartProblem]
    sku_pk: strawberry.Private[int]

    @strawberry.field
    async def sku(self, info: Info) -> LazySku | None:
        return await load_sku(info, self.sku_pk)


@strawberry.type(description="A buyer's cart as it would be ordered now (the review step).")
class Cart:
    lines: list[CartLine]
    subtotal: Money
    rebate_proposal: Money | None = strawberry.field(
        description="The most rebate the buyer may apply to this cart. Always null for now: the rebate "
        "centre fills it, and `total` and the credit check will then use it."
    )
    total: Money
    has_problems: bool
    updated_at: datetime | None
    buyer: strawberry.Private[service.BuyerRef]

    @classmethod
    def of(cls, rv: service.Review) -> Cart:
        cur = rv.party.currency

        def money(amount: Any) -> Money | None:
            return Money.of(amount, cur) if amount is not None else None

        lines = [
            CartLine(
                quantity=ln.quantity,
                unit_price=money(ln.unit_price),
                line_total=money(ln.line_total),
                price_list_id=strawberry.ID(encode_gid("PriceList", ln.price_list_id)) if ln.price_list_id else None,
                price_why=ln.why,
                problems=[CartProblem(code=pr.code, message=pr.message) for pr in ln.problems],
                sku_pk=ln.sku_id,
            )
            for ln in rv.lines
        ]
        return cls(
            lines=lines, subtotal=Money.of(rv.subtotal, cur), rebate_proposal=money(rv.rebate_proposal),
            total=Money.of(rv.total, cur), has_problems=bool(rv.problems), updated_at=rv.updated_at,
            buyer=rv.party.ref,
        )

    @strawberry.field(name="buyer", description="The buying dealer; null when a store buys (see `buyerStore`).")
    async def buyer_dealer(self, info: Info) -> Dealer | None:
        is_dealer = self.buyer.kind is service.BuyerKind.DEALER
        return await load_dealer(info, self.buyer.id) if is_dealer else None

    @strawberry.field(description="The buying store, when a store buys from its dealer.")
    async def buyer_store(self, info: Info) -> Store | None:
        is_store = self.buyer.kind is service.BuyerKind.STORE
        return await load_store(info, self.buyer.id) if is_store else None


@strawberry.type(description="One line of an order: the price frozen at submit.")
class OrderLine:
    id: strawberry.ID
    quantity: int
    unit_price: Money
    line_total: Money
    price_list_id: strawberry.ID | None
    sku_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any], currency: str) -> OrderLine:
        return cls(
            id=strawberry.ID(encode_gid("OrderLine", row.id)),
            quantity=row.quantity,
            unit_price=Money.of(row.unit_price, currency),
            line_total=Money.of(row.line_total, currency),
            price_list_id=strawberry.ID(encode_gid("PriceList", row.price_list_id)) if row.price_list_id else None,
            sku_pk=row.sku_id,
        )

    @strawberry.field
    async def sku(self, info: Info) -> LazySku | None:
        return await load_sku(info, self.sku_pk)


@strawberry.type(description="One step of an order's timeline.")
class OrderEvent:
    kind: str = strawberry.field(description="What happened: SUBMITTED, APPROVED, REJECTED, CANCELLED, …")
    status: OrderStatusEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The order's status after the step, when the step changed it."
    )
    details: JSON
    at: datetime
    by_system: bool = strawberry.field(description="Done by the system (e.g. an automatic approval).")
    via_api_key: bool
    actor_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> OrderEvent:
        return cls(
            kind=row.kind,
            status=service.OrderStatus(row.status) if row.status else None,
            details=row.details,
            at=row.created_at,
            by_system=row.actor_user_id is None and row.actor_api_key_id is None,
            via_api_key=row.actor_api_key_id is not None,
            actor_pk=row.actor_user_id,
        )

    @strawberry.field(description="The person who did it; null for the system, keys and people you may not see.")
    async def actor(self, info: Info) -> User | None:
        return await load_user(info, self.actor_pk)


@strawberry.type(description="An order from a buyer to its seller: a dealer from HQ or its distributor, or a "
                 "store from its dealer.")
class Order(Node):
    id: strawberry.ID
    number: str
    status: OrderStatusEnum  # type: ignore[valid-type]
    subtotal: Money
    rebate_amount: Money
    total: Money
    note: str | None
    created_at: datetime
    updated_at: datetime
    seller_is_hq: bool
    buyer_pk: strawberry.Private[int | None]
    buyer_store_pk: strawberry.Private[int | None]
    buyer_warehouse_pk: strawberry.Private[int]
    seller_pk: strawberry.Private[int | None]
    warehouse_pk: strawberry.Private[int]
    submitted_by_pk: strawberry.Private[int | None]
    currency: strawberry.Private[str]
    order_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Order:
        cur = row.currency
        return cls(
            id=strawberry.ID(encode_gid("Order", row.id)),
            number=row.number,
            status=service.OrderStatus(row.status),
            subtotal=Money.of(row.subtotal, cur),
            rebate_amount=Money.of(row.rebate_amount, cur),
            total=Money.of(row.total, cur),
            note=row.note,
            created_at=row.created_at,
            updated_at=row.updated_at,
            seller_is_hq=row.seller_dealer_id is None,
            buyer_pk=row.buyer_dealer_id,
            buyer_store_pk=row.buyer_store_id,
            buyer_warehouse_pk=row.buyer_warehouse_id,
            seller_pk=row.seller_dealer_id,
            warehouse_pk=row.seller_warehouse_id,
            submitted_by_pk=row.submitted_by_user_id,
            currency=cur,
            order_pk=row.id,
        )

    @strawberry.field(description="The buying dealer; null when a store buys (see `buyerStore`).")
    async def buyer(self, info: Info) -> Dealer | None:
        return await load_dealer(info, self.buyer_pk)

    @strawberry.field(description="The buying store, when a store buys from its dealer.")
    async def buyer_store(self, info: Info) -> Store | None:
        return await load_store(info, self.buyer_store_pk)

    @strawberry.field(description="The buyer's warehouse the goods go to (inbound there once shipped).")
    async def buyer_warehouse(self, info: Info) -> Warehouse | None:
        return await load_warehouse(info, self.buyer_warehouse_pk)

    @strawberry.field(description="The selling dealer; null when HQ sells (`sellerIsHq`).")
    async def seller(self, info: Info) -> Dealer | None:
        return await load_dealer(info, self.seller_pk)

    @strawberry.field(description="The warehouse the order ships from (where its stock is reserved).")
    async def seller_warehouse(self, info: Info) -> Warehouse | None:
        return await load_warehouse(info, self.warehouse_pk)

    @strawberry.field
    async def submitted_by(self, info: Info) -> User | None:
        return await load_user(info, self.submitted_by_pk)

    @strawberry.field
    async def lines(self, info: Info) -> list[OrderLine]:
        rows = await info.context.loaders(OrdersLoaders).lines.load(self.order_pk)
        return [OrderLine.from_row(r, self.currency) for r in rows]

    @strawberry.field(description="Every step of the order, oldest first, with actor and time.")
    async def timeline(self, info: Info) -> list[OrderEvent]:
        rows = await info.context.loaders(OrdersLoaders).events.load(self.order_pk)
        return [OrderEvent.from_row(r) for r in rows]

    @strawberry.field(description="Its shipments, oldest first (an order may ship in several).")
    async def shipments(self, info: Info) -> list[Shipment]:
        return await shipments_of_order(info, self.order_pk)

    @strawberry.field(description="The buyer's confirmation of what arrived; null until received.")
    async def receipt(self, info: Info) -> Receipt | None:
        return await receipt_of_order(info, self.order_pk)

    @strawberry.field(description="After-sales claims about this order (e.g. short or damaged on receipt).")
    async def claims(self, info: Info) -> list[Claim]:
        return await claims_of_order(info, self.order_pk)


# ---- inputs and payloads --------------------------------------------------------------------


@strawberry.input
class CartLineInput:
    sku_id: strawberry.ID
    quantity: int


@strawberry.input
class CartLinesAddInput:
    buyer_id: strawberry.ID = strawberry.field(description="A dealer (buying from HQ or its distributor) or a store "
                                               "(buying from its dealer).")
    lines: list[CartLineInput] = strawberry.field(description="Quantities to add (summed with the cart's).")


@strawberry.input
class CartLinesUpdateInput:
    buyer_id: strawberry.ID
    lines: list[CartLineInput] = strawberry.field(description="New quantities; 0 removes the line.")


@strawberry.input
class CartLinesRemoveInput:
    buyer_id: strawberry.ID
    sku_ids: list[strawberry.ID]


@strawberry.input
class OrderSubmitInput:
    buyer_id: strawberry.ID
    idempotency_key: str = strawberry.field(
        description=(
            "The client's key for this submit (per buyer). Sent again as a retry (the same note or none, "
            "the cart still empty), it returns the same order; sent with another note, or with new lines in "
            "the cart, it is refused with IDEMPOTENCY_KEY_REUSED."
        )
    )
    note: str | None = None


@strawberry.input
class OrderDecisionInput:
    order_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class OrderFilter:
    status: OrderStatusEnum | None = strawberry.UNSET  # type: ignore[valid-type]
    buyer_id: strawberry.ID | None = strawberry.UNSET
    seller_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="A selling dealer (HQ's orders: use `sellerIsHq` on results)."
    )
    from_: datetime | None = strawberry.field(default=strawberry.UNSET, name="from", description="At or after.")
    to: datetime | None = strawberry.field(default=strawberry.UNSET, description="Before.")
    search: str | None = strawberry.field(default=strawberry.UNSET, description="Part of the order number.")


@strawberry.type
class OrdersUserError(UserError):
    field: list[str] | None
    message: str
    code: OrdersErrorCodeEnum  # type: ignore[valid-type]


@strawberry.type
class CartPayload:
    cart: Cart | None = None
    user_errors: list[OrdersUserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrderPayload:
    order: Order | None = None
    user_errors: list[OrdersUserError] = strawberry.field(default_factory=list)
