"""Tables of the notifications centre.

``outbox_events`` is written by other centres inside their own transaction (so an
event exists iff the change committed); a worker publishes each row once and fans
it out to ``webhook_deliveries``, one per matching subscription, whose every HTTP
attempt is logged in ``webhook_delivery_attempts``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field, SQLModel

from ymt_graph.models_base import created_at, fk, pk, tenant_fk, updated_at

DELIVERY_STATUSES = ("PENDING", "FAILED", "SUCCEEDED", "DEAD")


def _text_array() -> Any:
    return Field(default_factory=list, sa_column=sa.Column(ARRAY(sa.String(64)), nullable=False))


class OutboxEvent(SQLModel, table=True):
    """Something others must hear about, written in the same transaction as the change."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        # The publisher's queue: only unpublished rows, oldest first (stays tiny).
        sa.Index("ix_outbox_events_unpublished", "id", postgresql_where=sa.text("published_at IS NULL")),
        # "Events of this order" (order timeline, subscriptions catching up).
        sa.Index("ix_outbox_events_subject", "tenant_id", "subject_type", "subject_id", "id"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    event_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    subject_type: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    subject_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    # Who may hear it: "hq", "buyer:dealer:17", "seller:dealer:3", "buyer:store:5".
    topics: list[str] = _text_array()
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(JSONB, nullable=False))
    created_at: datetime | None = created_at()
    published_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))


class WebhookSubscription(SQLModel, table=True):
    """An HTTP endpoint told of events. Owned by a dealer (hears only its own business) or
    by HQ (owner null: hears everything of the tenant)."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        sa.Index("ix_webhook_subscriptions_tenant", "tenant_id", "owner_dealer_id", "id"),
        sa.Index("ix_webhook_subscriptions_owner_fk", "owner_dealer_id"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    url: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    # "*" = every event type.
    event_types: list[str] = _text_array()
    # Kept in clear because it signs every delivery (HMAC needs the key itself); never read back
    # by the API after creation.
    secret: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    owner_dealer_id: int | None = fk("dealers.id")
    created_by_user_id: int | None = fk("users.id")
    created_by_api_key_id: int | None = fk("api_keys.id")
    active: bool = Field(default=True, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.true()))
    created_at: datetime | None = created_at()
    deleted_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription: retried until it succeeds or goes DEAD."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # Fan-out is idempotent: an event reaches a subscription at most once.
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_event"),
        sa.UniqueConstraint("delivery_id", name="uq_webhook_deliveries_delivery_id"),
        sa.Index("ix_webhook_deliveries_subscription", "subscription_id", "id"),
        sa.Index("ix_webhook_deliveries_event_fk", "event_id"),
        # The sweeper: deliveries still to try, by due time.
        sa.Index("ix_webhook_deliveries_due", "next_attempt_at",
                 postgresql_where=sa.text("status IN ('PENDING', 'FAILED')")),
        sa.CheckConstraint(f"status IN ({', '.join(repr(s) for s in DELIVERY_STATUSES)})",
                           name="ck_webhook_deliveries_status"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    # Sent as X-Ymt-Delivery: the receiver's de-duplication key, the same on every retry.
    delivery_id: uuid.UUID = Field(sa_column=sa.Column(UUID(as_uuid=True), nullable=False))
    subscription_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("webhook_subscriptions.id"), nullable=False)
    )
    event_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("outbox_events.id"), nullable=False))
    event_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, server_default="PENDING"))
    attempts: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0"))
    next_attempt_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    last_status_code: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.String(500)))
    last_response_ms: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    delivered_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    created_at: datetime | None = created_at()
    updated_at: datetime | None = updated_at()


class WebhookDeliveryAttempt(SQLModel, table=True):
    """One HTTP attempt of a delivery (append-only log)."""

    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (sa.Index("ix_webhook_delivery_attempts_delivery", "delivery_id", "attempt"),)
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    delivery_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("webhook_deliveries.id"), nullable=False)
    )
    attempt: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    status_code: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    error: str | None = Field(default=None, sa_column=sa.Column(sa.String(500)))
    response_ms: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    created_at: datetime | None = created_at()
