"""DataLoaders of the organization: one set per request, every load scoped by the principal."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.engine import Row
from strawberry.dataloader import DataLoader

from ymt_graph.graph.context import Context
from ymt_graph.org import service
from ymt_graph.paging import RowPage, split_pages

PageKey = tuple[int, int, str | None]  # (parent id, first, after)
PageQuery = Callable[[Any, Any, Sequence[int], int, str | None], Awaitable[Sequence[Row[Any]]]]


class OrgLoaders:
    def __init__(self, ctx: Context) -> None:
        db, p = ctx.db, ctx.require_principal()

        async def by_ids(fetch: Any, ids: Sequence[int]) -> list[Row[Any] | None]:
            found = await fetch(db, p, ids)
            return [found.get(i) for i in ids]

        async def load_regions(ids: Sequence[int]) -> list[Row[Any] | None]:
            found = await service.regions_by_ids(db, p.tenant_id, ids)
            return [found.get(i) for i in ids]

        async def load_tenants(ids: Sequence[int]) -> list[Row[Any] | None]:
            found = await service.tenants_by_ids(db, [i for i in ids if i == p.tenant_id])
            return [found.get(i) for i in ids]

        def paged(query: PageQuery) -> Callable[[Sequence[PageKey]], Awaitable[list[RowPage]]]:
            async def load(keys: Sequence[PageKey]) -> list[RowPage]:
                # Keys of one request almost always share (first, after): one statement each.
                groups: dict[tuple[int, str | None], list[int]] = defaultdict(list)
                for parent, first, after in keys:
                    groups[(first, after)].append(parent)
                results: dict[PageKey, RowPage] = {}
                for (first, after), parents in groups.items():
                    rows = await query(db, p, parents, first, after)
                    for parent, rp in zip(parents, split_pages(rows, parents), strict=True):
                        results[(parent, first, after)] = rp
                return [results[k] for k in keys]

            return load

        self.dealer: DataLoader[int, Row[Any] | None] = DataLoader(
            lambda ids: by_ids(service.dealers_by_ids, ids)
        )
        self.store: DataLoader[int, Row[Any] | None] = DataLoader(lambda ids: by_ids(service.stores_by_ids, ids))
        self.warehouse: DataLoader[int, Row[Any] | None] = DataLoader(
            lambda ids: by_ids(service.warehouses_by_ids, ids)
        )
        self.region: DataLoader[int, Row[Any] | None] = DataLoader(load_regions)
        self.tenant: DataLoader[int, Row[Any] | None] = DataLoader(load_tenants)
        self.user: DataLoader[int, Row[Any] | None] = DataLoader(lambda ids: by_ids(service.users_by_ids, ids))
        self.dealer_children: DataLoader[PageKey, RowPage] = DataLoader(paged(service.children_pages))
        self.dealer_stores: DataLoader[PageKey, RowPage] = DataLoader(paged(service.dealer_store_pages))
        self.dealer_warehouses: DataLoader[PageKey, RowPage] = DataLoader(paged(service.dealer_warehouse_pages))
        self.store_warehouses: DataLoader[PageKey, RowPage] = DataLoader(paged(service.store_warehouse_pages))
