"""Running compiled operations: the plan cache, the prepared statement, the strawberry hook.

``CompiledReads`` is a schema extension: after parsing and validation (so depth, token and
alias limits have applied), a query whose every field compiles is answered by one statement
and graphql-core's execution is skipped; anything else runs as before. The answer's JSON
comes from PostgreSQL and is embedded in the response as it is (``orjson.Fragment``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import orjson
import sqlalchemy as sa
from graphql import DocumentNode, ExecutionResult, GraphQLSchema, OperationDefinitionNode
from sqlalchemy.dialects.postgresql.asyncpg import dialect as AsyncpgDialect
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.util import greenlet_spawn
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as StrawberryOperationType

from ymt_graph.access import Principal, path_ids

# The centres' compiled fields register themselves on import.
from ymt_graph.compiled import catalog, inventory, orders, org, people, pricing, shipping  # noqa: F401
from ymt_graph.compiled.core import (
    Compiler,
    NotCompilable,
    coerce_variables,
    page_size_variables,
    variables_shape,
)
from ymt_graph.db import RequestDb, note_statement
from ymt_graph.graph.context import Context

log = logging.getLogger("ymt_graph.compiled")
_DIALECT = AsyncpgDialect()
_DIALECT.paramstyle = "numeric_dollar"


@dataclass(frozen=True)
class Plan:
    """One operation compiled for one shape of principal (``StandIn``) and of variables."""

    sql: str
    args: tuple[Callable[[Mapping[str, Any]], Any], ...]  # positional parameters, in order
    uses_variables: bool
    # The principal's values, after ``args``: each a function of the principal's ``StandIn.values``.
    principal_args: tuple[Callable[[tuple[int, ...]], Any], ...] = ()

    def bind(self, variables: Mapping[str, Any], values: tuple[int, ...]) -> list[Any]:
        """The statement's parameters for one request (``NotCompilable``: the resolver path's)."""
        return [get(variables) for get in self.args] + [get(values) for get in self.principal_args]


# ---- the principal as parameters -------------------------------------------------------------
# A plan serves every principal of one shape: the same role, scopes and structure (whether it
# has a dealer, a store, how deep its dealer's path is, how many sales regions and how deep),
# whatever its ids. It is compiled for a stand-in whose ids are sentinels — numbers no statement
# holds otherwise — and each literal the compiler writes with a sentinel in it (``tenant_id =
# <s>``, ``path ~>=~ '/<s>/<s>/'``) becomes a parameter, filled per request with the real
# ids. 8,000 dealers share one plan per document, not one each (built in ~40 ms, and prepared
# and planned again by PostgreSQL on every connection).

# Past the largest bigint (9,223,372,036,854,775,807): no id or number a document may hold as a
# constant can be taken for one (PostgreSQL would refuse it). 19 digits each: none is a prefix of
# another, and a sentinel in a string (a path) is found by its digits.
SENTINEL_BASE = 9_300_000_000_000_000_000
_MAX_SENTINELS = 1000
_SENTINEL = re.compile(r"9300000000000000\d{3}")


@dataclass(frozen=True)
class StandIn:
    principal: Principal  # sentinels for ids; also the plan key's principal part
    values: tuple[int, ...]  # the real ids, by sentinel number


def stand_in(p: Principal) -> StandIn:
    """``p`` with each distinct id replaced by a sentinel, and the person left out: reads never
    depend on who the person is, only on what they act as. Ids of one kind that are equal get
    the same sentinel (the dealer is the last id of its path; the pattern is part of the shape);
    ids of different kinds never do (tenant 1 and dealer 1 have nothing to do with each other)."""
    seen: dict[tuple[str, int], int] = {}

    def sentinel(kind: str, value: int) -> int:
        return SENTINEL_BASE + seen.setdefault((kind, value), len(seen))

    def path(kind: str, text: str | None) -> str | None:
        if text is None or not text.strip("/"):
            return text
        return "/" + "".join(f"{sentinel(kind, i)}/" for i in path_ids(text))

    principal = replace(
        p, tenant_id=sentinel("tenant", p.tenant_id), user_id=None, api_key_id=None,
        dealer_id=None if p.dealer_id is None else sentinel("dealer", p.dealer_id),
        store_id=None if p.store_id is None else sentinel("store", p.store_id),
        dealer_path=path("dealer", p.dealer_path), region_paths=tuple(path("region", r) or r for r in p.region_paths),
    )
    return StandIn(principal, tuple(value for _, value in seen))


def _principal_value(literal: Any) -> Callable[[tuple[int, ...]], Any]:
    """The real value of a literal written for the stand-in, from the real ids."""
    if isinstance(literal, int):
        index = literal - SENTINEL_BASE
        return lambda values: values[index]
    return lambda values: _SENTINEL.sub(lambda m: str(values[int(m.group()) - SENTINEL_BASE]), literal)


def _is_sentinel(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return SENTINEL_BASE <= value < SENTINEL_BASE + _MAX_SENTINELS
    return isinstance(value, str) and _SENTINEL.search(value) is not None


_NOT_COMPILABLE = object()
CACHE_SIZE = 4096
_plans: OrderedDict[Any, Any] = OrderedDict()


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return ops[0] if len(ops) == 1 else None
    return next((o for o in ops if o.name is not None and o.name.value == name), None)


def build_plan(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
    variables: Mapping[str, Any], ctx: Context, exact: frozenset[str] = frozenset(),
) -> Plan:
    """``exact``: the variables whose values are part of the plan's key (written into its SQL).
    The plan is compiled for the principal's stand-in (``stand_in``): it serves its whole shape."""
    principal = stand_in(ctx.require_principal()).principal
    c = Compiler(schema, document, operation, variables, principal, ctx.settings, exact)
    compiled = _PlanCompiler(_DIALECT, c.statement(), frozenset(c.getters))
    # Lists in the statement are the principal's (its shape is part of the cache key): expanded
    # once, here; the variable-driven parameters are never lists, so their values do not matter.
    params = compiled.construct_params({name: None for name in c.getters}, escape_names=False)
    expanded = compiled._process_parameters_for_postcompile(params, _populate_self=False)
    getters: list[Callable[[Mapping[str, Any]], Any]] = []
    processors = compiled._bind_processors
    for name in expanded.positiontup or ():
        getters.append(_getter(name, c.getters.get(name), expanded.parameters[name], processors.get(name)))
    # The principal's literals, marked while compiling, become the parameters after the variables'.
    sql = expanded.statement
    for i, (marker, cast) in enumerate(compiled.principal_markers):
        sql = sql.replace(marker, f"${len(getters) + i + 1}::{cast}")
    principal_args = tuple(_principal_value(literal) for literal in compiled.principal_literals)
    return Plan(sql, tuple(getters), bool(c.getters), principal_args)


class _PlanCompiler(_DIALECT.statement_compiler):  # type: ignore[name-defined]
    """Writes every value that is not a variable's into the SQL text: they are constants of the
    statement, and PostgreSQL keeps one generic plan for it (planning a statement this size
    costs more than running it). The principal's ids are the exception: the stand-in's
    sentinels are marked here and become parameters (``stand_in``). (Done while compiling:
    cloning the statement's tree to mark its values took most of a plan's build time.)"""

    def __init__(self, dialect: Any, statement: Any, variables: frozenset[str]) -> None:
        # Read while compiling, which the base __init__ does.
        self.plan_variables = variables
        self.principal_literals: list[Any] = []
        self.principal_markers: list[tuple[str, str]] = []
        super().__init__(dialect, statement)

    def visit_bindparam(self, bindparam: BindParameter[Any], **kw: Any) -> str:
        if bindparam.key not in self.plan_variables:
            kw["literal_binds"] = True
        result: str = super().visit_bindparam(bindparam, **kw)
        return result

    def render_literal_value(self, value: Any, type_: Any) -> str:
        """A literal of the stand-in principal's is marked, to become a parameter (``stand_in``)."""
        if not _is_sentinel(value):
            result: str = super().render_literal_value(value, type_)
            return result
        if value not in self.principal_literals:  # one parameter per distinct value
            self.principal_literals.append(value)
            marker = f"__ymt_principal_{len(self.principal_markers)}__"
            self.principal_markers.append((marker, "BIGINT" if isinstance(value, int) else "TEXT"))
        return self.principal_markers[self.principal_literals.index(value)][0]


def _getter(name: str, from_variables: Any, constant: Any, process: Any) -> Callable[[Mapping[str, Any]], Any]:
    if from_variables is None:
        value = process(constant) if process else constant
        return lambda _v: value
    if process is None:
        return from_variables
    return lambda v: process(from_variables(v))


def _remembered(cache: dict[Any, Any], key: Any, work_out: Callable[[], Any]) -> Any:
    """``work_out()`` once per key (a cache that empties when full: it is rebuilt in passing)."""
    found = cache.get(key)
    if found is None:
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        found = cache[key] = work_out()
    return found


_standing: dict[Principal, StandIn] = {}


def _stand_in(principal: Principal) -> StandIn:
    """``stand_in``, worked out once per principal."""
    found: StandIn = _remembered(_standing, principal, lambda: stand_in(principal))
    return found


def digest(query: str) -> bytes:
    return hashlib.sha1(query.encode(), usedforsecurity=False).digest()


_page_sizes: dict[bytes, frozenset[str]] = {}


def _exact(document: DocumentNode, query_digest: bytes) -> frozenset[str]:
    """``core.page_size_variables`` of a document, worked out once per document."""
    found: frozenset[str] = _remembered(_page_sizes, query_digest, lambda: page_size_variables(document))
    return found


def _key(
    document: DocumentNode, query: str, operation_name: str | None, ctx: Context,
    raw_variables: Mapping[str, Any] | None, query_digest: bytes | None = None,
) -> Any:
    principal = ctx.principal
    shape_of_principal = _stand_in(principal).principal if principal is not None else None
    query_digest = query_digest or digest(query)
    shape = variables_shape(dict(raw_variables), _exact(document, query_digest)) if raw_variables else None
    return (query_digest, operation_name, shape_of_principal, shape)


@dataclass(frozen=True)
class Found:
    """A cached plan ready to run for one request: its cache key, the plan, its parameters."""

    key: Any
    plan: Plan
    args: list[Any]


_found: OrderedDict[Any, Found] = OrderedDict()  # by (digest, operation, principal, variables' JSON)
_MEMO_VARIABLES = 2048  # bytes of variables' JSON at most, for a memo entry


def cached(
    schema: GraphQLSchema, document: DocumentNode, query: str, operation_name: str | None,
    raw_variables: Mapping[str, Any] | None, ctx: Context, query_digest: bytes | None = None,
) -> Found | None:
    """What ``answer`` would run for this request, when its plan is cached already; None when
    there is no plan yet, the operation does not compile, or the values are the resolver path's
    to answer (it would refuse them). Runs nothing; remembers what it worked out (below)."""
    principal = ctx.principal
    if principal is None:
        return None
    query_digest = query_digest or digest(query)
    # A plan's parameters are functions of the request's variables (``Compiler.param``'s getters:
    # coercion, then conversions such as parsing ids and cursors), so the same variables give
    # the same parameters: what was worked out is kept per document, principal and variables'
    # JSON (a page asked for again), and used while its plan is still the cached one.
    memo_key: Any = None
    if raw_variables:
        try:
            text = orjson.dumps(raw_variables)
        except TypeError:  # not JSON (an upload): worked out afresh
            text = b""
        if 0 < len(text) <= _MEMO_VARIABLES:
            memo_key = (query_digest, operation_name, _stand_in(principal), text)
            memo = _found.get(memo_key)
            if memo is not None and _plans.get(memo.key) is memo.plan:
                return memo
    key = _key(document, query, operation_name, ctx, raw_variables, query_digest)
    plan = _plans.get(key)
    if plan is None or plan is _NOT_COMPILABLE:
        return None
    variables: Mapping[str, Any] = {}
    if plan.uses_variables:
        coerced = _coerced(schema, document, operation_name, raw_variables)
        if coerced is None:
            return None
        variables = coerced[1]
    try:
        args = plan.bind(variables, _stand_in(principal).values)
    except NotCompilable:
        return None
    found = Found(key, plan, args)
    if memo_key is not None:
        _found[memo_key] = found
        if len(_found) > CACHE_SIZE:
            _found.popitem(last=False)
    return found


def _coerced(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, raw_variables: Mapping[str, Any] | None,
) -> tuple[OperationDefinitionNode, Mapping[str, Any]] | None:
    """The operation and its variables as graphql-core coerces them; None when the resolver
    path must answer (no such operation, or values it would refuse)."""
    operation = _operation(document, operation_name)
    if operation is None:
        return None
    try:
        return operation, coerce_variables(schema, operation, raw_variables)
    except NotCompilable:
        return None


async def answer(
    schema: GraphQLSchema, document: DocumentNode, query: str, operation_name: str | None,
    raw_variables: Mapping[str, Any] | None, ctx: Context, found: Found | None = None,
) -> bytes | None:
    """The operation's ``data`` as JSON, or None when it must take the resolver path.

    ``found``: what ``cached`` said for this very request (the view's fast path), used when
    the plan is still the cached one."""
    if found is not None and _plans.get(found.key) is found.plan:
        return await _run(found.key, found.plan, found.args, operation_name, ctx, alone=True)
    if ctx.principal is None:
        return None
    key = _key(document, query, operation_name, ctx, raw_variables)
    plan: Any = _plans.get(key)
    operation = None
    variables: Mapping[str, Any] = {}
    if plan is None or (plan is not _NOT_COMPILABLE and plan.uses_variables):
        coerced = _coerced(schema, document, operation_name, raw_variables)
        if coerced is None:
            return None
        operation, variables = coerced
    if plan is None:
        started = time.perf_counter()
        try:
            assert operation is not None
            plan = build_plan(schema, document, operation, variables, ctx, _exact(document, key[0]))
        except NotCompilable as why:
            plan = _NOT_COMPILABLE
            _debug(ctx, operation_name, f"resolver path ({why})", None)
        except Exception:  # a compiler bug must not cost the client its answer
            log.exception("compiling %s failed; using the resolver path", operation_name)
            plan = _NOT_COMPILABLE
        _plans[key] = plan
        if len(_plans) > CACHE_SIZE:
            _plans.popitem(last=False)
        if plan is not _NOT_COMPILABLE:
            _debug(ctx, operation_name, f"compiled in {1000 * (time.perf_counter() - started):.1f} ms", plan.sql)
    if plan is _NOT_COMPILABLE:
        return None
    try:
        args = plan.bind(variables, _stand_in(ctx.principal).values)
    except NotCompilable:
        return None
    return await _run(key, plan, args, operation_name, ctx)


async def _run(
    key: Any, plan: Plan, args: list[Any], operation_name: str | None, ctx: Context, *, alone: bool = False
) -> bytes | None:
    """Run the plan on the request's connection. ``alone``: the request runs nothing else (the
    view's fast path); if it holds no connection yet, this statement gets one from the pool for
    itself, without SQLAlchemy's Connection around it (whose AUTOCOMMIT option only concerns
    statements sent through SQLAlchemy: this one goes to asyncpg directly, outside any
    transaction either way), and gives it back at once; so does a websocket's statement
    (``RequestDb.holds_connection``). Statements wait their turn at the
    process's read gate (``RequestDb.read_gate``), first come first served."""
    db = ctx.db
    gate = getattr(db, "read_gate", None)
    async with gate or contextlib.nullcontext():
        lone = alone and type(db) is RequestDb and db._conn is None
        if lone or not getattr(db, "holds_connection", True):
            pooled = await db.engine.raw_connection()
            try:
                return await _fetch(pooled.driver_connection, key, plan, args, operation_name)
            finally:
                await greenlet_spawn(pooled.close)
        conn = await db.connection()
        return await _fetch((await conn.get_raw_connection()).driver_connection, key, plan, args, operation_name)


async def _fetch(raw: Any, key: Any, plan: Plan, args: list[Any], operation_name: str | None) -> bytes | None:
    assert raw is not None
    note_statement(plan.sql)
    try:
        data: bytes = await raw.fetchval(plan.sql, *args)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # This request takes the resolver path, which tells the client about any real problem
        # with it. A statement PostgreSQL cannot even run (SQLSTATE class 42: syntax, unknown
        # names, types) is a compiler bug: logged once with its SQL, and not tried again.
        broken = str(getattr(exc, "sqlstate", "") or "").startswith("42")
        log.log(logging.ERROR if broken else logging.WARNING, "compiled statement failed for %s (%s)%s",
                operation_name, exc, f"; using the resolver path:\n{plan.sql}" if broken else "")
        if broken:
            _plans[key] = _NOT_COMPILABLE
        return None
    return data


def _debug(ctx: Context, operation_name: str | None, path: str, sql: str | None) -> None:
    if ctx.settings.debug_sql or log.isEnabledFor(logging.DEBUG):
        log.info("operation %s: %s%s", operation_name or "(anonymous)", path, f"\n{sql}" if sql else "")


@dataclass(frozen=True)
class Known:
    """A document the compiled path has answered: parsed, valid (depth, alias and token limits
    included), a query. What its requests need besides (cost, principal, variables) is
    per request."""

    document: DocumentNode
    operation_name: str | None  # as the operation ran (strawberry's: the provided one, or the first's)
    query_digest: bytes


class KnownDocuments:
    """Known documents by (query text, operation name as sent), for the view's fast path."""

    def __init__(self, maxsize: int = CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._found: OrderedDict[tuple[str, str | None], Known] = OrderedDict()

    def get(self, query: str, operation_name: str | None) -> Known | None:
        return self._found.get((query, operation_name))

    def remember(self, query: str, provided_name: str | None, known: Known) -> None:
        key = (query, provided_name)
        if key not in self._found:
            self._found[key] = known
            if len(self._found) > self.maxsize:
                self._found.popitem(last=False)

    def clear(self) -> None:
        self._found.clear()


class CompiledReads(SchemaExtension):
    """Answer compilable queries with one statement (see the module docstring)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        ctx = ec.context
        if isinstance(ctx, Context) and ec.graphql_document is not None and ec.query and ctx.settings.compiled_reads:
            outcome, ctx.compiled_outcome = ctx.compiled_outcome, None
            if outcome is not None:
                # The view's fast path ran this request's statement already: what it did stands.
                if outcome[0] is not None:
                    raise outcome[0]
                yield
                return
            data = await answer(self.execution_context.schema._schema, ec.graphql_document, ec.query,
                                ec.operation_name, ec.variables, ctx)
            if data is not None:
                # Fragment: PostgreSQL's JSON goes into the response as it is.
                ec.result = ExecutionResult(data=orjson.Fragment(data), errors=None)  # type: ignore[arg-type]
                known = getattr(ec.schema, "known_documents", None)
                provided = ec._provided_operation_name
                if (isinstance(known, KnownDocuments) and known.get(ec.query, provided) is None
                        and ec.operation_type is StrawberryOperationType.QUERY):
                    known.remember(ec.query, provided, Known(ec.graphql_document, ec.operation_name, digest(ec.query)))
        yield


def clear_plans() -> None:
    _plans.clear()
    _found.clear()


__all__ = ["CompiledReads", "Found", "Known", "KnownDocuments", "answer", "build_plan", "cached", "clear_plans", "sa"]
