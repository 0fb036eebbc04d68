"""DataLoaders of the price centre (one set per request, every load scoped by the principal).

A priced catalog page costs one statement per loader however many SKUs it shows: prices
are grouped by (dealer, quantity) — one resolution statement per group, and a page asks
for one dealer and quantity — limits by region, guide prices all at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Row
from strawberry.dataloader import DataLoader

from ymt_graph.graph.context import Context
from ymt_graph.paging import RowPage, split_pages
from ymt_graph.pricing import service

PriceKey = tuple[int, int, int]  # (SKU, buying dealer or store, quantity)
LimitKey = tuple[int, str | None]  # (SKU, region code or None for national)
LinesKey = tuple[int, int, str | None, service.LineFilter]  # (price list, first, after, filter)


class PricingLoaders:
    def __init__(self, ctx: Context) -> None:
        db, p = ctx.db, ctx.require_principal()

        def by_ids(fetch: Any) -> Callable[[Sequence[int]], Awaitable[list[Row[Any] | None]]]:
            async def load(ids: Sequence[int]) -> list[Row[Any] | None]:
                found = await fetch(db, p, ids)
                return [found.get(i) for i in ids]

            return load

        def prices(store: bool) -> Callable[[Sequence[PriceKey]], Awaitable[list[service.ResolvedPriceRow | None]]]:
            async def load(keys: Sequence[PriceKey]) -> list[service.ResolvedPriceRow | None]:
                groups: dict[tuple[int, int], list[int]] = defaultdict(list)
                for sku, buyer, quantity in keys:
                    groups[(buyer, quantity)].append(sku)
                found: dict[PriceKey, service.ResolvedPriceRow] = {}
                for (buyer, quantity), sku_ids in groups.items():
                    resolved = await service.resolve_prices(db, p, buyer, sku_ids, quantity, store=store)
                    found.update({(sku, buyer, quantity): row for sku, row in resolved.items()})
                return [found.get(k) for k in keys]

            return load

        async def load_limits(keys: Sequence[LimitKey]) -> list[Row[Any] | None]:
            groups: dict[str | None, list[int]] = defaultdict(list)
            for sku, region_code in keys:
                groups[region_code].append(sku)
            found: dict[LimitKey, Row[Any]] = {}
            for region_code, sku_ids in groups.items():
                bands = await service.price_limits_of(db, p, sku_ids, region_code)
                found.update({(sku, region_code): row for sku, row in bands.items()})
            return [found.get(k) for k in keys]

        async def load_guide_prices(sku_ids: Sequence[int]) -> list[Decimal | None]:
            found = await service.guide_retail_prices_of(db, p, sku_ids)
            return [found.get(i) for i in sku_ids]

        async def load_line_pages(keys: Sequence[LinesKey]) -> list[RowPage]:
            groups: dict[tuple[int, str | None, service.LineFilter], list[int]] = defaultdict(list)
            for list_id, first, after, f in keys:
                groups[(first, after, f)].append(list_id)
            results: dict[LinesKey, RowPage] = {}
            for (first, after, f), list_ids in groups.items():
                rows = await service.line_pages(db, p, list_ids, first, after, f)
                for list_id, rp in zip(list_ids, split_pages(rows, list_ids), strict=True):
                    results[(list_id, first, after, f)] = rp
            return [results[k] for k in keys]

        self.price_list: DataLoader[int, Row[Any] | None] = DataLoader(by_ids(service.price_lists_by_ids))
        self.line: DataLoader[int, Row[Any] | None] = DataLoader(by_ids(service.lines_by_ids))
        self.violation: DataLoader[int, Row[Any] | None] = DataLoader(by_ids(service.violations_by_ids))
        self.price: DataLoader[PriceKey, service.ResolvedPriceRow | None] = DataLoader(prices(store=False))
        # Keys (SKU, buying store, quantity): a store buying from its dealer.
        self.store_price: DataLoader[PriceKey, service.ResolvedPriceRow | None] = DataLoader(prices(store=True))
        self.price_limit: DataLoader[LimitKey, Row[Any] | None] = DataLoader(load_limits)
        self.guide_retail_price: DataLoader[int, Decimal | None] = DataLoader(load_guide_prices)
        self.list_lines: DataLoader[LinesKey, RowPage] = DataLoader(load_line_pages)
