"""DataLoaders of the notifications centre (one set per request, scoped by the principal)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Row
from strawberry.dataloader import DataLoader

from ymt_graph.graph.context import Context
from ymt_graph.notifications import service
from ymt_graph.paging import RowPage, split_pages

PageKey = tuple[int, int, str | None]  # (subscription id, first, after)


class NotificationsLoaders:
    def __init__(self, ctx: Context) -> None:
        db, p = ctx.db, ctx.require_principal()

        async def load_subscriptions(ids: Sequence[int]) -> list[Row[Any] | None]:
            found = await service.subscriptions_by_ids(db, p, ids)
            return [found.get(i) for i in ids]

        async def load_deliveries(keys: Sequence[PageKey]) -> list[RowPage]:
            # Parents come from scoped subscription reads; one statement per (first, after).
            groups: dict[tuple[int, str | None], list[int]] = defaultdict(list)
            for parent, first, after in keys:
                groups[(first, after)].append(parent)
            results: dict[PageKey, RowPage] = {}
            for (first, after), parents in groups.items():
                rows = await service.delivery_pages(db, parents, first, after)
                for parent, rp in zip(parents, split_pages(rows, parents), strict=True):
                    results[(parent, first, after)] = rp
            return [results[k] for k in keys]

        self.subscription: DataLoader[int, Row[Any] | None] = DataLoader(load_subscriptions)
        self.deliveries: DataLoader[PageKey, RowPage] = DataLoader(load_deliveries)
