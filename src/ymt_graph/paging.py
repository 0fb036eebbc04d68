"""Keyset paging shared by every service: opaque cursors, pages, per-parent pages.

Cursors are base64url of a JSON array (the sort key values, then the id), so the
order can change later without breaking clients that treat them as opaque.
Keyset paging walks a list without gaps or repeats even while rows are added.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import ColumnElement

from ymt_graph.errors import BadInput, Executor
from ymt_graph.graph.ids import MAX_BIGINT


def equal_to(*pairs: tuple[Any, Any]) -> list[ColumnElement[bool]]:
    """Filter clauses ``column == value`` for the values that are set (None = no filter)."""
    return [column == value for column, value in pairs if value is not None]


def search_clauses(term: str | None, *columns: Any) -> list[ColumnElement[bool]]:
    """A case-insensitive substring search over some columns; LIKE wildcards are literal."""
    term = (term or "").strip()
    if not term:
        return []
    return [sa.or_(*(c.icontains(term, autoescape=True) for c in columns))]


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).rstrip(b"=").decode()


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise BadInput("Invalid cursor.", field="after") from exc
    if not isinstance(values, list) or len(values) != arity or any(
        isinstance(v, int) and not -MAX_BIGINT <= v <= MAX_BIGINT for v in values
    ):
        raise BadInput("Invalid cursor.", field="after")
    return values


def _fits(column: Any, value: Any) -> bool:
    """Whether a cursor key has its sort column's type (a forged cursor is bad input, not a
    database error)."""
    type_ = getattr(column, "element", column).type
    if isinstance(type_, sa.Integer):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(type_, sa.String):
        return isinstance(value, str)
    return value is not None


@dataclass(frozen=True)
class Order:
    """A list's order: sort columns, the last one unique (usually the id)."""

    columns: tuple[sa.ColumnElement[Any], ...]
    keys: tuple[str, ...]

    def after_clause(self, cursor: str | None) -> ColumnElement[bool] | None:
        if cursor is None:
            return None
        return sa.tuple_(*self.columns) > sa.tuple_(*self.cursor_values(cursor))

    def cursor_values(self, cursor: str) -> list[Any]:
        """The sort keys a cursor holds, each of its column's type (else bad input)."""
        values = decode_cursor(cursor, len(self.columns))
        for column, value in zip(self.columns, values, strict=True):
            if not _fits(column, value):
                raise BadInput("Invalid cursor.", field="after")
        return values

    def cursor_of(self, row: Row[Any]) -> str:
        mapping = row._mapping
        return encode_cursor([mapping[k] for k in self.keys])


def order_by(*columns: sa.ColumnElement[Any]) -> Order:
    return Order(columns=columns, keys=tuple(str(c.key) for c in columns))


@dataclass(frozen=True)
class _NewestFirst(Order):
    """Descending ids; the cursor is the last id seen."""

    id_column: Any = None

    def after_clause(self, cursor: str | None) -> ColumnElement[bool] | None:
        if cursor is None:
            return None
        (last,) = self.cursor_values(cursor)
        return sa.cast(self.id_column < last, sa.Boolean)


def newest_first(id_column: Any) -> Order:
    """Newest first (ledgers, orders, shipments, claims): ``id DESC``, keyset on the id."""
    return _NewestFirst(columns=(id_column.desc(),), keys=("id",), id_column=id_column)


@dataclass
class Page:
    rows: Sequence[Row[Any]]  # up to first + 1: the extra row only says there is more
    total: int | None


async def page(
    db: Executor, base: sa.Select[Any], order: Order, first: int, after: str | None, want_total: bool
) -> Page:
    """The first ``first`` rows after the cursor; the list's size only when asked for.

    The size comes in the same statement as an uncorrelated scalar subquery: PostgreSQL
    counts once (an InitPlan) while the page itself stays an index scan with a LIMIT
    (a window ``count(*) OVER ()`` would make it read and sort the whole list)."""
    stmt = base
    if want_total:
        stmt = stmt.add_columns(_count_of(base).label("_total"))
    keyset = order.after_clause(after)
    if keyset is not None:
        stmt = stmt.where(keyset)
    rows = (await db.execute(stmt.order_by(*order.columns).limit(first + 1))).all()
    if not want_total:
        return Page(rows=rows, total=None)
    if rows:
        return Page(rows=rows, total=int(rows[0]._mapping["_total"]))
    # Past the end of a list nothing carries the count; on a first page it is zero.
    total = 0 if keyset is None else int((await db.execute(sa.select(_count_of(base)))).scalar_one())
    return Page(rows=rows, total=total)


def _count_of(base: sa.Select[Any]) -> sa.ScalarSelect[Any]:
    return sa.select(sa.func.count()).select_from(base.order_by(None).subquery()).scalar_subquery()


def partitioned_page_query(
    base: sa.Select[Any],
    partition_col: sa.ColumnElement[Any],
    order: Order,
    first: int,
    after: str | None,
) -> sa.Select[Any]:
    """One statement for the first page of many parents' lists (``dealer.stores(first: 5)``
    for a page of dealers): rows carry ``_parent``, ``_total`` (the whole list's size,
    ignoring ``after``) and ``_rn``. After a cursor, each parent also gets one row before it
    (``_rn`` 0) that only carries ``_total``: a page past the end still knows the list's size."""
    inner = base.add_columns(
        partition_col.label("_parent"),
        sa.func.count().over(partition_by=partition_col).label("_total"),
    ).subquery("inner")
    cols = [inner.c[k] for k in order.keys]
    if after is None:
        rank = sa.func.row_number().over(partition_by=inner.c["_parent"], order_by=cols)
        mid = sa.select(inner, rank.label("_rn"))
        sub = mid.subquery("mid")
        return sa.select(sub).where(sub.c["_rn"] <= first + 1).order_by(sub.c["_parent"], sub.c["_rn"])
    kept = sa.tuple_(*cols) > sa.tuple_(*order.cursor_values(after))
    # Rows after the cursor are numbered 1, 2, …; those before it count down from -1 (the
    # nearest first), and the nearest one is kept as the parent's carrier of _total (_rn 0).
    ahead = sa.func.row_number().over(partition_by=(inner.c["_parent"], kept), order_by=cols)
    behind = sa.func.row_number().over(partition_by=(inner.c["_parent"], kept), order_by=[c.desc() for c in cols])
    rn = sa.case((kept, ahead), else_=1 - behind)
    sub = sa.select(inner, rn.label("_rn")).subquery("mid")
    return sa.select(sub).where(sub.c["_rn"].between(0, first + 1)).order_by(sub.c["_parent"], sub.c["_rn"])


@dataclass
class RowPage:
    """One parent's slice of a partitioned page query."""

    rows: list[Row[Any]]
    total: int


def split_pages(rows: Sequence[Row[Any]], parents: Sequence[Any]) -> list[RowPage]:
    by_parent: dict[Any, list[Row[Any]]] = {}
    totals: dict[Any, int] = {}
    for r in rows:
        m = r._mapping
        totals[m["_parent"]] = int(m["_total"])
        if m["_rn"] > 0:  # _rn 0 only carries the total (see partitioned_page_query)
            by_parent.setdefault(m["_parent"], []).append(r)
    return [RowPage(rows=by_parent.get(parent, []), total=totals.get(parent, 0)) for parent in parents]
