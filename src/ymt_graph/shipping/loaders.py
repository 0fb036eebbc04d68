"""DataLoaders of the shipping centre (one set per request).

``shipment`` is scoped by the principal (a shipment is visible when its order is); the
others are only asked for orders or shipments already read through a scoped read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Row
from strawberry.dataloader import DataLoader

from ymt_graph.graph.context import Context
from ymt_graph.shipping import service


class ShippingLoaders:
    def __init__(self, ctx: Context) -> None:
        db, p = ctx.db, ctx.require_principal()

        async def load_shipments(ids: Sequence[int]) -> list[Row[Any] | None]:
            found = await service.shipments_by_ids(db, p, ids)
            return [found.get(i) for i in ids]

        async def load_by_order(ids: Sequence[int]) -> list[list[Row[Any]]]:
            found = await service.shipments_for_orders(db, ids)
            return [found.get(i, []) for i in ids]

        async def load_lines(ids: Sequence[int]) -> list[list[Row[Any]]]:
            found = await service.lines_for(db, ids)
            return [found.get(i, []) for i in ids]

        async def load_events(ids: Sequence[int]) -> list[list[Row[Any]]]:
            found = await service.events_for(db, ids)
            return [found.get(i, []) for i in ids]

        async def load_receipts(ids: Sequence[int]) -> list[Row[Any] | None]:
            found = await service.receipts_for_orders(db, ids)
            return [found.get(i) for i in ids]

        async def load_receipt_lines(ids: Sequence[int]) -> list[list[Row[Any]]]:
            found = await service.receipt_lines_for(db, ids)
            return [found.get(i, []) for i in ids]

        self.shipment: DataLoader[int, Row[Any] | None] = DataLoader(load_shipments)
        self.by_order: DataLoader[int, list[Row[Any]]] = DataLoader(load_by_order)
        self.lines: DataLoader[int, list[Row[Any]]] = DataLoader(load_lines)
        self.events: DataLoader[int, list[Row[Any]]] = DataLoader(load_events)
        self.receipt: DataLoader[int, Row[Any] | None] = DataLoader(load_receipts)
        self.receipt_lines: DataLoader[int, list[Row[Any]]] = DataLoader(load_receipt_lines)
