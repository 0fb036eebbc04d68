"""Running a mutation: one transaction, business errors as ``userErrors``, rights as FORBIDDEN."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from ymt_graph.access import Forbidden
from ymt_graph.errors import DomainError
from ymt_graph.graph.context import Context
from ymt_graph.graph.errors import forbidden
from ymt_graph.graph.ids import decode_gid

R = TypeVar("R")


async def in_transaction(ctx: Context, work: Callable[[AsyncConnection], Awaitable[R]]) -> R:
    """Run ``work`` in its own transaction. A DomainError rolls everything back and is
    re-raised for the resolver to turn into userErrors; Forbidden becomes FORBIDDEN."""
    try:
        async with ctx.db.transaction() as conn:
            return await work(conn)
    except Forbidden as exc:
        raise forbidden(str(exc) or "You are not allowed to do this.") from exc


def user_errors(exc: DomainError, error_type: type[Any]) -> list[Any]:
    return [error_type(field=exc.field, message=exc.message, code=exc.code)]


def parse_pk(gid: str | None, type_name: str) -> int:
    """The primary key behind a global id of the given type. A malformed or foreign-typed
    id gives 0, which matches no row, so it reads as "not found" like any unseen id."""
    if not gid:
        return 0
    decoded = decode_gid(gid)
    if decoded is None or decoded[0] != type_name:
        return 0
    return decoded[1]
