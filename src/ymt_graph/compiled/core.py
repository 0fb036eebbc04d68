"""The compiler: a validated query operation → one SELECT returning its ``data`` as JSON.

Each compilable GraphQL object type registers, per field, a function that gives the field's
value as SQL over the row of its object (``src``: a table alias or subquery). Objects become
JSON text (``sqljson.json_object``, keys in selection order), nested objects and lists correlated scalar
subqueries, connections one subquery each (``connection``). Argument values that come from
variables become bind parameters, filled per request by ``getters``; everything else about
the statement — which clauses exist, which fields — is fixed by the document, the principal
and the *shape* of the variables (``variables_shape``: null or not, blank or not, booleans),
which is what a statement is cached by.

A field without a compiler, a value that would make the resolver path answer an error
(``first`` out of range, a bad cursor), or a selection PostgreSQL cannot build raises
``NotCompilable``: the operation then takes the resolver path, which stays the reference.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
)
from graphql.language import Visitor, visit
from graphql.pyutils import Undefined as _UNDEFINED
from graphql.utilities import coerce_input_value, type_from_ast, value_from_ast

from ymt_graph.access import Principal
from ymt_graph.compiled import sqljson
from ymt_graph.compiled.sqljson import Expr
from ymt_graph.graph.connection import DEFAULT_PAGE, MAX_PAGE
from ymt_graph.graph.mutation import parse_pk
from ymt_graph.paging import Order, decode_cursor
from ymt_graph.settings import Settings


class NotCompilable(Exception):
    """This operation, or this request's values, take the resolver path."""


@dataclass
class Selection:
    """One response key of a selection set: the field and every node merged under the key."""

    key: str
    name: str
    nodes: list[FieldNode]

    @property
    def node(self) -> FieldNode:
        return self.nodes[0]


class PageColumns:
    """The columns a connection page's query could carry, by name, noting which ones are read.
    The page's CTE and its row query are written last, with only the columns read: the rows
    are copied into sorts and hash tables several times, and a SKU's or an order's every
    column (JSON attributes, addresses) made those copies most of a page's cost."""

    def __init__(self, name: str, available: Mapping[str, Any]) -> None:
        self.name = name  # the SQL alias the finished query is written under
        self._available = available  # name -> type
        self.read: list[str] = []

    def __contains__(self, column: str) -> bool:
        return column in self._available

    def __getitem__(self, column: str) -> Any:
        if column not in self.read:
            self.read.append(column)
        return _Typed(self._available[column])

    @property
    def c(self) -> PageColumns:  # read like a table: ``page.c[name]``
        return self

    def ref(self, column: str) -> Any:
        """``"alias"."column"``, as the finished query will name it."""
        return sa.literal_column(f'"{self.name}"."{column}"', type_=self[column].type)


class _Typed:
    def __init__(self, type_: Any) -> None:
        self.type = type_


class PageRows:
    """The rows of one connection page, for fields that are cheaper computed for the whole page
    at once (a price, a band, a related row): ``values(column)`` selects a column of the page's
    rows; ``join`` adds a derived table LEFT JOINed to the page, which must give at most one
    row per page row."""

    def __init__(self, rows: PageColumns) -> None:
        self.rows = rows
        self.joins: list[tuple[Any, Any]] = []
        self.shared: dict[Any, Any] = {}  # share key -> a derived table already joined

    def values(self, column: str = "id") -> sa.Select[Any]:
        return sa.select(self.rows.ref(column)).select_from(sa.table(self.rows.name))

    def join(self, sub: Any, onclause: Any) -> None:
        self.joins.append((sub, onclause))


class Outer:
    """A row source seen from inside nested queries: its columns are written as plain
    ``"alias"."column"`` references. SQLAlchemy correlates scalar subqueries by itself, but
    not queries nested in FROM (a price's ranked offers, a page's rows): it would add the
    outer table to their FROM list and silently join everything. PostgreSQL resolves the
    plain reference to the enclosing row at any depth. ``page`` is set for the rows of a
    connection page (see ``PageRows``)."""

    def __init__(self, sub: Any, page: PageRows | None = None) -> None:
        self.c = _OuterColumns(sub)
        self.sub = sub
        self.page = page


class _OuterColumns:
    def __init__(self, sub: Any) -> None:
        self._sub = sub
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        found = self._cache.get(name)
        if found is None:
            col = self._sub.c[name]
            found = self._cache[name] = sa.literal_column(f'"{self._sub.name}"."{name}"', type_=col.type)
        return found

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]


class Prefixed:
    """A row's columns named ``prefix + name`` seen as another object's columns ``name``: a row
    that came with a related row's columns beside its own (a SKU with ``category_code``, an
    offer with its list's ``pl_code``) answers for the related object without a lookup."""

    def __init__(self, row: Any, prefix: str) -> None:
        self.c = _PrefixedColumns(row, prefix)

    @staticmethod
    def of(row: Any, prefix: str, probe: str) -> Prefixed | None:
        """``row``'s related object, when ``row`` is a query's row carrying ``prefix + probe``."""
        sub = getattr(row, "sub", None)
        return Prefixed(row, prefix) if sub is not None and prefix + probe in sub.c else None


class _PrefixedColumns:
    def __init__(self, row: Any, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getitem__(self, name: str) -> Any:
        return self._row.c[self._prefix + name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]


FieldCompiler = Callable[["Compiler", Any, Selection], Expr]
RootCompiler = Callable[["Compiler", Selection], Expr]

# type name → field name → compiler; root field name → compiler. Filled by the centre modules.
TYPES: dict[str, dict[str, FieldCompiler]] = {}
ROOTS: dict[str, RootCompiler] = {}


def compiles(type_name: str, field_name: str) -> Callable[[FieldCompiler], FieldCompiler]:
    def register(fn: FieldCompiler) -> FieldCompiler:
        TYPES.setdefault(type_name, {})[field_name] = fn
        return fn

    return register


def compiles_root(field_name: str) -> Callable[[RootCompiler], RootCompiler]:
    def register(fn: RootCompiler) -> RootCompiler:
        ROOTS[field_name] = fn
        return fn

    return register


def column(type_name: str, field_name: str, encode: Callable[[Any], Expr] = lambda c: c,
           name: str | None = None) -> None:
    """A field that is a column of its object's row, written by ``encode``."""
    col = name or _snake(field_name)
    compiles(type_name, field_name)(lambda _c, src, _sel: encode(src.c[col]))


def columns(type_name: str, **fields: Callable[[Any], Expr] | str | None) -> None:
    """Several column fields at once: ``code=None`` (as is), ``createdAt=sqljson.iso_datetime``,
    or a column name for a field named otherwise."""
    for field_name, how in fields.items():
        if isinstance(how, str):
            column(type_name, field_name, name=how)
        elif how is None:
            column(type_name, field_name)
        else:
            column(type_name, field_name, how)


def _snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)


def page_size_variables(document: DocumentNode) -> frozenset[str]:
    """The variables a document gives as a list's ``first``. Their values are part of a plan's
    key and written into its SQL: PostgreSQL keeps one generic plan per statement, and with
    ``LIMIT $n`` it must guess the page size (a tenth of the rows), then joins a page of 100
    SKUs to its prices, stock and bands as if it had 7 rows, by nested loops. A client uses
    one or two page sizes, so this costs a few plans, each built once."""
    found: set[str] = set()

    class Finder(Visitor):
        def enter_argument(self, node: Any, *_: Any) -> None:
            if node.name.value == "first" and isinstance(node.value, VariableNode):
                found.add(node.value.name.value)

    visit(document, Finder())
    return frozenset(found)


def variables_shape(value: Any, exact: frozenset[str] = frozenset()) -> Any:
    """What of the variables a statement's structure may depend on (its cache key): null or
    not, blank string or not, booleans, list lengths, and the same inside input objects; the
    values themselves of the variables named in ``exact`` (``page_size_variables``)."""
    if exact and isinstance(value, dict):
        return tuple(sorted((k, ("=", repr(v)) if k in exact else variables_shape(v)) for k, v in value.items()))
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return "s" if value.strip() else "e"
    if isinstance(value, dict):
        return tuple(sorted((k, variables_shape(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(variables_shape(v) for v in value)
    return "v"


def _has_variables(node: ValueNode) -> bool:
    found = False

    class Finder(Visitor):
        def enter_variable(self, *_: Any) -> None:
            nonlocal found
            found = True

    visit(node, Finder())
    return found


def plain(value: Any) -> Any:
    """Coerced enum values come back as Python enum members; SQL wants their names."""
    return value.value if isinstance(value, enum.Enum) else value


class Compiler:
    """Builds one operation's statement; ``getters`` fill its variable-driven parameters."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        principal: Principal,
        settings: Settings,
        exact: frozenset[str] = frozenset(),
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables = variables
        self.p = principal
        self.settings = settings
        self.exact = exact  # variables whose values are part of the plan's key: written in
        self.getters: dict[str, Callable[[Mapping[str, Any]], Any]] = {}
        self._params = itertools.count()
        self._aliases = itertools.count()

    # ---- the operation ----------------------------------------------------------------------

    def statement(self) -> sa.Select[Any]:
        if self.operation.operation.value != "query":
            raise NotCompilable("only queries compile")
        root = self.schema.query_type
        assert root is not None
        pairs: list[tuple[str, Expr]] = []
        for sel in self.selections(root, self.operation.selection_set):
            if sel.name == "__typename":
                pairs.append((sel.key, sa.literal(root.name, sa.Text)))
                continue
            compile_root = ROOTS.get(sel.name)
            if compile_root is None:
                raise NotCompilable(f"Query.{sel.name}")
            pairs.append((sel.key, compile_root(self, sel)))
        # UTF-8 bytes, as the response carries them: no decoding and re-encoding on the way.
        return sa.select(sa.func.convert_to(self._object_of(pairs), "UTF8"))

    # ---- selections -------------------------------------------------------------------------

    def selections(self, type_: GraphQLObjectType, nodes: SelectionSetNode | Sequence[FieldNode]) -> list[Selection]:
        """The fields selected on an object of ``type_``: fragments expanded (when their type
        condition holds), ``@include``/``@skip`` applied, nodes merged by response key."""
        found: dict[str, Selection] = {}
        sets = [nodes] if isinstance(nodes, SelectionSetNode) else [n.selection_set for n in nodes]
        for sel_set in sets:
            if sel_set is not None:
                self._collect(type_, sel_set, found)
        return list(found.values())

    def _collect(self, type_: GraphQLObjectType, sel_set: SelectionSetNode, found: dict[str, Selection]) -> None:
        for node in sel_set.selections:
            if not self._included(node):
                continue
            if isinstance(node, FieldNode):
                key = node.alias.value if node.alias else node.name.value
                if key in found:
                    found[key].nodes.append(node)
                else:
                    found[key] = Selection(key, node.name.value, [node])
            elif isinstance(node, InlineFragmentNode):
                if node.type_condition is None or self._applies(type_, node.type_condition.name.value):
                    self._collect(type_, node.selection_set, found)
            elif isinstance(node, FragmentSpreadNode):
                frag = self.fragments.get(node.name.value)
                if frag is not None and self._applies(type_, frag.type_condition.name.value):
                    self._collect(type_, frag.selection_set, found)

    def _applies(self, type_: GraphQLObjectType, condition: str) -> bool:
        return condition == type_.name or any(i.name == condition for i in type_.interfaces)

    def _included(self, node: Any) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("include", "skip"):
                raise NotCompilable(f"@{name}")
            arg = directive.arguments[0].value
            if isinstance(arg, VariableNode):
                value = self.variables.get(arg.name.value)
            elif isinstance(arg, BooleanValueNode):
                value = arg.value
            else:
                raise NotCompilable("directive argument")
            if bool(value) != (name == "include"):
                return False
        return True

    # ---- objects ----------------------------------------------------------------------------

    def object_type(self, name: str) -> GraphQLObjectType:
        found = self.schema.get_type(name)
        if not isinstance(found, GraphQLObjectType):
            raise NotCompilable(name)
        return found

    def object(self, type_name: str, src: Any, sel: Selection) -> Expr:
        """The JSON object for ``sel``'s sub-selection on a row ``src`` of ``type_name``."""
        fields = TYPES.get(type_name)
        if fields is None:
            raise NotCompilable(type_name)
        pairs: list[tuple[str, Expr]] = []
        for sub in self.selections(self.object_type(type_name), sel.nodes):
            if sub.name == "__typename":
                pairs.append((sub.key, sa.literal(type_name, sa.Text)))
                continue
            compile_field = fields.get(sub.name)
            if compile_field is None:
                raise NotCompilable(f"{type_name}.{sub.name}")
            pairs.append((sub.key, compile_field(self, src, sub)))
        return self._object_of(pairs)

    def _object_of(self, pairs: list[tuple[str, Expr]]) -> Expr:
        return sqljson.json_object(pairs)

    def alias(self, table: sa.FromClause) -> Any:
        """A fresh alias: every nested level reads its own copy of a table."""
        return table.alias(f"c{next(self._aliases)}")

    def one(self, type_name: str, sel: Selection, stmt: sa.Select[Any]) -> Expr:
        """A nested object from a correlated query returning at most one row (NULL if none)."""
        sub = stmt.limit(1).subquery(f"c{next(self._aliases)}")
        return sa.select(self.object(type_name, Outer(sub), sel)).select_from(sub).scalar_subquery()

    def by_id_or_key(
        self, type_name: str, sel: Selection, base: sa.Select[Any], table: Any, key: str = "code",
        normalize: Callable[[Any], Any] = plain,
    ) -> Expr:
        """``sku(id|code)``-style roots: exactly one of ``id`` and ``key`` (else the resolver path
        answers the error), the row of ``base`` it names, as ``type_name``."""
        given = [name for name in ("id", key) if self.arg("Query", sel, name) is not None]
        if len(given) != 1:
            raise NotCompilable(f"exactly one of id, {key}")
        if given == ["id"]:
            match = table.c.id == self.arg_sql("Query", sel, "id", lambda g: parse_pk(g, type_name), sa.BigInteger)
        else:
            match = table.c[key] == self.arg_sql("Query", sel, key, normalize, sa.Text)
        return self.one(type_name, sel, base.where(match))

    def per_row(
        self, src: Any, rows_for: Callable[[Any], sa.Select[Any]], key: str, build: Callable[[Any], Expr],
        on: str = "id", share: Any = None,
    ) -> Expr:
        """A value read from ``rows_for(values)`` — at most one row per value of ``src``'s column
        ``on``, matched on its column ``key`` — for the row ``src``: one LEFT JOIN for a whole
        connection page, else a correlated subquery. ``build(row)`` writes the value from the row
        found (an ``Outer``); NULL when there is none. Fields giving the same ``share`` key read
        the same rows: the page joins them once."""
        page: PageRows | None = getattr(src, "page", None)
        if page is not None:
            sub = page.shared.get(share) if share is not None else None
            if sub is None:
                sub = rows_for(page.values(on)).subquery(f"c{next(self._aliases)}")
                page.join(sub, sub.c[key] == src.c[on])
                if share is not None:
                    page.shared[share] = sub
            row = Outer(sub)
            return sa.case((row.c[key].is_(None), sa.null()), else_=build(row))
        sub = rows_for([src.c[on]]).subquery(f"c{next(self._aliases)}")
        return sa.select(build(Outer(sub))).select_from(sub).scalar_subquery()

    def related(
        self, type_name: str, src: Any, sel: Selection, fk: str, rows_for: Callable[[Any], sa.Select[Any]]
    ) -> Expr:
        """The object a foreign key of ``src`` names (``rows_for(ids)``: the candidate rows as the
        principal may see them, by ``id``); NULL when none or not visible."""
        return self.per_row(src, rows_for, "id", lambda row: self.object(type_name, row, sel), on=fk)

    def many(self, type_name: str, sel: Selection, stmt: sa.Select[Any], order: Sequence[str]) -> Expr:
        """A nested list (never null: ``[]`` when empty), in ``order`` (columns of ``stmt``)."""
        sub = stmt.subquery(f"c{next(self._aliases)}")
        items = sqljson.json_array(self.object(type_name, Outer(sub), sel), [sub.c[k] for k in order])
        return sa.select(items).select_from(sub).scalar_subquery()

    # ---- arguments --------------------------------------------------------------------------

    def field_def(self, type_name: str, sel: Selection) -> GraphQLField:
        return self.object_type(type_name).fields[sel.name]

    def arg(self, type_name: str, sel: Selection, name: str) -> Any:
        """An argument's value for this request (coerced; its default when not given)."""
        return self._arg_value(type_name, sel, name, self.variables)

    def _arg_value(self, type_name: str, sel: Selection, name: str, variables: Mapping[str, Any]) -> Any:
        arg_def = self.field_def(type_name, sel).args[name]
        node = next((a.value for a in sel.node.arguments or () if a.name.value == name), None)
        if node is None or (isinstance(node, VariableNode) and node.name.value not in variables):
            # Not given, or given as a variable the request omits: the argument's default.
            default = arg_def.default_value
            return None if default is _UNDEFINED else default
        value = value_from_ast(node, arg_def.type, dict(variables))
        if value is _UNDEFINED:
            raise NotCompilable(f"argument {name}")
        return value

    def arg_sql(
        self, type_name: str, sel: Selection, name: str, convert: Callable[[Any], Any] = plain,
        type_: Any = None,
    ) -> Expr:
        """An argument as a SQL value: a constant when the document gives it, else a parameter
        filled per request from the variables (``convert`` maps the coerced value; raising
        ``NotCompilable`` sends that request down the resolver path)."""
        node = next((a.value for a in sel.node.arguments or () if a.name.value == name), None)
        if node is None or not _has_variables(node):
            return sa.literal(convert(self.arg(type_name, sel, name)), type_)
        return self.param(lambda v: convert(self._arg_value(type_name, sel, name, v)), type_)

    def param(self, getter: Callable[[Mapping[str, Any]], Any], type_: Any = None) -> Expr:
        """A bind parameter whose value ``getter`` computes from each request's variables."""
        name = f"v{next(self._params)}"
        self.getters[name] = getter
        return sa.bindparam(name, type_=type_)

    # ---- connections ------------------------------------------------------------------------

    def first(self, type_name: str, sel: Selection) -> Expr:
        def check(first: Any) -> int:
            n = DEFAULT_PAGE if first is None else int(first)
            if not 0 <= n <= MAX_PAGE:
                raise NotCompilable("first out of range")  # the resolver path answers the error
            return n

        node = next((a.value for a in sel.node.arguments or () if a.name.value == "first"), None)
        if isinstance(node, VariableNode) and node.name.value in self.exact:
            return sa.literal(check(self.arg(type_name, sel, "first")), sa.Integer)
        return self.arg_sql(type_name, sel, "first", check, sa.Integer)

    def connection(
        self,
        node_type: str,
        sel: Selection,
        base: sa.Select[Any],
        order: Order,
        first: Expr,
        after_values: list[Expr] | None,
        *,
        total: bool = True,
    ) -> Expr:
        """A Relay connection over ``base`` (already scoped and filtered) in ``order``: the page
        after the cursor (``after_values``: its keys as SQL, None without a cursor), ``first``
        rows of it, pageInfo from one extra row, totalCount of the whole list when selected."""
        conn_type = self.object_type(f"{node_type}Connection")
        wanted = self.selections(conn_type, sel.nodes)
        inner = base.subquery(f"c{next(self._aliases)}")
        keys = [inner.c[k] for k in order.keys]
        directions = [_descending(col) for col in order.columns]
        ordering = [k.desc() if d else k for k, d in zip(keys, directions, strict=True)]
        # The page (a CTE: its rows are read once, also by fields computed for the whole page)
        # and its rows with their count beside (the page's last row is row least(_n, first); an
        # extra row means there is a next page) are written after the fields, by name until
        # then: they carry only the columns the fields read (``PageColumns``).
        available = {col.key: col.type for col in inner.c}
        page_cols = PageColumns(f"c{next(self._aliases)}", {**available, "_rn": sa.BigInteger()})
        pg = PageColumns(f"c{next(self._aliases)}", {**available, "_rn": sa.BigInteger(), "_n": sa.BigInteger()})
        rows = PageRows(page_cols)
        cur = sqljson.cursor(*(pg.ref(k) for k in order.keys))
        in_page = pg.ref("_rn") <= first
        pairs: list[tuple[str, Expr]] = []
        for w in wanted:
            if w.name == "__typename":
                pairs.append((w.key, sa.literal(conn_type.name, sa.Text)))
            elif w.name == "edges":
                pairs.append((w.key, self._edges(node_type, w, pg, cur, in_page, rows)))
            elif w.name == "pageInfo":
                pairs.append((w.key, self._page_info(w, pg, cur, in_page, first, after_values is not None)))
            elif w.name == "totalCount" and total:
                counted = sa.select(sa.func.count()).select_from(base.order_by(None).subquery()).scalar_subquery()
                pairs.append((w.key, counted))
            else:
                raise NotCompilable(f"{conn_type.name}.{w.name}")
        carried = [inner.c[k] for k in available if k in pg.read or k in page_cols.read]
        page = sa.select(*carried, sa.func.row_number().over(order_by=ordering).label("_rn"))
        if after_values is not None:
            page = page.where(_after(keys, after_values, directions))
        limited = page.order_by(*ordering).limit(first + 1).cte(page_cols.name)
        counted_rows = sa.select(*(limited.c[k] for k in available if k in pg.read),
                                 limited.c["_rn"], sa.func.count().over().label("_n"))
        source: Any = counted_rows.subquery(pg.name)
        for sub, onclause in rows.joins:
            source = source.outerjoin(sub, onclause)
        # GROUP BY (): one row, also for an empty page or a selection without aggregates.
        # The page's WITH sits on this select (nest_here): every reader below shares the one CTE.
        stmt = sa.select(self._object_of(pairs)).select_from(source).group_by(sa.text("()"))
        return stmt.add_cte(limited, nest_here=True).scalar_subquery()

    def paged(self, type_name: str, node_type: str, sel: Selection, base: sa.Select[Any], order: Order) -> Expr:
        """A connection field of ``type_name`` (``first``/``after`` from its arguments) over ``base``."""
        first, after = self.first(type_name, sel), self.after(type_name, sel, order)
        return self.connection(node_type, sel, base, order, first, after)

    def _edges(
        self, node_type: str, sel: Selection, pg: PageColumns, cur: Expr, in_page: Expr, rows: PageRows
    ) -> Expr:
        edge_type = self.object_type(f"{node_type}Edge")
        pairs: list[tuple[str, Expr]] = []
        for w in self.selections(edge_type, sel.nodes):
            if w.name == "__typename":
                pairs.append((w.key, sa.literal(edge_type.name, sa.Text)))
            elif w.name == "cursor":
                pairs.append((w.key, cur))
            elif w.name == "node":
                pairs.append((w.key, self.object(node_type, Outer(pg, rows), w)))
            else:
                raise NotCompilable(f"{edge_type.name}.{w.name}")
        return sqljson.json_array(self._object_of(pairs), [pg.ref("_rn")], in_page)

    def _page_info(
        self, sel: Selection, pg: PageColumns, cur: Expr, in_page: Expr, first: Expr, has_after: bool
    ) -> Expr:
        info_type = self.object_type("PageInfo")
        last = sa.func.least(pg.ref("_n"), first)
        values: dict[str, Expr] = {
            "hasNextPage": sa.func.coalesce(sa.func.max(pg.ref("_n")), 0) > first,
            "hasPreviousPage": sa.literal(has_after, sa.Boolean),
            "startCursor": sa.func.max(cur).filter(sa.and_(pg.ref("_rn") == 1, in_page)),
            "endCursor": sa.func.max(cur).filter(sa.and_(pg.ref("_rn") == last, in_page)),
        }
        pairs: list[tuple[str, Expr]] = []
        for w in self.selections(info_type, sel.nodes):
            if w.name == "__typename":
                pairs.append((w.key, sa.literal(info_type.name, sa.Text)))
            elif w.name in values:
                pairs.append((w.key, values[w.name]))
            else:
                raise NotCompilable(f"PageInfo.{w.name}")
        return self._object_of(pairs)

    def after(self, type_name: str, sel: Selection, order: Order) -> list[Expr] | None:
        """The ``after`` cursor's keys as parameters (None: no cursor on this request shape)."""
        if self.arg(type_name, sel, "after") is None:
            return None
        arity = len(order.keys)
        # The sort columns' types (under a DESC): a cursor's keys must have them.
        types = [getattr(col, "element", col).type for col in order.columns]

        def key(i: int) -> Callable[[Any], Any]:
            expected = int if isinstance(types[i], sa.Integer) else str if isinstance(types[i], sa.String) else object

            def decode(cursor: Any) -> Any:
                try:
                    value = decode_cursor(cursor, arity)[i]
                except Exception as exc:  # the resolver path answers a bad cursor
                    raise NotCompilable("bad cursor") from exc
                if not isinstance(value, expected) or isinstance(value, bool):
                    raise NotCompilable("bad cursor")
                return value

            return decode

        return [self.arg_sql(type_name, sel, "after", key(i), types[i]) for i in range(arity)]


def like_escaped(term: Any) -> str:
    """A search term for ``ILIKE … ESCAPE '/'``: wildcards literal, as SQLAlchemy's autoescape."""
    return str(term).strip().replace("/", "//").replace("%", "/%").replace("_", "/_")


class Filter:
    """A list field's ``filter`` argument: whether an entry is set decides the clauses (``has``:
    not null; ``has_text``: not blank either — search terms and codes); its value comes as SQL."""

    def __init__(self, c: Compiler, sel: Selection, type_name: str = "Query") -> None:
        self.c, self.sel, self.type_name = c, sel, type_name
        self.given: dict[str, Any] = c.arg(type_name, sel, "filter") or {}

    def has(self, name: str) -> bool:
        return self.given.get(name) is not None

    def has_text(self, name: str) -> bool:
        return bool(str(self.given.get(name) or "").strip())

    def value(self, name: str, convert: Callable[[Any], Any] = plain, type_: Any = None) -> Expr:
        return self.c.arg_sql(self.type_name, self.sel, "filter", lambda v: convert((v or {}).get(name)), type_)

    def pk(self, name: str, type_name: str) -> Expr:
        """A global id entry as the primary key it names (0, matching nothing, if it names another type)."""
        return self.value(name, lambda g: parse_pk(g, type_name), sa.BigInteger)

    def equal(self, *pairs: tuple[str, Any]) -> list[Expr]:
        """``column == value`` for the entries set (plain values: enums by name, text, numbers)."""
        return [col == self.value(name, plain, col.type) for name, col in pairs if self.has(name)]

    def search(self, *cols: Any) -> list[Expr]:
        """``paging.search_clauses`` with the term a parameter."""
        if not self.has_text("search"):
            return []
        term = self.value("search", like_escaped, sa.Text)
        return [sa.or_(*(col.icontains(term, escape="/") for col in cols))]


def _descending(col: Any) -> bool:
    modifier = getattr(col, "modifier", None)
    return modifier is not None and getattr(modifier, "__name__", "") == "desc_op"


def _after(keys: list[Any], values: list[Expr], directions: list[bool]) -> Expr:
    if all(directions):
        return sa.tuple_(*keys) < sa.tuple_(*values)
    if not any(directions):
        return sa.tuple_(*keys) > sa.tuple_(*values)
    raise NotCompilable("mixed sort directions")


def coerce_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, raw: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The operation's variables as graphql-core coerces them (defaults applied); a value it
    would refuse raises ``NotCompilable`` (the resolver path answers the error)."""
    out: dict[str, Any] = {}
    raw = raw or {}
    for var_def in operation.variable_definitions or ():
        name = var_def.variable.name.value
        type_ = type_from_ast(schema, var_def.type)
        if type_ is None:
            raise NotCompilable(f"${name}")
        try:
            if name in raw:
                out[name] = coerce_input_value(raw[name], type_)  # type: ignore[arg-type]
            elif var_def.default_value is not None:
                out[name] = value_from_ast(var_def.default_value, type_)  # type: ignore[arg-type]
            elif isinstance(type_, GraphQLNonNull):
                raise NotCompilable(f"${name} is required")
        except GraphQLError as exc:
            raise NotCompilable(f"${name}") from exc
    return out


def money(c: Compiler, sel: Selection, amount: Any, currency: Any) -> Expr:
    """A ``Money`` object (null when the amount is): the amount as a Decimal string."""
    if isinstance(currency, str):
        currency = sa.literal(currency, sa.Text)
    values = {"amount": sqljson.decimal(amount), "currency": currency, "__typename": sa.literal("Money", sa.Text)}
    pairs: list[tuple[str, Expr]] = []
    for w in c.selections(c.object_type("Money"), sel.nodes):
        if w.name not in values:
            raise NotCompilable(f"Money.{w.name}")
        pairs.append((w.key, values[w.name]))
    # ``amount`` is a column here, never a subquery: it is written twice.
    return sa.case((amount.is_(None), sa.null()), else_=sqljson.json_object(pairs))
