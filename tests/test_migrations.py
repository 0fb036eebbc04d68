"""Models and migrations tell the same story, and the chain runs both ways."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
from alembic import command
from alembic.script import ScriptDirectory

from ymt_graph import migrate

# The conftest `new_database` fixture: `await new_database(template=None)` -> URL.
NewDatabase = Callable[..., Awaitable[str]]


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    finally:
        await conn.close()
    return {r["tablename"] for r in rows} - {"alembic_version"}


async def test_models_match_migrations(new_database: NewDatabase) -> None:
    url = await new_database()
    await migrate.upgrade_async(url)
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert migrate.current_revision(url) == head
    diffs = migrate.check_in_sync(url)
    assert diffs == [], (
        "models and migrations disagree; generate a migration with "
        "`alembic revision --autogenerate`:\n" + "\n".join(map(repr, diffs))
    )


async def test_downgrade_to_base_and_back(new_database: NewDatabase) -> None:
    url = await new_database()
    await migrate.upgrade_async(url)
    assert await _tables(url)
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(url), "base")
    assert await _tables(url) == set()
    await migrate.upgrade_async(url)
    assert migrate.check_in_sync(url) == []
