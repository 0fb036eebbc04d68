"""DataLoaders of the order centre (one set per request, every load scoped by the principal)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Row
from strawberry.dataloader import DataLoader

from ymt_graph.graph.context import Context
from ymt_graph.orders import service


class OrdersLoaders:
    def __init__(self, ctx: Context) -> None:
        db, p = ctx.db, ctx.require_principal()

        async def load_orders(ids: Sequence[int]) -> list[Row[Any] | None]:
            found = await service.orders_by_ids(db, p, ids)
            return [found.get(i) for i in ids]

        # Lines and events are only asked for orders already read through the scoped loaders.
        async def load_lines(ids: Sequence[int]) -> list[list[Row[Any]]]:
            found = await service.lines_for(db, ids)
            return [found.get(i, []) for i in ids]

        async def load_events(ids: Sequence[int]) -> list[list[Row[Any]]]:
            found = await service.events_for(db, ids)
            return [found.get(i, []) for i in ids]

        self.order: DataLoader[int, Row[Any] | None] = DataLoader(load_orders)
        self.lines: DataLoader[int, list[Row[Any]]] = DataLoader(load_lines)
        self.events: DataLoader[int, list[Row[Any]]] = DataLoader(load_events)
