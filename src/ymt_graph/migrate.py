"""Run Alembic programmatically: upgrade a database, or diff it against the models.

The migration scripts live in ``migrations/`` at the repository root, next to
``alembic.ini``. Found, in order: ``$YMT_MIGRATIONS_DIR``; the checkout this
package is imported from (editable install: ``src/ymt_graph/../../migrations``);
``./migrations`` in the working directory (a checkout installed non-editable and
run from its root).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ymt_graph.db import async_url

_T = TypeVar("_T")


def migrations_dir() -> Path:
    """The folder holding Alembic's ``env.py`` and ``versions/``."""
    candidates: list[Path] = []
    if override := os.environ.get("YMT_MIGRATIONS_DIR"):
        candidates.append(Path(override))
    candidates.append(Path(__file__).resolve().parents[2] / "migrations")
    candidates.append(Path.cwd() / "migrations")
    for candidate in candidates:
        if (candidate / "env.py").is_file() and (candidate / "versions").is_dir():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise RuntimeError(
        f"cannot find the Alembic migrations (tried {tried}); run from the repository "
        "root or set YMT_MIGRATIONS_DIR"
    )


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic config pointing at our scripts, built without reading alembic.ini.

    Skipping the ini keeps Alembic from re-configuring the host application's
    logging; the URL travels in ``attributes`` so ``%`` needs no escaping.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if database_url is not None:
        cfg.attributes["url"] = database_url
    return cfg


# -- options shared by env.py (migrations, autogenerate) and check_in_sync ------


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render SQLModel's AutoString as plain ``sa.String`` so migrations never import sqlmodel."""
    if type_ == "type" and type(obj).__name__ == "AutoString":
        length = getattr(obj, "length", None)
        return f"sa.String(length={length})" if length else "sa.String()"
    return False  # default rendering


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    # Tables the models don't own (e.g. created by extensions) are not ours to drop.
    if type_ == "table":
        from ymt_graph.models import metadata

        return name in metadata.tables
    return True


def context_options() -> dict[str, Any]:
    """``context.configure`` keyword arguments used for every comparison and migration."""
    from ymt_graph.models import metadata

    return {
        "target_metadata": metadata,
        "compare_type": True,
        "compare_server_default": True,
        "render_item": render_item,
        "include_name": include_name,
    }


# -- running --------------------------------------------------------------------


def _run_outside_loop(fn: Callable[[], _T]) -> _T:
    """Call ``fn`` here, or in a helper thread when this thread already runs a loop.

    env.py drives asyncpg with ``asyncio.run``, which refuses to nest.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    result: list[_T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="ymt-migrate")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Migrate ``database_url`` up to ``revision`` (blocking)."""
    cfg = alembic_config(database_url)
    _run_outside_loop(lambda: command.upgrade(cfg, revision))


async def upgrade_async(database_url: str, revision: str = "heads") -> None:
    """Migrate without blocking the running event loop (Alembic itself is sync)."""
    await asyncio.to_thread(upgrade, database_url, revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at (None when never migrated)."""

    def read(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    return _run_outside_loop(lambda: asyncio.run(_with_connection(database_url, read)))


def check_in_sync(database_url: str) -> list[Any]:
    """Autogenerate's diff between the models and a migrated database; [] when they agree."""

    def compare(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts=context_options())
        diffs: Sequence[Any] = compare_metadata(ctx, ctx.opts["target_metadata"])
        return list(diffs)

    return _run_outside_loop(lambda: asyncio.run(_with_connection(database_url, compare)))


async def _with_connection(database_url: str, fn: Callable[[Connection], _T]) -> _T:
    # A private NullPool engine: this runs on a throwaway loop, so it must not
    # share pooled connections with the app's engines (db.get_engine).
    engine = create_async_engine(async_url(database_url), poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()
