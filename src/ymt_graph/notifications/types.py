"""GraphQL types of the notifications centre."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.engine import Row

from ymt_graph.graph.connection import Connection, check_first, connection_of
from ymt_graph.graph.context import Info
from ymt_graph.graph.errors import UserError
from ymt_graph.graph.ids import encode_gid
from ymt_graph.graph.node import Node
from ymt_graph.notifications import service
from ymt_graph.notifications.loaders import NotificationsLoaders
from ymt_graph.org.types import Dealer, load_dealer

NotificationsErrorCodeEnum = strawberry.enum(service.NotificationsErrorCode, name="NotificationsErrorCode")
WebhookDeliveryStatus = strawberry.enum(
    service.DeliveryStatus, name="WebhookDeliveryStatus",
    description="PENDING: not tried yet; FAILED: the last attempt failed, another is scheduled; "
    "SUCCEEDED; DEAD: given up.",
)


@strawberry.type(description="One event sent (or being sent) to one webhook endpoint.")
class WebhookDelivery:
    delivery_id: str = strawberry.field(
        description="Sent as X-Ymt-Delivery; the same on every retry (receivers de-duplicate on it)."
    )
    event_type: str
    status: WebhookDeliveryStatus  # type: ignore[valid-type]
    attempts: int
    last_status_code: int | None = strawberry.field(description="HTTP status of the last attempt, if any.")
    last_error: str | None
    last_response_ms: int | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> WebhookDelivery:
        return cls(
            delivery_id=str(row.delivery_id),
            event_type=row.event_type,
            status=service.DeliveryStatus(row.status),
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            last_response_ms=row.last_response_ms,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
        )


@strawberry.type(description="An HTTP endpoint told of events, signed with its secret (X-Ymt-Signature: "
                 "sha256=<hex HMAC-SHA256 of the body>). A dealer's subscription hears only events "
                 "about that dealer's business; HQ's hear the whole tenant.")
class WebhookSubscription(Node):
    id: strawberry.ID
    url: str
    event_types: list[str] = strawberry.field(description='Event types it hears; "*" = all.')
    active: bool
    created_at: datetime
    pk: strawberry.Private[int]
    owner_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> WebhookSubscription:
        return cls(
            id=strawberry.ID(encode_gid("WebhookSubscription", row.id)),
            url=row.url,
            event_types=list(row.event_types),
            active=row.active,
            created_at=row.created_at,
            pk=row.id,
            owner_pk=row.owner_dealer_id,
        )

    @strawberry.field(description="The dealer it belongs to; null for HQ's own integrations.")
    async def dealer(self, info: Info) -> Dealer | None:
        return await load_dealer(info, self.owner_pk)

    @strawberry.field(description="Its delivery log, newest first.")
    async def deliveries(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookDelivery]:
        n = check_first(first)
        rp = await info.context.loaders(NotificationsLoaders).deliveries.load((self.pk, n, after))
        return connection_of(rp, n, after, service.DELIVERY_ORDER, WebhookDelivery.from_row)


@strawberry.type
class NotificationsUserError(UserError):
    field: list[str] | None
    message: str
    code: NotificationsErrorCodeEnum  # type: ignore[valid-type]


@strawberry.input
class WebhookSubscriptionCreateInput:
    url: str = strawberry.field(description="http:// or https:// endpoint that receives POSTs.")
    event_types: list[str] = strawberry.field(description='Event types to hear (see `webhookEventTypes`); "*" = all.')
    dealer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Owner dealer (HQ only); a dealer admin's subscriptions are its own dealer's."
    )


@strawberry.type
class WebhookSubscriptionCreatePayload:
    webhook_subscription: WebhookSubscription | None = None
    secret: str | None = strawberry.field(
        default=None, description="The signing secret. Shown only here, once: store it now."
    )
    user_errors: list[NotificationsUserError] = strawberry.field(default_factory=list)


@strawberry.input
class WebhookSubscriptionDeleteInput:
    id: strawberry.ID


@strawberry.type
class WebhookSubscriptionDeletePayload:
    deleted_webhook_subscription_id: strawberry.ID | None = None
    user_errors: list[NotificationsUserError] = strawberry.field(default_factory=list)
