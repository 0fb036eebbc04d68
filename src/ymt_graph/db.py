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
from typing import Any, cast

import asyncpg
import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable

_engines: dict[str, AsyncEngine] = {}

# Every connection's planner settings. JIT compiles nothing worth its start-up cost on
# statements this short. random_page_cost 1.1 (PostgreSQL's default is 4, for spinning disks)
# says what is true of a working set in memory or on SSD: an index lookup costs about a
# sequential page. With 4, a correlated lookup into a small table (an order line's SKU among
# a few hundred) is planned as a sequential scan per row; the order list spent half its time so.
SESSION_SETTINGS = {"jit": "off", "random_page_cost": "1.1"}


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
    """One engine per database URL (the first caller's pool size holds). Overflow connections
    are a quarter of the pool: a burst past it gets new connections rather than a wait."""
    key = async_url(url)
    engine = _engines.get(key)
    if engine is None:
        engine = create_async_engine(
            key,
            pool_size=pool_size,
            max_overflow=max(2, pool_size // 4),
            pool_pre_ping=False,
            # asyncpg prepares each statement once per connection; keep many, and big ones too:
            # a compiled read is one statement of 10-100 KB, which asyncpg would otherwise
            # prepare (and PostgreSQL plan) afresh on every execution.
            connect_args={"statement_cache_size": 1024, "max_cacheable_statement_size": 1024 * 1024,
                          "server_settings": SESSION_SETTINGS},
            json_serializer=lambda value: orjson.dumps(value).decode(),
            json_deserializer=orjson.loads,
        )
        _engines[key] = engine
    return engine


async def dispose_engines() -> None:
    for engine in list(_engines.values()):
        await engine.dispose()
    _engines.clear()


class RequestDb:
    """The database as one request sees it: a lazily acquired connection for reads.

    Reads run in autocommit (no BEGIN/ROLLBACK round trips; each statement sees
    committed data). A unit of work that writes gets its own transaction on a
    second connection, so a mutation never commits half of someone else's reads.
    """

    # False: every statement borrows a pooled connection and gives it back (a websocket's, which
    # may live for hours); nothing may keep one through ``connection()``.
    holds_connection = True

    def __init__(self, engine: AsyncEngine, read_gate: asyncio.Semaphore | None = None) -> None:
        self.engine = engine
        # Shared by a process's requests: how many compiled reads may run at once (the view's
        # ``Settings.read_concurrency``); None: no limit.
        self.read_gate = read_gate
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    async def connection(self) -> AsyncConnection:
        if self._conn is None:
            conn = await self.engine.connect()
            self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None, /
    ) -> Result[Any]:
        async with self._lock:
            conn = await self.connection()
            if isinstance(statement, sa.Select) and (parameters is None or isinstance(parameters, Mapping)):
                return cast(Result[Any], await fetch_records(conn, statement, parameters))
            return await conn.execute(statement, parameters)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """Run a unit of work in its own transaction; commit on success, roll back on error."""
        async with self.engine.begin() as conn:
            yield conn

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


class Record(asyncpg.Record):
    """An asyncpg row that reads like a SQLAlchemy Row (``row.code``, ``row._mapping``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> Record:
        return self


class Records:
    """The slice of SQLAlchemy's Result API the services use, over fetched records."""

    def __init__(self, rows: list[Record]) -> None:
        self.rows = rows

    def all(self) -> list[Record]:
        return self.rows

    def first(self) -> Record | None:
        return self.rows[0] if self.rows else None

    def one(self) -> Record:
        if len(self.rows) != 1:
            raise sa.exc.NoResultFound("expected exactly one row") if not self.rows else sa.exc.MultipleResultsFound()
        return self.rows[0]

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def __iter__(self) -> Iterator[Record]:
        return iter(self.rows)


# Compiled SQL per statement shape (SQLAlchemy's own cache key), shared by all requests.
_compiled: dict[Any, Any] = {}
_COMPILED_MAX = 2000


async def fetch_records(
    conn: AsyncConnection, statement: sa.Select[Any], parameters: Mapping[str, Any] | None = None
) -> Records:
    """Run a SELECT on the raw asyncpg connection.

    SQLAlchemy's async execution costs ~0.4 ms a statement in Python (greenlet hops,
    cursor and Row wrapping) — as much as PostgreSQL spends on a catalog page. Reads
    keep SQLAlchemy for building and compiling statements (cached by its cache key,
    expanding IN lists as it would) and hand the SQL to asyncpg directly."""
    key = statement._generate_cache_key()
    assert key is not None
    compiled = _compiled.get(key.key)
    if compiled is None:
        if len(_compiled) >= _COMPILED_MAX:
            _compiled.clear()
        compiled = statement.compile(dialect=conn.dialect, cache_key=key)
        _compiled[key.key] = compiled
    params = compiled.construct_params(
        params=dict(parameters) if parameters else None, extracted_parameters=key.bindparams, escape_names=False
    )
    expanded = compiled._process_parameters_for_postcompile(params, _populate_self=False)
    processors: Mapping[str, Any] = compiled._bind_processors
    args = [
        processors[name](expanded.parameters[name]) if name in processors else expanded.parameters[name]
        for name in expanded.positiontup or ()
    ]
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    note_statement(expanded.statement)
    return Records(await raw.fetch(expanded.statement, *args, record_class=Record))


def note_statement(sql: str) -> None:
    """Tell the statement counters of a statement sent on a raw connection."""
    for counter in _counters:
        counter.statements.append(sql)


class StatementCounter:
    """Counts SQL statements sent through an engine (tests pin N+1 down with it)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def _on_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)


_counters: list[StatementCounter] = []


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    """Count statements sent through SQLAlchemy and through the raw read path."""
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter._on_execute)
    _counters.append(counter)
    try:
        yield counter
    finally:
        _counters.remove(counter)
        event.remove(engine.sync_engine, "before_cursor_execute", counter._on_execute)


def table(model: Any) -> sa.Table:
    """The Core table behind a SQLModel class (typed, for Core queries)."""
    tbl = model.__table__
    assert isinstance(tbl, sa.Table)
    return tbl
