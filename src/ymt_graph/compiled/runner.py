"""Running compiled operations: the plan cache, the prepared statement, the strawberry hook.

``CompiledReads`` is a schema extension: after parsing and validation (so depth, token and
alias limits have applied), a query whose every field compiles is answered by one statement
and graphql-core's execution is skipped; anything else runs as before. The answer's JSON
comes from PostgreSQL and is embedded in the response as it is (``orjson.Fragment``).
"""

from __future__ import annotations

import hashlib
import logging
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
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter
from strawberry.extensions import SchemaExtension

# The centres' compiled fields register themselves on import.
from ymt_graph.compiled import catalog, inventory, orders, org, pricing  # noqa: F401
from ymt_graph.compiled.core import Compiler, NotCompilable, coerce_variables, variables_shape
from ymt_graph.db import note_statement
from ymt_graph.graph.context import Context

log = logging.getLogger("ymt_graph.compiled")
_DIALECT = AsyncpgDialect()
_DIALECT.paramstyle = "numeric_dollar"


@dataclass(frozen=True)
class Plan:
    """One operation compiled for one principal and one shape of variables."""

    sql: str
    args: tuple[Callable[[Mapping[str, Any]], Any], ...]  # positional parameters, in order
    uses_variables: bool


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
    variables: Mapping[str, Any], ctx: Context,
) -> Plan:
    principal = ctx.require_principal()
    c = Compiler(schema, document, operation, variables, principal, ctx.settings)
    compiled = _inline_constants(c.statement(), set(c.getters)).compile(dialect=_DIALECT)
    # Lists in the statement are the principal's (part of the cache key): expanded once, here;
    # the variable-driven parameters are never lists, so their values do not matter for it.
    params = compiled.construct_params({name: None for name in c.getters}, escape_names=False)
    expanded = compiled._process_parameters_for_postcompile(params, _populate_self=False)
    getters: list[Callable[[Mapping[str, Any]], Any]] = []
    processors = compiled._bind_processors
    for name in expanded.positiontup or ():
        getters.append(_getter(name, c.getters.get(name), expanded.parameters[name], processors.get(name)))
    return Plan(expanded.statement, tuple(getters), bool(c.getters))


def _inline_constants(stmt: sa.Select[Any], variables: set[str]) -> sa.Select[Any]:
    """Every value that is not a variable's is written into the SQL text. A plan is built per
    principal, so they are constants of the statement: PostgreSQL can then keep one generic
    plan for it (planning a statement this size costs more than running it), knowing the
    tenant, the principal's dealer and the rest; only the request's variables stay parameters."""

    def inline(element: Any) -> Any:
        if isinstance(element, BindParameter) and element.key not in variables and not element.expanding:
            clone = element._clone()
            clone.literal_execute = True
            return clone
        return None

    found: Any = visitors.replacement_traverse(stmt, {}, inline)  # type: ignore[call-overload]
    return found


def _getter(name: str, from_variables: Any, constant: Any, process: Any) -> Callable[[Mapping[str, Any]], Any]:
    if from_variables is None:
        value = process(constant) if process else constant
        return lambda _v: value
    if process is None:
        return from_variables
    return lambda v: process(from_variables(v))


def _key(query: str, operation_name: str | None, ctx: Context, raw_variables: Mapping[str, Any] | None) -> Any:
    principal = ctx.principal
    if principal is not None:
        # Reads never depend on who the person is, only on what they act as.
        principal = replace(principal, user_id=None, api_key_id=None)
    shape = variables_shape(dict(raw_variables)) if raw_variables else None
    return (hashlib.sha1(query.encode(), usedforsecurity=False).digest(), operation_name, principal, shape)


async def answer(
    schema: GraphQLSchema, document: DocumentNode, query: str, operation_name: str | None,
    raw_variables: Mapping[str, Any] | None, ctx: Context,
) -> bytes | None:
    """The operation's ``data`` as JSON, or None when it must take the resolver path."""
    if ctx.principal is None:
        return None
    key = _key(query, operation_name, ctx, raw_variables)
    plan: Any = _plans.get(key)
    operation = None
    variables: Mapping[str, Any] = {}
    if plan is None or (plan is not _NOT_COMPILABLE and plan.uses_variables):
        operation = _operation(document, operation_name)
        if operation is None:
            return None
        try:
            variables = coerce_variables(schema, operation, raw_variables)
        except NotCompilable:
            return None
    if plan is None:
        started = time.perf_counter()
        try:
            assert operation is not None
            plan = build_plan(schema, document, operation, variables, ctx)
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
        args = [get(variables) for get in plan.args]
    except NotCompilable:
        return None
    conn = await ctx.db.connection()
    raw = (await conn.get_raw_connection()).driver_connection
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


class CompiledReads(SchemaExtension):
    """Answer compilable queries with one statement (see the module docstring)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        ctx = ec.context
        if isinstance(ctx, Context) and ec.graphql_document is not None and ec.query and ctx.settings.compiled_reads:
            data = await answer(self.execution_context.schema._schema, ec.graphql_document, ec.query,
                                ec.operation_name, ec.variables, ctx)
            if data is not None:
                # Fragment: PostgreSQL's JSON goes into the response as it is.
                ec.result = ExecutionResult(data=orjson.Fragment(data), errors=None)  # type: ignore[arg-type]
        yield


def clear_plans() -> None:
    _plans.clear()


__all__ = ["CompiledReads", "answer", "build_plan", "clear_plans", "sa"]
