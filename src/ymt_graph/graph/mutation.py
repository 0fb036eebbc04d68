"""Running a mutation: one transaction, business errors as ``userErrors``, rights as FORBIDDEN."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncConnection

from ymt_graph.access import Forbidden
from ymt_graph.errors import DomainError
from ymt_graph.graph.context import Context
from ymt_graph.graph.errors import forbidden
from ymt_graph.graph.ids import decode_gid

R = TypeVar("R")


@dataclass
class Outcome(Generic[R]):
    """What a unit of work came to: its value, or the business rule that refused it."""

    result: R | None = None
    error: DomainError | None = None

    @property
    def value(self) -> R:
        """The work's result (only meaningful when there is no error)."""
        assert self.error is None, "check .error first"
        return cast(R, self.result)

    def user_errors(self, error_type: type[Any]) -> list[Any]:
        """The refusal as the domain's ``userErrors`` entries."""
        if self.error is None:
            return []
        return [error_type(field=self.error.field, message=self.error.message, code=self.error.code)]


async def attempt(ctx: Context, work: Callable[[AsyncConnection], Awaitable[R]]) -> Outcome[R]:
    """Run ``work`` in its own transaction. A DomainError rolls everything back and comes
    back as the outcome's error; a missing right (Forbidden) is a FORBIDDEN error."""
    try:
        async with ctx.db.transaction() as conn:
            return Outcome(result=await work(conn))
    except DomainError as exc:
        return Outcome(error=exc)
    except Forbidden as exc:
        raise forbidden(str(exc) or "You are not allowed to do this.") from exc


def parse_pk(gid: str | None, type_name: str) -> int:
    """The primary key behind a global id of the given type. A malformed or foreign-typed
    id gives 0, which matches no row, so it reads as "not found" like any unseen id."""
    if not gid:
        return 0
    decoded = decode_gid(gid)
    if decoded is None or decoded[0] != type_name:
        return 0
    return decoded[1]
