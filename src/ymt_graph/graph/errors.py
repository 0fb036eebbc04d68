"""Coded top-level errors (API.md "Errors") and the user-error shape of mutation payloads."""

from __future__ import annotations

import enum
from typing import Any

import strawberry
from graphql import GraphQLError


class ErrorCode(enum.StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    RATE_LIMITED = "RATE_LIMITED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class CodedError(GraphQLError):
    """An error the client is meant to see; anything else is masked."""

    def __init__(self, code: ErrorCode, message: str, **extra: Any) -> None:
        super().__init__(message, extensions={"code": code.value, **extra})
        self.code = code


def unauthenticated(message: str = "Authentication required: send Authorization: Bearer <token>.") -> CodedError:
    return CodedError(ErrorCode.UNAUTHENTICATED, message)


def forbidden(message: str = "You are not allowed to do this.") -> CodedError:
    return CodedError(ErrorCode.FORBIDDEN, message)


def not_found(what: str = "Object") -> CodedError:
    return CodedError(ErrorCode.NOT_FOUND, f"{what} not found.")


def bad_input(message: str, **extra: Any) -> CodedError:
    return CodedError(ErrorCode.BAD_USER_INPUT, message, **extra)


@strawberry.interface(description="A business error: the mutation changed nothing.")
class UserError:
    field: list[str] | None = strawberry.field(description="Path to the input field at fault.")
    message: str
