"""Query and Mutation fields of the notifications centre: read the input, call the service, map errors."""

from __future__ import annotations

import strawberry

from ymt_graph.graph.connection import Connection, check_first, page_connection, selects
from ymt_graph.graph.context import Info
from ymt_graph.graph.mutation import attempt, parse_pk
from ymt_graph.graph.node import from_row, register_loaded_node
from ymt_graph.notifications import service
from ymt_graph.notifications.loaders import NotificationsLoaders
from ymt_graph.notifications.types import (
    NotificationsUserError,
    WebhookSubscription,
    WebhookSubscriptionCreateInput,
    WebhookSubscriptionCreatePayload,
    WebhookSubscriptionDeleteInput,
    WebhookSubscriptionDeletePayload,
)

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
