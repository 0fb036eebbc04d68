"""Relay connections (API.md "Conventions") built from keyset pages (``ymt_graph.paging``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from sqlalchemy.engine import Row

from ymt_graph.errors import BadInput
from ymt_graph.paging import Order, Page, RowPage

T = TypeVar("T")
N = TypeVar("N")

DEFAULT_PAGE = 50
MAX_PAGE = 250


@strawberry.type(description="Where a page stands in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Rows in the whole list (all pages).")


def check_first(first: int | None, max_page: int = MAX_PAGE) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > max_page:
        raise BadInput(f"`first` must be between 0 and {max_page}.", field="first")
    return first


def build_connection(
    rows: Sequence[Row[Any]],
    first: int,
    order: Order,
    to_node: Callable[[Row[Any]], N],
    *,
    total_count: int | None,
    has_previous: bool,
) -> Connection[N]:
    """A page from ``first + 1`` fetched rows (the extra row only says there is more)."""
    edges = [Edge(cursor=order.cursor_of(r), node=to_node(r)) for r in rows[:first]]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > first,
            has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        # None means "not selected" (root lists count only when asked), so it is never shown.
        total_count=total_count if total_count is not None else 0,
    )


def page_connection(
    pg: Page, first: int, after: str | None, order: Order, to_node: Callable[[Row[Any]], N]
) -> Connection[N]:
    """A root connection from a service's keyset page."""
    return build_connection(pg.rows, first, order, to_node, total_count=pg.total, has_previous=after is not None)


def connection_of(
    rp: RowPage, first: int, after: str | None, order: Order, to_node: Callable[[Row[Any]], N]
) -> Connection[N]:
    """A nested connection from one parent's slice of a partitioned page."""
    return build_connection(rp.rows, first, order, to_node, total_count=rp.total, has_previous=after is not None)


def selected_fields(info: Any, path: Sequence[str] = ()) -> list[FieldNode]:
    """Field nodes selected at ``path`` below the current field, through fragments too
    (``("edges", "node")`` for the nodes of a connection)."""
    fragments = info._raw_info.fragments

    def fields(sel: SelectionSetNode | None) -> list[FieldNode]:
        out: list[FieldNode] = []
        for node in sel.selections if sel is not None else ():
            if isinstance(node, FieldNode):
                out.append(node)
            elif isinstance(node, InlineFragmentNode):
                out += fields(node.selection_set)
            elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
                out += fields(fragments[node.name.value].selection_set)
        return out

    level = [f for root in info._raw_info.field_nodes for f in fields(root.selection_set)]
    for name in path:
        level = [f for node in level if node.name.value == name for f in fields(node.selection_set)]
    return level


def selected_names(info: Any, path: Sequence[str] = ()) -> set[str]:
    """Names of the fields selected at ``path`` below the current field."""
    return {f.name.value for f in selected_fields(info, path)}


def selects(info: Any, name: str) -> bool:
    """Whether the current field's selection asks for ``name`` directly."""
    return name in selected_names(info)
