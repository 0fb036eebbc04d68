"""The arq worker runs jobs from real Redis against the real database."""

from __future__ import annotations

import uuid
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from ymt_graph.jobs.worker import FUNCTIONS, shutdown, startup


async def test_ping_job_round_trip(settings: Any) -> None:
    queue = f"ymt-test-{uuid.uuid4().hex[:8]}"  # a private queue: other runs share this Redis
    redis_settings = RedisSettings.from_dsn(settings.redis_url)
    pool = await create_pool(redis_settings, default_queue_name=queue)
    job = await pool.enqueue_job("ping")
    assert job is not None
    worker = Worker(functions=FUNCTIONS, redis_settings=redis_settings, queue_name=queue, burst=True,
                    on_startup=startup, on_shutdown=shutdown, ctx={"settings": settings}, poll_delay=0.05)
    await worker.main()
    result = await job.result(timeout=5)
    assert result["pong"] is True and result["database_time"]
    await worker.close()
    await pool.aclose()
