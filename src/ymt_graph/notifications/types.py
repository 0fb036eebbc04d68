"""GraphQL types of the notifications centre."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.engine import Row
from strawberry.scalars import JSON

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


@strawberry.type(description="Something that happened to the business (an order approved, a shipment out for "
                 "delivery), as subscriptions stream it: the same event a webhook receives, minus the routing. "
                 "Streams are live (events published while no one listens are not replayed; webhooks are the "
                 "durable path) and may, rarely, repeat an event: de-duplicate on `id`.")
class BusinessEvent:
    id: strawberry.ID = strawberry.field(description="The event's id; the same as a webhook body's `id`.")
    event_type: str = strawberry.field(description='What happened: "order.approved", "shipment.delivered", … '
                                       "(see `webhookEventTypes`).")
    subject_type: str = strawberry.field(description='The type of the object it happened to: "Order", "Shipment", …')
    subject_id: strawberry.ID = strawberry.field(description="That object's global id.")
    order_id: strawberry.ID | None = strawberry.field(
        description="The order it concerns: the subject of an order event, the order a shipment event's shipment "
        "belongs to; null when it concerns none."
    )
    payload: JSON = strawberry.field(description="The event's details as the emitting centre recorded them "
                                     '(e.g. "orderNumber", "status"; amounts as strings; ids are global ids).')
    created_at: datetime = strawberry.field(description="When it happened (committed), UTC.")

    @classmethod
    def from_message(cls, event: dict[str, Any]) -> BusinessEvent:
        """From the message ``service.event_message`` publishes."""
        subject = event["subject"]
        return cls(
            id=strawberry.ID(event["id"]),
            event_type=event["eventType"],
            subject_type=subject["type"],
            subject_id=strawberry.ID(subject["id"]),
            order_id=order_of(event),
            payload=event["payload"],
            created_at=datetime.fromisoformat(event["createdAt"]),
        )


def order_of(event: dict[str, Any]) -> strawberry.ID | None:
    """The global id of the order a published event concerns: its subject when that is an Order,
    else the payload's ``orderId`` (shipment events carry it), else None."""
    subject = event["subject"]
    if subject["type"] == "Order":
        return strawberry.ID(subject["id"])
    payload = event.get("payload")
    found = payload.get("orderId") if isinstance(payload, dict) else None
    return strawberry.ID(found) if isinstance(found, str) else None


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
