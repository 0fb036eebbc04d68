"""arq worker settings. Jobs are thin: they open a connection and call a domain service.

Later capability centres (forecasting, rebate settlement, webhooks, reminders)
add their functions and cron jobs to FUNCTIONS / CRON_JOBS.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from arq import cron
from arq.connections import RedisSettings
from arq.worker import run_worker as arq_run_worker

from ymt_graph.db import dispose_engines, get_engine
from ymt_graph.notifications import delivery as webhook_delivery
from ymt_graph.notifications import service as notifications
from ymt_graph.settings import Settings, get_settings
from ymt_graph.shipping import service as shipping


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    assert settings.database_url
    ctx["settings"] = settings
    ctx["engine"] = get_engine(settings.database_url, pool_size=4)


async def shutdown(ctx: dict[str, Any]) -> None:
    client = ctx.pop("webhook_http", None)
    if client is not None:
        await client.aclose()
    await dispose_engines()


async def ping(ctx: dict[str, Any]) -> dict[str, Any]:
    """Round trip through the queue and the database: what /ready cannot see from the API."""
    async with ctx["engine"].connect() as conn:
        now = (await conn.execute(sa.text("SELECT now()"))).scalar_one()
    return {"pong": True, "database_time": now.isoformat(), "job_try": ctx.get("job_try")}


# ---- notifications: outbox → Redis pub/sub + webhook deliveries --------------------------------


def _webhook_settings(ctx: dict[str, Any]) -> webhook_delivery.WebhookSettings:
    found = ctx.get("webhook_settings")
    if found is None:
        found = ctx["webhook_settings"] = webhook_delivery.WebhookSettings()
    return cast(webhook_delivery.WebhookSettings, found)


def _send_job_id(delivery_id: Any, attempt: int) -> str:
    # One job per (delivery, attempt): a sweep re-enqueueing a queued send is a no-op in arq.
    return f"ymt:webhook:{delivery_id}:{attempt}"


async def deliver_outbox(ctx: dict[str, Any]) -> int:
    """Publish unpublished outbox events and enqueue a send per new webhook delivery."""
    ws = _webhook_settings(ctx)
    made = await notifications.deliver_outbox(ctx["engine"], ctx["redis"], ws.batch_size,
                                              channel_prefix=ctx["settings"].events_channel_prefix)
    for pk, delivery_id in made:
        await ctx["redis"].enqueue_job("send_webhook", pk, _job_id=_send_job_id(delivery_id, 0))
    return len(made)


async def send_webhook(ctx: dict[str, Any], delivery_pk: int) -> str | None:
    """One attempt of one delivery; a failure schedules the next attempt with backoff."""
    ws = _webhook_settings(ctx)
    client = ctx.get("webhook_http")
    if client is None:
        client = ctx["webhook_http"] = webhook_delivery.http_client(ws)
    done = await notifications.send_delivery(
        ctx["engine"], client, delivery_pk, max_attempts=ws.max_attempts, lease_seconds=ws.lease_seconds,
        backoff=lambda attempt: webhook_delivery.backoff_seconds(attempt, ws),
    )
    if done is None:
        return None
    if done.status is notifications.DeliveryStatus.FAILED:
        job_id = _send_job_id(done.delivery_id, done.attempt)
        await ctx["redis"].enqueue_job("send_webhook", delivery_pk, _job_id=job_id, _defer_by=done.retry_in)
    return done.status.value


async def sweep_webhooks(ctx: dict[str, Any]) -> int:
    """Re-enqueue due deliveries whose job was lost (worker crash, Redis flush, expired lease)."""
    async with ctx["engine"].connect() as conn:
        due = await notifications.due_deliveries(conn)
    for pk, delivery_id, attempts in due:
        await ctx["redis"].enqueue_job("send_webhook", pk, _job_id=_send_job_id(delivery_id, attempts) + ":sweep")
    return len(due)


# ---- shipping: arrival notices --------------------------------------------------------------------


async def send_arrival_notices(ctx: dict[str, Any]) -> int:
    """Tell buyers of shipments arriving within ``YMT_ARRIVAL_NOTICE_HOURS`` (once per shipment)."""
    settings: Settings = ctx["settings"]
    return await shipping.send_arrival_notices(ctx["engine"], timedelta(hours=settings.arrival_notice_hours))


FUNCTIONS: list[Any] = [ping, deliver_outbox, send_webhook, sweep_webhooks, send_arrival_notices]
CRON_JOBS: list[Any] = [
    # Centres may also enqueue "deliver_outbox" right after committing, for lower latency.
    cron(deliver_outbox, second=set(range(0, 60, 2)), run_at_startup=True),
    cron(sweep_webhooks, second={30}),
    cron(send_arrival_notices, minute=set(range(0, 60, 5)), second={15}),
]


class WorkerSettings:
    functions = FUNCTIONS
    cron_jobs = CRON_JOBS
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 10
    job_timeout = 600


def run_worker(settings: Settings) -> None:
    assert settings.redis_url
    ctx = {"settings": settings}
    arq_run_worker(cast(Any, WorkerSettings), redis_settings=RedisSettings.from_dsn(settings.redis_url), ctx=ctx)
