"""Reading GraphQL inputs: optional fields, enums, id-or-code lookups."""

from __future__ import annotations

from typing import Any

import strawberry

from ymt_graph.graph.errors import bad_input
from ymt_graph.graph.mutation import parse_pk


def given(value: Any) -> Any:
    """UNSET (not sent) and null both mean "no filter / no change"."""
    return None if value is strawberry.UNSET else value


def enum_value(value: Any) -> Any:
    value = given(value)
    return value.value if value is not None else None


def pk_filter(gid: Any, type_name: str) -> int | None:
    """An id filter: None when not given; a foreign or malformed id matches nothing."""
    gid = given(gid)
    return parse_pk(gid, type_name) if gid is not None else None


def exactly_one(id: strawberry.ID | None, code: str | None) -> None:
    if (id is None) == (code is None):
        raise bad_input("Give exactly one of `id` or `code`.")
