"""Error shaping: every error leaves with an ``extensions.code``; unexpected ones are masked.

Unexpected exceptions are logged once, with the request id that the masked
error also carries, so support can find the traceback without leaking it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from ymt_graph.access import Forbidden
from ymt_graph.errors import BadInput
from ymt_graph.graph.errors import CodedError, ErrorCode

log = logging.getLogger("ymt_graph.errors")

# The limiters are graphql-core validation rules; their messages are how we know them.
_TOO_COMPLEX = re.compile(r"exceeds maximum operation depth|aliases found|more than \d+ tokens",
                          re.IGNORECASE)


def _request_id(execution_context: ExecutionContext | None) -> str | None:
    ctx = getattr(execution_context, "context", None) if execution_context else None
    return getattr(ctx, "request_id", None)


def is_expected(error: GraphQLError) -> bool:
    """Errors a client is meant to see: ours, and GraphQL's own (syntax, validation)."""
    original = error.original_error
    if original is None:
        return True
    return isinstance(original, (CodedError, BadInput, Forbidden, GraphQLError))


def shape(error: GraphQLError, request_id: str | None) -> GraphQLError:
    original = error.original_error
    if isinstance(original, CodedError):
        code, message, extra = original.code, error.message, dict(original.extensions or {})
    elif isinstance(original, BadInput):
        code, message, extra = ErrorCode.BAD_USER_INPUT, str(original), {}
        if original.field:
            extra["field"] = original.field
    elif isinstance(original, Forbidden):
        code, message, extra = ErrorCode.FORBIDDEN, str(original) or "Forbidden.", {}
    elif original is None or isinstance(original, GraphQLError):
        if (error.extensions or {}).get("code"):
            return error
        code = ErrorCode.QUERY_TOO_COMPLEX if _TOO_COMPLEX.search(error.message) else ErrorCode.BAD_USER_INPUT
        message, extra = error.message, {}
    else:
        code, message, extra = (
            ErrorCode.INTERNAL_SERVER_ERROR,
            f"Internal server error (request id {request_id}).",
            {"requestId": request_id},
        )
    extra["code"] = code.value
    return GraphQLError(message, nodes=error.nodes, source=error.source, positions=error.positions,
                        path=error.path, extensions=extra)


class ErrorShaping(SchemaExtension):
    """Runs once per operation (not per field): rewrites the result's errors."""

    def on_operation(self) -> Iterator[None]:
        yield
        result: Any = self.execution_context.result
        if result is None or not getattr(result, "errors", None):
            return
        request_id = _request_id(self.execution_context)
        result.errors = [shape(e, request_id) for e in result.errors]


def log_errors(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
    """Schema.process_errors: log unexpected errors with their traceback and request id."""
    request_id = _request_id(execution_context)
    for error in errors:
        if is_expected(error):
            continue
        original = error.original_error
        log.error("unexpected error in %s (request id %s): %s", error.path, request_id, error.message,
                  exc_info=(type(original), original, original.__traceback__) if original else None)
