"""DataLoaders of the catalog (one set per request, tenant- and scope-checked)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.engine import Row
from strawberry.dataloader import DataLoader

from ymt_graph.catalog import service
from ymt_graph.graph.context import Context

Fetch = Callable[[Any, Any, Sequence[int]], Awaitable[dict[int, Row[Any]]]]


class CatalogLoaders:
    def __init__(self, ctx: Context) -> None:
        db, p = ctx.db, ctx.require_principal()

        def by_ids(fetch: Fetch) -> Callable[[Sequence[int]], Awaitable[list[Row[Any] | None]]]:
            async def load(ids: Sequence[int]) -> list[Row[Any] | None]:
                found = await fetch(db, p, ids)
                return [found.get(i) for i in ids]

            return load

        self.sku: DataLoader[int, Row[Any] | None] = DataLoader(by_ids(service.skus_by_ids))
        self.category: DataLoader[int, Row[Any] | None] = DataLoader(by_ids(service.categories_by_ids))
        self.model: DataLoader[int, Row[Any] | None] = DataLoader(by_ids(service.models_by_ids))
