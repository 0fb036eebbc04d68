"""Query cost and rate limits (API.md "Limits and cost"), in the manner of Shopify's GraphQL Admin API.

**The cost of an operation** is computed from the document and its variables alone, before anything
runs (``operation_cost``, a pure function):

- scalars, enums and ``__typename``/introspection fields cost 0;
- an object field costs 1 plus the cost of its selection;
- a connection (a field returning ``…Connection`` that takes ``first``) costs
  ``2 + first × (cost of one edge)``, an edge costing what its ``node`` costs (1 + its selection);
  ``pageInfo``, ``totalCount`` and ``cursor`` are in the 2. ``first`` absent or null is the server's
  page (``DEFAULT_PAGE``), and it counts at most ``MAX_PAGE`` (a larger one is refused as BAD_USER_INPUT);
- a list of objects that is not a connection (``Order.lines``, ``Cart.lines``, ``Shipment.events`` …)
  costs ``LIST_SIZE`` (10, or its ``LIST_SIZES`` estimate) × (1 + its selection); ``nodes(ids:)``
  costs per id asked for;
- every mutation field costs ``MUTATION_COST`` (10) plus what its payload selects (a payload's
  ``userErrors`` are free: they are the answer of a mutation that did nothing);
- a field of an interface or union type costs the most any of its object types would;
- fragments, inline fragments, aliases (each alias counts) and ``@include``/``@skip`` count as
  graphql-core would execute them.

**Limits.** An operation costing more than ``Settings.max_query_cost`` is refused with
QUERY_TOO_COMPLEX; otherwise, when rate limits are on (``Settings.rate_limits_on``: in production
unless set), its cost is taken from the principal's leaky bucket in Redis (``Buckets``: one Lua
script, one round trip), and a bucket without room answers RATE_LIMITED with
the seconds to wait (the view makes it HTTP 429 + ``Retry-After``). Both happen in ``on_validate``,
after validation and before any ``on_execute`` (so before the compiled path too): a refused
operation runs nothing. Redis down → the request goes through (logged once per outage).

Every operation that got this far reports ``extensions.cost = {requestedQueryCost, actualQueryCost,
throttleStatus {maximumAvailable, currentlyAvailable, restoreRate}}``. ``actualQueryCost`` is the
requested cost (null when refused): counting what a compiled answer returned would mean parsing
PostgreSQL's JSON, and refunding it a second Redis round trip.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values, get_variable_values
from redis.asyncio import Redis
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as StrawberryOperationType

from ymt_graph import redis_clients
from ymt_graph.graph.connection import DEFAULT_PAGE, MAX_PAGE
from ymt_graph.graph.context import Context
from ymt_graph.graph.errors import CodedError, ErrorCode
from ymt_graph.settings import Settings

log = logging.getLogger("ymt_graph.cost")

# -- the cost model -------------------------------------------------------------------------------

CONNECTION_COST = 2
MUTATION_COST = 10
# A list of objects that is not a connection has no `first`: this many items are assumed. Orders and
# carts have a handful of lines, a shipment a handful of tracking events; 10 errs on the heavy side.
LIST_SIZE = 10
# Per-field estimates where the default is wrong, by (type, field name).
LIST_SIZES: dict[tuple[str, str], int] = {
    ("CartLine", "problems"): 6,  # one per CartProblemCode at most
}
FREE_FIELDS = frozenset({"userErrors"})
# Arguments and directives whose (variable) values change an operation's cost.
_SIZE_ARGUMENTS = frozenset({"first", "ids"})
_CONDITIONS = frozenset({"include", "skip"})


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The requested cost of the document's operation (see the module docstring); 0 if it has none.

    ``variables`` are the request's (JSON) values; defaults declared in the operation apply."""
    operation = find_operation(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables or {}))
    walk = _Walk(schema, document, coerced if isinstance(coerced, VariableValues) else None)
    fields = walk.collect(root, [operation.selection_set])
    if operation.operation is OperationType.MUTATION:
        total = 0
        for nodes in fields.values():
            field = root.fields.get(nodes[0].name.value)
            if field is not None:
                total += MUTATION_COST + walk.selection_cost(get_named_type(field.type), nodes)
        return total
    return walk.fields_cost(root, fields)


def find_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return ops[0] if len(ops) == 1 else None
    return next((o for o in ops if o.name is not None and o.name.value == name), None)


class _Walk:
    """One costing: the document's fragments and the operation's coerced variables."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: VariableValues | None) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def collect(
        self, type_: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        """Fields by response key, as graphql-core's field collection would group them for ``type_``."""
        out: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def visit(selections: Iterable[SelectionNode]) -> None:
            for node in selections:
                if not self._included(node):
                    continue
                if isinstance(node, FieldNode):
                    out.setdefault(node.alias.value if node.alias else node.name.value, []).append(node)
                elif isinstance(node, InlineFragmentNode):
                    if node.type_condition is None or self._applies(node.type_condition.name.value, type_):
                        visit(node.selection_set.selections)
                elif isinstance(node, FragmentSpreadNode):
                    name = node.name.value
                    fragment = self.fragments.get(name)
                    if name in visited or fragment is None:
                        continue
                    visited.add(name)
                    if self._applies(fragment.type_condition.name.value, type_):
                        visit(fragment.selection_set.selections)

        for selection_set in selection_sets:
            visit(selection_set.selections)
        return out

    def _included(self, node: SelectionNode) -> bool:
        if not node.directives:
            return True
        try:
            skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
            include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        except GraphQLError:  # a variable missing: execution will say so
            return True
        return not (skip and skip.get("if") is True) and not (include and include.get("if") is False)

    def _applies(self, condition: str, type_: GraphQLObjectType) -> bool:
        cond = self.schema.get_type(condition)
        if cond is type_:
            return True
        return cond is not None and is_abstract_type(cond) and self.schema.is_sub_type(cond, type_)

    def _arguments(self, field: GraphQLField, node: FieldNode) -> dict[str, Any]:
        if not node.arguments:
            return {}
        try:
            return get_argument_values(field, node, self.variables)
        except GraphQLError:
            return {}

    def selection_cost(self, type_: GraphQLNamedType, nodes: list[FieldNode]) -> int:
        """The cost of what ``nodes`` select on a value of ``type_`` (the most, for an abstract type)."""
        sets = [n.selection_set for n in nodes if n.selection_set is not None]
        if not sets:
            return 0
        if isinstance(type_, GraphQLObjectType):
            return self.fields_cost(type_, self.collect(type_, sets))
        if is_abstract_type(type_):
            possible = self.schema.get_possible_types(type_)
            return max((self.fields_cost(t, self.collect(t, sets)) for t in possible), default=0)
        return 0

    def fields_cost(self, parent: GraphQLObjectType, fields: dict[str, list[FieldNode]]) -> int:
        total = 0
        for nodes in fields.values():
            name = nodes[0].name.value
            field = parent.fields.get(name)
            if field is None or name.startswith("__") or name in FREE_FIELDS:
                continue
            named = get_named_type(field.type)
            if is_leaf_type(named):
                continue
            args = self._arguments(field, nodes[0])
            if named.name.endswith("Connection") and "first" in field.args and isinstance(named, GraphQLObjectType):
                first = args.get("first")
                first = DEFAULT_PAGE if first is None else max(0, min(int(first), MAX_PAGE))
                total += CONNECTION_COST + first * self._edge_cost(named, nodes)
                continue
            one = 1 + self.selection_cost(named, nodes)
            if is_list_type(get_nullable_type(field.type)):
                ids = args.get("ids")
                size = len(ids) if name == "nodes" and isinstance(ids, list) else LIST_SIZES.get(
                    (parent.name, name), LIST_SIZE)
                one *= size
            total += one
        return total

    def _edge_cost(self, connection: GraphQLObjectType, nodes: list[FieldNode]) -> int:
        """One edge: its node (1 + selection); ``pageInfo``/``totalCount`` are in the connection's 2."""
        sets = [n.selection_set for n in nodes if n.selection_set is not None]
        per_edge = 0
        for key_nodes in self.collect(connection, sets).values():
            name = key_nodes[0].name.value
            field = connection.fields.get(name)
            if field is None:
                continue
            item = get_named_type(field.type)
            if name == "edges" and isinstance(item, GraphQLObjectType):
                edge_fields = self.collect(item, [n.selection_set for n in key_nodes if n.selection_set])
                for node_nodes in edge_fields.values():
                    node_field = item.fields.get(node_nodes[0].name.value)
                    if node_field is not None and not is_leaf_type(get_named_type(node_field.type)):
                        per_edge += 1 + self.selection_cost(get_named_type(node_field.type), node_nodes)
            elif name == "nodes" and not is_leaf_type(item):
                per_edge += 1 + self.selection_cost(item, key_nodes)
        return per_edge


def cost_variables(document: DocumentNode) -> tuple[str, ...]:
    """Names of the variables a cost depends on: in ``first``/``ids`` arguments and ``@include``/``@skip``."""
    found: set[str] = set()

    def values(value: ValueNode) -> None:
        if isinstance(value, VariableNode):
            found.add(value.name.value)
        elif isinstance(value, ListValueNode):
            for v in value.values:
                values(v)
        elif isinstance(value, ObjectValueNode):
            for f in value.fields:
                values(f.value)

    def directives(nodes: Iterable[DirectiveNode] | None) -> None:
        for d in nodes or ():
            if d.name.value in _CONDITIONS:
                for a in d.arguments or ():
                    values(a.value)

    def visit(selection_set: SelectionSetNode | None) -> None:
        for node in selection_set.selections if selection_set is not None else ():
            directives(node.directives)
            if isinstance(node, FieldNode):
                for a in node.arguments or ():
                    if a.name.value in _SIZE_ARGUMENTS:
                        values(a.value)
                visit(node.selection_set)
            elif isinstance(node, InlineFragmentNode):
                visit(node.selection_set)

    for definition in document.definitions:
        if isinstance(definition, (OperationDefinitionNode, FragmentDefinitionNode)):
            visit(definition.selection_set)
    return tuple(sorted(found))


class CostCache:
    """Costs by (query text, operation, values of the variables that matter): a page of SKUs asked
    for again with another cursor or dealer id costs nothing to price."""

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._costs: OrderedDict[Any, int] = OrderedDict()
        self._relevant: OrderedDict[Any, tuple[str, ...]] = OrderedDict()

    def cost(
        self, schema: GraphQLSchema, document: DocumentNode, query: str | None,
        operation_name: str | None, variables: Mapping[str, Any] | None,
    ) -> int:
        if not query:
            return operation_cost(schema, document, variables, operation_name)
        names = self._relevant.get((query, operation_name))
        if names is None:
            names = self._put(self._relevant, (query, operation_name), cost_variables(document))
        try:
            key = (query, operation_name, orjson.dumps([(variables or {}).get(n) for n in names]) if names else b"")
        except TypeError:  # not JSON (an upload): price it afresh
            return operation_cost(schema, document, variables, operation_name)
        found = self._costs.get(key)
        if found is None:
            found = self._put(self._costs, key, operation_cost(schema, document, variables, operation_name))
        return found

    def _put(self, cache: OrderedDict[Any, Any], key: Any, value: Any) -> Any:
        cache[key] = value
        if len(cache) > self.maxsize:
            cache.popitem(last=False)
        return value

    def clear(self) -> None:
        self._costs.clear()
        self._relevant.clear()


# -- the leaky bucket -----------------------------------------------------------------------------

# KEYS[1] the principal's bucket {level, at}; ARGV size, leak rate (points/s), points to take.
# Leak since `at` (Redis' clock: every API node agrees), take if it fits, keep the key while it
# holds anything. Returns {1 taken | 0 refused, points available after}.
LEAKY_BUCKET = """
local size = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local take = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(state[1]) or 0
local at = tonumber(state[2]) or now
level = math.max(0, level - math.max(0, now - at) * rate)
local ok = 0
if level + take <= size then
  level = level + take
  ok = 1
end
redis.call('HSET', KEYS[1], 'level', string.format('%.6f', level), 'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(level / rate * 1000) + 1000)
return {ok, string.format('%.6f', size - level)}
"""

# After Redis failed, requests go unlimited this long before it is tried again.
FAIL_OPEN_SECONDS = 5.0


@dataclass(frozen=True)
class Throttle:
    """A bucket after a request: whether the cost was taken, and what is left."""

    taken: bool
    available: float
    size: int
    rate: float
    retry_after: int | None  # seconds until the cost would fit, when refused

    def status(self) -> dict[str, Any]:
        return {"maximumAvailable": float(self.size), "currentlyAvailable": int(self.available),
                "restoreRate": float(self.rate)}


class Buckets:
    """Per-principal leaky buckets in Redis: one script call (EVALSHA) per request. A client per
    event loop and URL (redis-py connections belong to the loop that opened them). A Redis that
    fails is left alone for ``FAIL_OPEN_SECONDS``: requests go unlimited meanwhile."""

    def __init__(self) -> None:
        self._scripts: weakref.WeakKeyDictionary[Redis, Any] = weakref.WeakKeyDictionary()
        self._down_until: dict[str, float] = {}  # by URL; present while that Redis is out

    def _script(self, url: str) -> Any:
        client = redis_clients.for_loop(url)
        script = self._scripts.get(client)
        if script is None:
            script = self._scripts[client] = client.register_script(LEAKY_BUCKET)
        return script

    async def take(self, settings: Settings, key: str, cost: int) -> Throttle | None:
        """Take ``cost`` points from the bucket ``key``; None when Redis cannot say (fail open)."""
        url = settings.redis_url
        if not url or time.monotonic() < self._down_until.get(url, 0.0):
            return None
        size, rate = settings.rate_limit_bucket_size, settings.rate_limit_restore_rate
        take = min(cost, size)  # a query bigger than the bucket waits for a full one
        try:
            ok, available = await self._script(url)(keys=[key], args=[size, rate, take])
        except Exception as exc:  # never fail a request over its rate limit
            if url not in self._down_until:
                log.warning("rate limits off: Redis did not answer (%s: %s); requests are not limited "
                            "until it does", type(exc).__name__, exc)
            self._down_until[url] = time.monotonic() + FAIL_OPEN_SECONDS
            return None
        if self._down_until.pop(url, None) is not None:
            log.warning("rate limits on again: Redis answers")
        left = float(available)
        taken = int(ok) == 1
        retry = None if taken else max(1, math.ceil((take - left) / rate))
        return Throttle(taken, left, size, rate, retry)


BUCKETS = Buckets()


def bucket_key(ctx: Context) -> str:
    """Whose bucket: the user or API key (per tenant), else the client's address."""
    prefix = redis_clients.namespace(ctx.settings.rate_limit_key_prefix, ctx.settings.database_url)
    p = ctx.principal
    if p is not None:
        if p.user_id is not None:
            return f"{prefix}:{p.tenant_id}:user:{p.user_id}"
        if p.api_key_id is not None:
            return f"{prefix}:{p.tenant_id}:key:{p.api_key_id}"
        return f"{prefix}:{p.tenant_id}:{p.role.value}:{p.dealer_id}:{p.store_id}"
    client = getattr(ctx.request, "client", None)
    return f"{prefix}:ip:{getattr(client, 'host', None) or 'unknown'}"


# -- the extension --------------------------------------------------------------------------------


def too_complex(cost: int, maximum: int) -> CodedError:
    return CodedError(ErrorCode.QUERY_TOO_COMPLEX,
                      f"Query cost {cost} exceeds the maximum of {maximum} per query: ask for fewer items "
                      f"(`first`) or fewer fields.", cost=cost, maxCost=maximum)


def rate_limited(cost: int, throttle: Throttle) -> CodedError:
    return CodedError(ErrorCode.RATE_LIMITED,
                      f"Rate limited: this query costs {cost} points and {int(throttle.available)} of "
                      f"{throttle.size} are available (restoring {throttle.rate:g} a second); retry in "
                      f"{throttle.retry_after} s.", cost=cost, retryAfter=throttle.retry_after)


class QueryCost(SchemaExtension):
    """Prices each operation, applies the single-query maximum and the principal's bucket, and
    reports ``extensions.cost``. Must come after ``ValidationCache`` in the schema's extensions: its
    ``on_validate`` runs once the document is known valid, before any ``on_execute``."""

    def __init__(self, cache: CostCache) -> None:
        super().__init__()
        self.cache = cache
        self.cost: int | None = None
        self.refused = False
        self.throttle: Throttle | None = None

    async def on_validate(self) -> AsyncIterator[None]:
        ec = self.execution_context
        ctx = ec.context
        if isinstance(ctx, Context) and ec.graphql_document is not None:
            if ec.pre_execution_errors is None and ec.validation_rules:
                # Nothing validated before us (no ValidationCache): do it, as strawberry would.
                from strawberry.schema.schema import validate_document

                ec.pre_execution_errors = validate_document(ec.schema._schema, ec.graphql_document,
                                                            ec.validation_rules)
            if not ec.pre_execution_errors:
                await self._limit(ctx)
        yield

    async def _limit(self, ctx: Context) -> None:
        ec = self.execution_context
        assert ec.graphql_document is not None
        settings = ctx.settings
        cost = self.cache.cost(ec.schema._schema, ec.graphql_document, ec.query, ec.operation_name, ec.variables)
        subscription = ec.operation_type is StrawberryOperationType.SUBSCRIPTION
        if not subscription:  # a stream's results carry no cost: it is paid for (not) at subscribe
            self.cost = cost
        if cost > settings.max_query_cost:
            self.refused = True
            ec.pre_execution_errors = [too_complex(cost, settings.max_query_cost)]
            return
        if subscription or not settings.rate_limits_on:
            return
        prepaid, ctx.prepaid = ctx.prepaid, None
        if prepaid is not None and prepaid[0] == cost:
            self.throttle = prepaid[1]  # the view's fast path took it already (api/view.py)
        else:
            self.throttle = await BUCKETS.take(settings, bucket_key(ctx), cost)
        if self.throttle is not None and not self.throttle.taken:
            self.refused = True
            ec.pre_execution_errors = [rate_limited(cost, self.throttle)]

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return {"cost": cost_report(self.cost, self.refused, self.throttle)}


def cost_report(cost: int, refused: bool, throttle: Throttle | None) -> dict[str, Any]:
    """``extensions.cost`` of an operation that was priced."""
    return {
        "requestedQueryCost": cost,
        "actualQueryCost": None if refused else cost,
        "throttleStatus": throttle.status() if throttle is not None else None,
    }


__all__ = [
    "BUCKETS", "CONNECTION_COST", "LIST_SIZE", "MUTATION_COST", "Buckets", "CostCache", "QueryCost",
    "Throttle", "bucket_key", "cost_report", "cost_variables", "operation_cost",
]
