"""The one schema: every domain's Query and Mutation fields, with limits and caches.

Extensions run per operation, never per field. The limiters' validation rules
are built once so the validation cache (keyed by the rules) hits across requests.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from ymt_graph.api.errors import ErrorShaping, log_errors
from ymt_graph.api.executor import FastExecutionContext
from ymt_graph.graph.node import NodeQuery

# The capability centres, in schema order. Each has ``resolvers.py`` with ``<Name>Query``
# and, if it writes, ``<Name>Mutation``.
DOMAINS = ("org", "catalog", "pricing", "inventory", "notifications", "orders")


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

CACHE_SIZE = 1024


class YmtSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        log_errors(errors, execution_context)


@lru_cache(maxsize=4)
def build_schema(max_depth: int = 12, max_tokens: int = 4000, max_aliases: int = 30) -> YmtSchema:
    limit_rules: list[Any] = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    return YmtSchema(
        query=Query,
        mutation=Mutation,
        types=[],
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=FastExecutionContext,
        extensions=[
            ErrorShaping,
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: AddValidationRules(limit_rules),
            lambda: ParserCache(maxsize=CACHE_SIZE),
            lambda: ValidationCache(maxsize=CACHE_SIZE),
        ],
    )


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
