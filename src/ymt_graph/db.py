"""Engine, per-request connection, transactions and SQL statement counting.

One request uses one pooled connection, taken lazily on its first statement
and shared by every loader and resolver of that request. asyncpg cannot run
two statements at once on a connection, so statements are serialised with a
lock; DataLoaders still batch, so a request makes one statement per loader
level, not one per row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable

_engines: dict[str, AsyncEngine] = {}


def async_url(url: str) -> str:
    """Accept the usual ``postgresql://`` spelling and pick the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


def plain_url(url: str) -> str:
    """The libpq/asyncpg spelling of a database URL (for raw asyncpg and COPY)."""
    return "postgresql://" + async_url(url)[len("postgresql+asyncpg://") :]


def get_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    key = async_url(url)
    engine = _engines.get(key)
    if engine is None:
        engine = create_async_engine(
            key,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=False,
            # asyncpg prepares each statement once per connection; keep many.
            connect_args={"statement_cache_size": 1024, "server_settings": {"jit": "off"}},
        )
        _engines[key] = engine
    return engine


async def dispose_engines() -> None:
    for engine in list(_engines.values()):
        await engine.dispose()
    _engines.clear()


class RequestDb:
    """The database as one request sees it: a lazily acquired connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    async def connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self.engine.connect()
        return self._conn

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None, /
    ) -> Result[Any]:
        async with self._lock:
            conn = await self.connection()
            return await conn.execute(statement, parameters)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """Run a unit of work in its own transaction; commit on success, roll back on error."""
        async with self._lock:
            conn = await self.connection()
            if conn.in_transaction():
                await conn.commit()
            async with conn.begin():
                yield conn

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


class StatementCounter:
    """Counts SQL statements sent through an engine (tests pin N+1 down with it)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def _on_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter._on_execute)
    try:
        yield counter
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", counter._on_execute)


def table(model: Any) -> sa.Table:
    """The Core table behind a SQLModel class (typed, for Core queries)."""
    tbl = model.__table__
    assert isinstance(tbl, sa.Table)
    return tbl
