"""Notifications rules: the outbox, webhook subscriptions, fan-out and delivery bookkeeping.

Other centres call ``emit`` inside their own transaction, so an event exists iff their change
committed. A worker (``jobs``) then, per batch of unpublished events taken with
``FOR UPDATE SKIP LOCKED`` (concurrent workers take disjoint batches), writes one
``webhook_deliveries`` row per matching subscription and marks the events published in the
same transaction; after commit it publishes them on Redis and enqueues the sends.

A send first *claims* its delivery with one conditional UPDATE (due, not finished; the claim
pushes ``next_attempt_at`` one lease ahead), so two workers never post the same delivery at
once, and no database connection is held during the HTTP request.
"""

from __future__ import annotations

import enum
import secrets
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row

from ymt_graph import access
from ymt_graph.access import Forbidden, Principal
from ymt_graph.db import table
from ymt_graph.errors import DomainError, Executor
from ymt_graph.graph.ids import encode_gid
from ymt_graph.notifications import models
from ymt_graph.org import service as org_service
from ymt_graph.paging import Order, Page, decode_cursor, page
from ymt_graph.settings import get_settings

events = table(models.OutboxEvent)
subscriptions = table(models.WebhookSubscription)
deliveries = table(models.WebhookDelivery)
attempts_log = table(models.WebhookDeliveryAttempt)


class NotificationsErrorCode(enum.Enum):
    URL_INVALID = "URL_INVALID"
    EVENT_TYPES_EMPTY = "EVENT_TYPES_EMPTY"
    EVENT_TYPE_UNKNOWN = "EVENT_TYPE_UNKNOWN"
    DEALER_NOT_FOUND = "DEALER_NOT_FOUND"
    SUBSCRIPTION_NOT_FOUND = "SUBSCRIPTION_NOT_FOUND"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"  # not tried yet
    FAILED = "FAILED"  # the last attempt failed; another is scheduled
    SUCCEEDED = "SUCCEEDED"
    DEAD = "DEAD"  # gave up (too many attempts, or the subscription is gone)


ALL_EVENTS = "*"
# Event types subscribers may ask for. A centre that emits a new type registers it
# (``register_event_types``) at import time; ``emit`` refuses unregistered types.
EVENT_TYPES: set[str] = {
    "order.submitted", "order.pending_approval", "order.approved", "order.rejected", "order.cancelled",
    "order.partially_shipped", "order.shipped", "order.delivered", "order.received",
    "shipment.created", "shipment.in_transit", "shipment.delivered",
}
MAX_URL = 2048
MAX_SUBSCRIPTIONS_PER_OWNER = 50
SECRET_BYTES = 32


def register_event_types(*names: str) -> None:
    EVENT_TYPES.update(names)


def channel(tenant_id: int, prefix: str | None = None) -> str:
    """The Redis pub/sub channel of a tenant's events (every API process listens on it):
    ``<prefix>:events:<tenant>``. ``prefix`` defaults to the configured
    ``Settings.events_channel_prefix`` (``YMT_EVENTS_CHANNEL_PREFIX``, "ymt"); publisher and
    listeners must agree on it."""
    if prefix is None:
        prefix = get_settings().events_channel_prefix
    return f"{prefix}:events:{tenant_id}"


# ---- the outbox ------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-ready form with one spelling per value: Decimal as string, times as ISO UTC."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=orjson.dumps) if isinstance(value, set | frozenset) else items
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in an event payload: times are timezone-aware UTC")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot put {type(value).__name__} in an event payload")


def payload_json(payload: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a payload (sorted keys), as stored and as sent."""
    return orjson.dumps(_plain(payload), option=orjson.OPT_SORT_KEYS)


async def emit(
    conn: Executor,
    tenant_id: int,
    event_type: str,
    subject_type: str,
    subject_id: int,
    payload: Mapping[str, Any],
    topics: Sequence[str],
) -> int:
    """Record an event in the caller's open transaction; returns its id.

    ``subject_type`` is the GraphQL type ("Order"), ``topics`` who may hear it ("hq",
    "buyer:dealer:17", "seller:dealer:3", "buyer:store:5"; see access.py). Nothing leaves
    the process here: the worker publishes the row once the transaction has committed."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unregistered event type {event_type!r} (notifications.service.register_event_types)")
    if not topics:
        raise ValueError("an event needs at least one topic (who may hear it)")
    body = orjson.loads(payload_json(payload))
    stmt = sa.insert(events).values(
        tenant_id=tenant_id, event_type=event_type, subject_type=subject_type, subject_id=subject_id,
        topics=sorted(set(topics)), payload=body,
    ).returning(events.c.id)
    return int((await conn.execute(stmt)).scalar_one())


def event_message(row: Row[Any]) -> dict[str, Any]:
    """An event as webhooks and subscriptions carry it (the subject by global id)."""
    return {
        "id": encode_gid("Event", row.id),
        "tenantId": row.tenant_id,
        "eventType": row.event_type,
        "subject": {"type": row.subject_type, "id": encode_gid(row.subject_type, row.subject_id)},
        "topics": list(row.topics),
        "payload": row.payload,
        "createdAt": row.created_at.astimezone(UTC).isoformat(),
    }


@dataclass
class FanOut:
    """What one batch of published events came to (for the caller to act on after commit)."""

    events: list[dict[str, Any]]
    deliveries: list[tuple[int, uuid.UUID]]  # (delivery pk, delivery id)


async def fan_out_batch(conn: Executor, batch_size: int) -> FanOut:
    """Take up to ``batch_size`` unpublished events (rows other workers hold are skipped),
    create their deliveries to every subscription that hears them, mark them published.
    Run in a transaction; the caller publishes and enqueues after the commit."""
    taken = (
        sa.select(events).where(events.c.published_at.is_(None)).order_by(events.c.id)
        .limit(batch_size).with_for_update(skip_locked=True)
    )
    rows = (await conn.execute(taken)).all()
    if not rows:
        return FanOut([], [])
    ids = [r.id for r in rows]
    matched = (
        sa.select(
            events.c.tenant_id, sa.func.gen_random_uuid(), subscriptions.c.id, events.c.id, events.c.event_type,
            sa.literal(DeliveryStatus.PENDING.value), sa.func.now(),
        )
        .select_from(events.join(subscriptions, access.webhook_hears(subscriptions, events)))
        .where(events.c.id.in_(ids))
        .order_by(events.c.id, subscriptions.c.id)
    )
    insert = _insert_deliveries(matched)
    made = (await conn.execute(insert)).all()
    await conn.execute(sa.update(events).where(events.c.id.in_(ids)).values(published_at=sa.func.now()))
    return FanOut([event_message(r) for r in rows], [(r.id, r.delivery_id) for r in made])


def _insert_deliveries(matched: sa.Select[Any]) -> Any:
    cols = ["tenant_id", "delivery_id", "subscription_id", "event_id", "event_type", "status", "next_attempt_at"]
    # An event reaches a subscription once, even if a batch is ever fanned out again.
    return (
        pg_insert(deliveries).from_select(cols, matched)
        .on_conflict_do_nothing(constraint="uq_webhook_deliveries_event")
        .returning(deliveries.c.id, deliveries.c.delivery_id)
    )


async def due_deliveries(conn: Executor, limit: int = 500) -> list[tuple[int, uuid.UUID, int]]:
    """Deliveries whose time has come (new, retrying, or claimed by a worker that died):
    (pk, delivery id, attempts so far) for the sweeper to enqueue."""
    stmt = (
        sa.select(deliveries.c.id, deliveries.c.delivery_id, deliveries.c.attempts)
        .where(deliveries.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value]),
               deliveries.c.next_attempt_at <= sa.func.now())
        .order_by(deliveries.c.next_attempt_at).limit(limit)
    )
    return [(r.id, r.delivery_id, r.attempts) for r in (await conn.execute(stmt)).all()]


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds for one attempt, with everything needed to send it."""

    id: int
    tenant_id: int
    delivery_id: uuid.UUID
    attempt: int  # this attempt's number, from 1
    url: str
    secret: str
    event_type: str
    event: dict[str, Any]


async def claim(conn: Executor, delivery_pk: int, lease_seconds: float) -> Claimed | None:
    """Take a due delivery for one attempt (None: not due, finished, or someone else has it).

    One conditional UPDATE: the row lock serialises rival workers and PostgreSQL re-checks
    ``next_attempt_at <= now()`` on the row the winner left, so only one gets it. A delivery
    of a deleted subscription goes DEAD instead."""
    d, s = deliveries.c, subscriptions.c
    claimed = (
        sa.update(deliveries)
        .where(d.id == delivery_pk,
               d.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value]),
               d.next_attempt_at <= sa.func.now())
        .values(attempts=d.attempts + 1,
                next_attempt_at=sa.func.now() + timedelta(seconds=lease_seconds), updated_at=sa.func.now())
        .returning(d.id, d.tenant_id, d.delivery_id, d.attempts, d.subscription_id, d.event_id, d.event_type)
    )
    row = (await conn.execute(claimed)).first()
    if row is None:
        return None
    sub = (await conn.execute(sa.select(s.url, s.secret, s.active, s.deleted_at).where(s.id == row.subscription_id))
           ).one()
    if not sub.active or sub.deleted_at is not None:
        await conn.execute(sa.update(deliveries).where(d.id == row.id).values(
            status=DeliveryStatus.DEAD.value, attempts=d.attempts - 1, next_attempt_at=None,
            last_error="subscription deleted", updated_at=sa.func.now()))
        return None
    event = (await conn.execute(sa.select(events).where(events.c.id == row.event_id))).one()
    return Claimed(row.id, row.tenant_id, row.delivery_id, row.attempts, sub.url, sub.secret, row.event_type,
                   event_message(event))


async def record_attempt(
    conn: Executor, c: Claimed, ok: bool, status_code: int | None, error: str | None, response_ms: int,
    *, max_attempts: int, retry_in: float,
) -> DeliveryStatus:
    """Log an attempt and move the delivery on: SUCCEEDED, FAILED (retry in ``retry_in`` s)
    or DEAD once ``max_attempts`` have failed."""
    await conn.execute(sa.insert(attempts_log).values(
        tenant_id=c.tenant_id, delivery_id=c.id, attempt=c.attempt, status_code=status_code, error=error,
        response_ms=response_ms))
    if ok:
        status, next_at, delivered = DeliveryStatus.SUCCEEDED, None, sa.func.now()
    elif c.attempt >= max_attempts:
        status, next_at, delivered = DeliveryStatus.DEAD, None, None
    else:
        status, next_at, delivered = (DeliveryStatus.FAILED, sa.func.now() + timedelta(seconds=retry_in), None)
    await conn.execute(sa.update(deliveries).where(deliveries.c.id == c.id).values(
        status=status.value, next_attempt_at=next_at, delivered_at=delivered, last_status_code=status_code,
        last_error=error, last_response_ms=response_ms, updated_at=sa.func.now()))
    return status


# ---- subscriptions ---------------------------------------------------------------------------


def _fail(code: NotificationsErrorCode, message: str, *field: str | int) -> DomainError:
    return DomainError(code, message, [str(f) for f in field] or None)


def check_url(url: str) -> str:
    """http(s) with a host. Loopback and private addresses are allowed (tests, on-site ERPs);
    the worker follows no redirects."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
        parts = urlsplit("")
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise _fail(NotificationsErrorCode.URL_INVALID, "Give an http:// or https:// URL with a host.", "url")
    if parts.username or parts.password:
        raise _fail(NotificationsErrorCode.URL_INVALID, "Credentials do not belong in a webhook URL: "
                    "deliveries are signed instead.", "url")
    return url


def check_event_types(names: Sequence[str]) -> list[str]:
    clean = sorted({n.strip() for n in names})
    if not clean:
        raise _fail(NotificationsErrorCode.EVENT_TYPES_EMPTY, "Name at least one event type (or \"*\").",
                    "eventTypes")
    unknown = [n for n in clean if n != ALL_EVENTS and n not in EVENT_TYPES]
    if unknown:
        raise _fail(NotificationsErrorCode.EVENT_TYPE_UNKNOWN,
                    f"Unknown event types: {', '.join(unknown[:10])}.", "eventTypes")
    return [ALL_EVENTS] if ALL_EVENTS in clean else clean


@dataclass(frozen=True)
class SubscriptionCreate:
    url: str
    event_types: tuple[str, ...]
    dealer_id: int | None = None  # None: the principal's own dealer, or HQ for HQ principals


async def create_subscription(conn: Executor, p: Principal, data: SubscriptionCreate) -> tuple[int, str]:
    """Create a subscription; returns (id, secret). The secret is shown only now."""
    url = check_url(data.url)
    types = check_event_types(data.event_types)
    owner = data.dealer_id
    if owner is not None:
        if owner not in await org_service.dealers_by_ids(conn, p, [owner]):
            raise _fail(NotificationsErrorCode.DEALER_NOT_FOUND, "Dealer not found.", "dealerId")
    elif p.acts_as_dealer:
        owner = p.dealer_id
    if not access.may_manage_webhooks(p, owner):
        raise Forbidden("You may not manage webhooks for this owner.")
    s = subscriptions.c
    count = (await conn.execute(sa.select(sa.func.count()).where(
        s.tenant_id == p.tenant_id, s.deleted_at.is_(None),
        s.owner_dealer_id.is_(None) if owner is None else s.owner_dealer_id == owner))).scalar_one()
    if count >= MAX_SUBSCRIPTIONS_PER_OWNER:
        raise _fail(NotificationsErrorCode.TOO_MANY_SUBSCRIPTIONS,
                    f"At most {MAX_SUBSCRIPTIONS_PER_OWNER} subscriptions per owner.")
    secret = "whsec_" + secrets.token_urlsafe(SECRET_BYTES)
    new_id = (await conn.execute(sa.insert(subscriptions).values(
        tenant_id=p.tenant_id, url=url, event_types=types, secret=secret, owner_dealer_id=owner,
        created_by_user_id=p.user_id, created_by_api_key_id=p.api_key_id,
    ).returning(s.id))).scalar_one()
    return int(new_id), secret


async def delete_subscription(conn: Executor, p: Principal, subscription_id: int) -> None:
    """Stop a subscription (its delivery log stays; pending deliveries go DEAD when due)."""
    row = (await subscriptions_by_ids(conn, p, [subscription_id])).get(subscription_id)
    if row is None:
        raise _fail(NotificationsErrorCode.SUBSCRIPTION_NOT_FOUND, "Webhook subscription not found.", "id")
    if not access.may_manage_webhooks(p, row.owner_dealer_id):
        raise Forbidden("You may not delete this webhook subscription.")
    await conn.execute(sa.update(subscriptions).where(subscriptions.c.id == subscription_id).values(
        active=False, deleted_at=sa.func.now()))


# ---- reads -----------------------------------------------------------------------------------

# Never the secret: reads cannot leak it whatever the resolver does.
_PUBLIC = [c for c in subscriptions.c if c.key != "secret"]


def subscription_select(p: Principal) -> sa.Select[Any]:
    return sa.select(*_PUBLIC).where(access.webhook_subscription_scope(p, subscriptions))


SUBSCRIPTION_ORDER = Order(columns=(subscriptions.c.id,), keys=("id",))
DELIVERY_ORDER = Order(columns=(deliveries.c.id.desc(),), keys=("id",))


async def subscriptions_page(db: Executor, p: Principal, first: int, after: str | None, want_total: bool) -> Page:
    return await page(db, subscription_select(p), SUBSCRIPTION_ORDER, first, after, want_total)


async def subscriptions_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    rows = (await db.execute(subscription_select(p).where(subscriptions.c.id.in_(ids)))).all()
    return {r.id: r for r in rows}


async def delivery_pages(
    db: Executor, subscription_ids: Sequence[int], first: int, after: str | None
) -> Sequence[Row[Any]]:
    """Newest-first delivery pages of many subscriptions (already scoped by the caller) in one
    statement: rows carry ``_parent`` (the subscription), ``_total`` (ignoring ``after``), ``_rn``."""
    d = deliveries.c
    inner = sa.select(
        deliveries, d.subscription_id.label("_parent"),
        sa.func.count().over(partition_by=d.subscription_id).label("_total"),
    ).where(d.subscription_id.in_(subscription_ids)).subquery("inner")
    mid = sa.select(
        inner, sa.func.row_number().over(partition_by=inner.c["_parent"], order_by=inner.c.id.desc()).label("_rn")
    )
    if after is not None:
        (last,) = decode_cursor(after, 1)
        mid = mid.where(inner.c.id < last)
    sub = mid.subquery("mid")
    stmt = sa.select(sub).where(sub.c["_rn"] <= first + 1).order_by(sub.c["_parent"], sub.c["_rn"])
    return (await db.execute(stmt)).all()


# ---- running the pipeline (called by the arq jobs and by tests) -------------------------------


async def publish_events(
    redis: Any, messages: Sequence[dict[str, Any]], *, channel_prefix: str | None = None
) -> None:
    """Publish events on their tenants' channels, for the GraphQL subscriptions of every API
    process. Pub/sub is fire-and-forget: webhooks, not subscriptions, are the durable path."""
    if not messages:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for m in messages:
            pipe.publish(channel(m["tenantId"], channel_prefix), orjson.dumps(m, option=orjson.OPT_SORT_KEYS))
        await pipe.execute()


async def deliver_outbox(
    engine: Any, redis: Any, batch_size: int, *, channel_prefix: str | None = None
) -> list[tuple[int, uuid.UUID]]:
    """Publish every unpublished event, batch by batch; returns the deliveries created
    (for the caller to enqueue). Each batch commits before it is announced, so nothing is
    announced that could still roll back. ``channel_prefix``: see ``channel``."""
    made: list[tuple[int, uuid.UUID]] = []
    while True:
        async with engine.begin() as conn:
            batch = await fan_out_batch(conn, batch_size)
        if not batch.events:
            return made
        await publish_events(redis, batch.events, channel_prefix=channel_prefix)
        made += batch.deliveries
        if len(batch.events) < batch_size:
            return made


@dataclass(frozen=True)
class Sent:
    status: DeliveryStatus
    attempt: int
    delivery_id: uuid.UUID
    retry_in: float  # seconds until the next attempt (FAILED only)


async def send_delivery(
    engine: Any, client: Any, delivery_pk: int, *, max_attempts: int, lease_seconds: float,
    backoff: Callable[[int], float],
) -> Sent | None:
    """One attempt of one delivery: claim, POST, record. None when there was nothing to do
    (not due, finished, or another worker has it). ``backoff(attempt)`` is the wait in seconds
    before the next attempt."""
    from ymt_graph.notifications import delivery

    async with engine.begin() as conn:
        c = await claim(conn, delivery_pk, lease_seconds)
    if c is None:
        return None
    body = delivery.event_body(c.event, str(c.delivery_id))
    result = await delivery.post(client, c.url, c.secret, c.event_type, str(c.delivery_id), body)
    retry_in = backoff(c.attempt)
    async with engine.begin() as conn:
        status = await record_attempt(conn, c, result.ok, result.status_code, result.error, result.response_ms,
                                      max_attempts=max_attempts, retry_in=retry_in)
    return Sent(status, c.attempt, c.delivery_id, retry_in)


async def listen(
    redis_url: str, tenant_id: int, predicate: Any, *, channel_prefix: str | None = None
) -> AsyncGenerator[dict[str, Any], None]:
    """The events of a tenant, as they are published, that ``predicate(event)`` accepts
    (e.g. ``lambda e: access.may_hear_event(p, e["topics"]) and e["subject"]["id"] == gid``).
    ``channel_prefix``: see ``channel`` (the publisher's must be the same).

    Subscribes on the first ``__anext__``; closing or cancelling the iterator unsubscribes and
    closes its Redis connection (one per listener: a GraphQL subscription's lifetime)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(channel(tenant_id, channel_prefix))
        while True:
            message = await pubsub.get_message(timeout=30.0)
            if message is None or message.get("type") != "message":
                continue
            event = orjson.loads(message["data"])
            if predicate(event):
                yield event
    finally:
        # Closing the connection ends the subscription on the server; no UNSUBSCRIBE round trip
        # (the connection may be mid-read when a cancellation lands).
        await pubsub.aclose()
        await client.aclose()
