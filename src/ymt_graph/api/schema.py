"""The one schema: every domain's Query, Mutation and Subscription fields, with limits and caches.

Extensions run per operation, never per field. The limiters' validation rules
are built once so the validation cache (keyed by the rules) hits across requests.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from ymt_graph.api.cost import CostCache, QueryCost
from ymt_graph.api.errors import ErrorShaping, log_errors, shape
from ymt_graph.api.executor import FastExecutionContext
from ymt_graph.compiled.runner import CompiledReads, KnownDocuments
from ymt_graph.graph.node import NodeQuery

# The capability centres, in schema order. Each has ``resolvers.py`` with ``<Name>Query``,
# if it writes ``<Name>Mutation``, and if it streams events ``<Name>Subscription``.
DOMAINS = ("org", "catalog", "pricing", "inventory", "notifications", "orders", "shipping", "aftersales")


def _domain_types(suffix: str) -> list[type]:
    found: list[type] = []
    for domain in DOMAINS:
        try:
            module = importlib.import_module(f"ymt_graph.{domain}.resolvers")
        except ModuleNotFoundError as exc:
            if exc.name != f"ymt_graph.{domain}.resolvers":
                raise
            continue  # a centre still being built has no resolvers yet
        cls = getattr(module, f"{domain.capitalize()}{suffix}", None)
        if cls is not None:
            found.append(cls)
    return found


Query = merge_types("Query", (NodeQuery, *_domain_types("Query")))
Mutation = merge_types("Mutation", tuple(_domain_types("Mutation")))
_subscriptions = tuple(_domain_types("Subscription"))
Subscription = merge_types("Subscription", _subscriptions) if _subscriptions else None

CACHE_SIZE = 1024


class CachedParse(ParserCache):
    """strawberry's ParserCache, except that a document that does not parse is left to strawberry's
    own parse step, which answers it (ParserCache raises from its hook, which a websocket operation
    does not survive: a bare ``complete`` instead of graphql-transport-ws' close 4400 with the reason)."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        with contextlib.suppress(GraphQLError):
            ctx.graphql_document = self.cached_parse_document(ctx.query, **ctx.parse_options)
        yield


class StreamErrorShaping(SchemaExtension):
    """ErrorShaping for streamed results (subscriptions, and operations sent over a websocket):
    ``ErrorShaping`` shapes an operation's result once it is done, but a stream's results leave one
    by one while the operation runs. Each is shaped here as it goes: coded, unexpected ones masked.
    Errors strawberry turns into a protocol close (syntax, unknown operation) are left to it."""

    def on_stream_result(self, result: Any) -> Iterator[None]:
        errors = getattr(result, "errors", None)
        if errors:
            request_id = getattr(self.execution_context.context, "request_id", None)
            result.errors = [e if _closes_socket(e) else shape(e, request_id) for e in errors]
        yield


def _closes_socket(error: GraphQLError) -> bool:
    return isinstance(error, GraphQLSyntaxError) or isinstance(error.original_error, CannotGetOperationTypeError)


class YmtSchema(strawberry.Schema):
    # Shared with the view's fast path (api/view.py): the cost cache ``QueryCost`` prices with,
    # and the documents the compiled path has answered.
    costs: CostCache
    known_documents: KnownDocuments

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        log_errors(errors, execution_context)


@lru_cache(maxsize=4)
def build_schema(max_depth: int = 12, max_tokens: int = 4000, max_aliases: int = 30) -> YmtSchema:
    limit_rules: list[Any] = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    costs = CostCache(maxsize=CACHE_SIZE)
    schema = YmtSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[],
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=FastExecutionContext,
        extensions=[
            ErrorShaping,
            CompiledReads,
            StreamErrorShaping,
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: AddValidationRules(limit_rules),
            lambda: CachedParse(maxsize=CACHE_SIZE),
            lambda: ValidationCache(maxsize=CACHE_SIZE),
            # Last: its on_validate runs once the document is known valid, and before every
            # on_execute (CompiledReads'), so a refused query runs on neither path.
            lambda: QueryCost(costs),
        ],
    )
    schema.costs = costs
    schema.known_documents = KnownDocuments(maxsize=CACHE_SIZE)
    return schema


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
