"""Alembic environment: async (asyncpg), target metadata = every SQLModel table.

The database URL comes from, in order: a connection or URL handed over by
``ymt_graph.migrate`` (``config.attributes``), ``alembic -x url=...``, the
``YMT_MIGRATE_URL`` env var, ``sqlalchemy.url`` in alembic.ini, then the app
settings (``DATABASE_URL``; unset means the embedded dev PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ymt_graph.db import async_url
from ymt_graph.migrate import context_options

config = context.config

# Only when run from the alembic CLI: programmatic callers own their logging.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def configured_url() -> str | None:
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("YMT_MIGRATE_URL")
        or config.get_main_option("sqlalchemy.url")
    )
    if url:
        return str(url)
    from ymt_graph.settings import get_settings

    return get_settings().database_url


def run_migrations_offline() -> None:
    """``alembic upgrade head --sql``: emit SQL, no database needed."""
    url = configured_url() or "postgresql://localhost/ymt"
    context.configure(
        url=async_url(url),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **context_options(),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **context_options())
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations(url: str) -> None:
    engine = create_async_engine(async_url(url), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # A caller already holds a (sync-facing) connection, e.g. via run_sync.
        do_run_migrations(connection)
        return
    with contextlib.ExitStack() as stack:
        url = configured_url()
        if not url:
            from ymt_graph.embedded import EmbeddedServices

            services = EmbeddedServices()
            stack.callback(services.stop)
            from ymt_graph.settings import get_settings

            services.start(get_settings().data_dir, need_postgres=True, need_redis=False)
            url = services.database_url
        assert url
        asyncio.run(run_async_migrations(url))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
