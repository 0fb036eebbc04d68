"""The Relay ``Node`` interface and the registry ``node(id)`` uses to fetch any type.

Each domain registers, per GraphQL type name, a batch fetcher that applies the
same access scope as its lists, so ``node`` on a foreign id is null.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import strawberry

from ymt_graph.graph.context import Context


@strawberry.interface(description="An object with a global id.")
class Node:
    id: strawberry.ID


NodeFetcher = Callable[[Context, Sequence[int]], Awaitable[Sequence[Any]]]
_fetchers: dict[str, NodeFetcher] = {}


def register_node(type_name: str, fetch: NodeFetcher) -> None:
    _fetchers[type_name] = fetch


def register_loaded_node(
    type_name: str, loaders: type[Any], loader_name: str, build: Callable[[Any, Context], Any]
) -> None:
    """``node(id)`` for a type through a domain's scoped DataLoader (``ctx.loaders(loaders)``):
    the same read rules as every list, so a foreign id reads as null."""

    async def fetch(ctx: Context, pks: Sequence[int]) -> list[Any]:
        rows = await getattr(ctx.loaders(loaders), loader_name).load_many(pks)
        return [build(row, ctx) if row is not None else None for row in rows]

    register_node(type_name, fetch)


def from_row(build: Callable[[Any], Any]) -> Callable[[Any, Context], Any]:
    """Adapt a ``from_row(row)`` that needs no context to ``register_loaded_node``."""
    return lambda row, _ctx: build(row)


def node_fetcher(type_name: str) -> NodeFetcher | None:
    return _fetchers.get(type_name)


MAX_NODES = 250


async def fetch_nodes(ctx: Context, ids: Sequence[str]) -> list[Any]:
    """Objects for global ids, in order; null for unknown, malformed or unseen ids.
    One batched fetch per type, however many ids."""
    from ymt_graph.graph.ids import decode_gid

    ctx.require_principal()
    wanted: dict[str, list[int]] = {}
    decoded = [decode_gid(gid) for gid in ids]
    for d in decoded:
        if d is not None and d[0] in _fetchers:
            wanted.setdefault(d[0], []).append(d[1])
    found: dict[tuple[str, int], Any] = {}
    for type_name, pks in wanted.items():
        objs = await _fetchers[type_name](ctx, pks)
        found.update({(type_name, pk): obj for pk, obj in zip(pks, objs, strict=True)})
    return [found.get(d) if d is not None else None for d in decoded]


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by global id; null if it does not exist for you.")
    async def node(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> Node | None:
        return (await fetch_nodes(info.context, [id]))[0]

    @strawberry.field(description=f"Objects by global ids (at most {MAX_NODES}), in the same order.")
    async def nodes(self, info: strawberry.Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        from ymt_graph.errors import BadInput

        if len(ids) > MAX_NODES:
            raise BadInput(f"At most {MAX_NODES} ids.", field="ids")
        return await fetch_nodes(info.context, ids)
