"""DataLoaders of the inventory centre (one set per request, every load scoped by the principal)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.engine import Row
from strawberry.dataloader import DataLoader

from ymt_graph.graph.context import Context
from ymt_graph.inventory import service
from ymt_graph.paging import RowPage, split_pages

PageKey = tuple[int, int, str | None]  # (parent id, first, after)
Fetch = Callable[[Any, Any, Sequence[int]], Awaitable[dict[int, Row[Any]]]]


class InventoryLoaders:
    def __init__(self, ctx: Context) -> None:
        db, p = ctx.db, ctx.require_principal()

        def by_ids(fetch: Fetch) -> Callable[[Sequence[int]], Awaitable[list[Row[Any] | None]]]:
            async def load(ids: Sequence[int]) -> list[Row[Any] | None]:
                found = await fetch(db, p, ids)
                return [found.get(i) for i in ids]

            return load

        async def load_at(keys: Sequence[tuple[int, int]]) -> list[service.LevelLookup]:
            found = await service.levels_at(db, p, keys)
            return [found[k] for k in keys]

        async def load_lines(ids: Sequence[int]) -> list[list[Row[Any]]]:
            found = await service.transfer_lines_for(db, ids)
            return [found.get(i, []) for i in ids]

        async def load_history(keys: Sequence[PageKey]) -> list[RowPage]:
            # Keys of one request share (first, after): one statement per such pair.
            groups: dict[tuple[int, str | None], list[int]] = defaultdict(list)
            for unit, first, after in keys:
                groups[(first, after)].append(unit)
            results: dict[PageKey, RowPage] = {}
            for (first, after), units in groups.items():
                rows = await service.serial_history_pages(db, units, first, after)
                for unit, rp in zip(units, split_pages(rows, units), strict=True):
                    results[(unit, first, after)] = rp
            return [results[k] for k in keys]

        self.level: DataLoader[int, Row[Any] | None] = DataLoader(by_ids(service.levels_by_ids))
        self.movement: DataLoader[int, Row[Any] | None] = DataLoader(by_ids(service.movements_by_ids))
        self.transfer: DataLoader[int, Row[Any] | None] = DataLoader(by_ids(service.transfers_by_ids))
        self.serial_unit: DataLoader[int, Row[Any] | None] = DataLoader(by_ids(service.serial_units_by_ids))
        # (sku id, warehouse id): Sku.stockLevel / Sku.available for a page of SKUs in one statement.
        self.at: DataLoader[tuple[int, int], service.LevelLookup] = DataLoader(load_at)
        self.transfer_lines: DataLoader[int, list[Row[Any]]] = DataLoader(load_lines)
        self.history: DataLoader[PageKey, RowPage] = DataLoader(load_history)
