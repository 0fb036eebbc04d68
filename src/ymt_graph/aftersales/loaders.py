"""DataLoaders of the after-sales centre (one set per request).

``claim`` is scoped by the principal (a claim is visible when its order is); ``by_order`` is
only asked for orders already read through the orders centre's scope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Row
from strawberry.dataloader import DataLoader

from ymt_graph.aftersales import service
from ymt_graph.graph.context import Context


class AftersalesLoaders:
    def __init__(self, ctx: Context) -> None:
        db, p = ctx.db, ctx.require_principal()

        async def load_claims(ids: Sequence[int]) -> list[Row[Any] | None]:
            found = await service.claims_by_ids(db, p, ids)
            return [found.get(i) for i in ids]

        async def load_by_order(ids: Sequence[int]) -> list[list[Row[Any]]]:
            found = await service.claims_for_orders(db, ids)
            return [found.get(i, []) for i in ids]

        self.claim: DataLoader[int, Row[Any] | None] = DataLoader(load_claims)
        self.by_order: DataLoader[int, list[Row[Any]]] = DataLoader(load_by_order)
