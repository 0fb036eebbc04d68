"""arq worker settings. Jobs are thin: they open a connection and call a domain service.

Later capability centres (forecasting, rebate settlement, webhooks, reminders)
add their functions and cron jobs to FUNCTIONS / CRON_JOBS.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from arq.connections import RedisSettings
from arq.worker import run_worker as arq_run_worker

from ymt_graph.db import dispose_engines, get_engine
from ymt_graph.settings import Settings, get_settings


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    assert settings.database_url
    ctx["settings"] = settings
    ctx["engine"] = get_engine(settings.database_url, pool_size=4)


async def shutdown(ctx: dict[str, Any]) -> None:
    await dispose_engines()


async def ping(ctx: dict[str, Any]) -> dict[str, Any]:
    """Round trip through the queue and the database: what /ready cannot see from the API."""
    async with ctx["engine"].connect() as conn:
        now = (await conn.execute(sa.text("SELECT now()"))).scalar_one()
    return {"pong": True, "database_time": now.isoformat(), "job_try": ctx.get("job_try")}


FUNCTIONS: list[Any] = [ping]
CRON_JOBS: list[Any] = []


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
