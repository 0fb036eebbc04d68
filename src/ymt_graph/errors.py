"""Business-rule failures raised by services; resolvers turn them into ``userErrors``."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.engine import Result
from sqlalchemy.sql import Executable


class DomainError(Exception):
    """A rule said no. Nothing was changed (the service's transaction rolls back)."""

    def __init__(self, code: enum.Enum, message: str, field: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = list(field) if field else None


class Executor(Protocol):
    """Anything that runs a statement: a request's RequestDb or a transaction's AsyncConnection."""

    async def execute(self, statement: Executable, parameters: Any = None, /) -> Result[Any]: ...


class BadInput(ValueError):
    """Input that never reaches a business rule (a malformed cursor, a page too large):
    the API answers it as a BAD_USER_INPUT error."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
