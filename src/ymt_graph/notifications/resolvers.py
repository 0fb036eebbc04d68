"""Query, Mutation and Subscription fields of the notifications centre: read the input, call the
service, map errors."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

import strawberry

from ymt_graph import access
from ymt_graph.graph.connection import Connection, check_first, page_connection, selects
from ymt_graph.graph.context import Context, Info
from ymt_graph.graph.errors import not_found
from ymt_graph.graph.ids import decode_gid, encode_gid
from ymt_graph.graph.mutation import attempt, parse_pk
from ymt_graph.graph.node import from_row, register_loaded_node
from ymt_graph.notifications import service
from ymt_graph.notifications.loaders import NotificationsLoaders
from ymt_graph.notifications.types import (
    BusinessEvent,
    NotificationsUserError,
    WebhookSubscription,
    WebhookSubscriptionCreateInput,
    WebhookSubscriptionCreatePayload,
    WebhookSubscriptionDeleteInput,
    WebhookSubscriptionDeletePayload,
    order_of,
)
from ymt_graph.orders import service as orders_service
from ymt_graph.org import service as org_service

register_loaded_node(
    "WebhookSubscription", NotificationsLoaders, "subscription", from_row(WebhookSubscription.from_row)
)


@strawberry.type
class NotificationsQuery:
    @strawberry.field(description="Webhook subscriptions you manage (HQ: the tenant's; a dealer admin: its "
                      "dealer's), oldest first.")
    async def webhook_subscriptions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookSubscription]:
        ctx = info.context
        n = check_first(first)
        pg = await service.subscriptions_page(ctx.db, ctx.require_principal(), n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.SUBSCRIPTION_ORDER, WebhookSubscription.from_row)

    @strawberry.field(description='Event types a webhook may subscribe to ("*" subscribes to all).')
    def webhook_event_types(self, info: Info) -> list[str]:
        info.context.require_principal()
        return sorted(service.EVENT_TYPES)


@strawberry.type
class NotificationsMutation:
    @strawberry.mutation(description="Subscribe an endpoint to events. The signing secret is in the payload, "
                         "and only there.")
    async def webhook_subscription_create(
        self, info: Info, input: WebhookSubscriptionCreateInput
    ) -> WebhookSubscriptionCreatePayload:
        ctx = info.context
        p = ctx.require_principal()
        data = service.SubscriptionCreate(
            url=input.url,
            event_types=tuple(input.event_types),
            dealer_id=parse_pk(input.dealer_id, "Dealer") if input.dealer_id is not None else None,
        )
        done = await attempt(ctx, lambda conn: service.create_subscription(conn, p, data))
        if done.error:
            return WebhookSubscriptionCreatePayload(user_errors=done.user_errors(NotificationsUserError))
        new_id, secret = done.value
        row = await ctx.loaders(NotificationsLoaders).subscription.load(new_id)
        return WebhookSubscriptionCreatePayload(
            webhook_subscription=WebhookSubscription.from_row(row) if row else None, secret=secret
        )

    @strawberry.mutation(description="Stop a subscription. Its delivery log is kept; undelivered events are dropped.")
    async def webhook_subscription_delete(
        self, info: Info, input: WebhookSubscriptionDeleteInput
    ) -> WebhookSubscriptionDeletePayload:
        ctx = info.context
        p = ctx.require_principal()
        pk = parse_pk(input.id, "WebhookSubscription")
        done = await attempt(ctx, lambda conn: service.delete_subscription(conn, p, pk))
        if done.error:
            return WebhookSubscriptionDeletePayload(user_errors=done.user_errors(NotificationsUserError))
        return WebhookSubscriptionDeletePayload(deleted_webhook_subscription_id=input.id)


# ---- subscriptions ---------------------------------------------------------------------------
# Rights are decided once, when the client subscribes, by the same scoped reads as queries (an
# object the principal may not see is NOT_FOUND); the stream then filters the tenant's published
# events. A resolver is a coroutine returning the stream, so a refusal is the operation's
# graphql-transport-ws "error" message rather than a "next" (it happens before the stream starts).

EventFilter = Callable[[dict[str, Any]], bool]


async def _stream(ctx: Context, tenant_id: int, wanted: EventFilter) -> AsyncGenerator[BusinessEvent, None]:
    settings = ctx.settings
    assert settings.redis_url, "subscriptions need REDIS_URL"
    # Closing this generator (the client's "complete", the socket going away) closes the listener,
    # and with it its Redis connection: the subscription is gone from Redis.
    async with aclosing(service.listen(settings.redis_url, tenant_id, wanted,
                                       channel_prefix=settings.events_channel_prefix)) as events:
        async for event in events:
            yield BusinessEvent.from_message(event)


@strawberry.type
class NotificationsSubscription:
    @strawberry.subscription(description="Every event about an order from now on, its shipments' included, "
                             "oldest first. NOT_FOUND for an order you may not see.")
    async def order_events(self, info: Info, order_id: strawberry.ID) -> AsyncGenerator[BusinessEvent, None]:
        ctx = info.context
        p = ctx.require_principal()
        pk = parse_pk(order_id, "Order")
        if pk not in await orders_service.orders_by_ids(ctx.db, p, [pk]):
            raise not_found("Order")
        gid = encode_gid("Order", pk)  # the canonical spelling events carry
        return _stream(ctx, p.tenant_id, lambda e: order_of(e) == gid)

    @strawberry.subscription(description="Shipment events (shipment.created … shipment.delivered) of the orders "
                             "of a buyer, a Dealer or a Store, from now on. NOT_FOUND for a buyer whose business "
                             "you may not see.")
    async def shipment_events(self, info: Info, buyer_id: strawberry.ID) -> AsyncGenerator[BusinessEvent, None]:
        ctx = info.context
        p = ctx.require_principal()
        kind, pk = decode_gid(buyer_id) or ("", 0)
        if kind == "Dealer":
            dealer = (await org_service.dealers_by_ids(ctx.db, p, [pk])).get(pk)
            visible = dealer is not None and access.may_follow_dealer_shipments(p, dealer.path, dealer.region_path)
            topic = f"buyer:dealer:{pk}"
        elif kind == "Store":
            visible = pk in await org_service.stores_by_ids(ctx.db, p, [pk])
            topic = f"buyer:store:{pk}"
        else:
            visible, topic = False, ""
        if not visible:
            raise not_found("Buyer")
        return _stream(ctx, p.tenant_id, lambda e: e["eventType"].startswith("shipment.") and topic in e["topics"])
