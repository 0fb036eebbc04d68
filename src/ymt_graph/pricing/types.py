"""GraphQL types of the price centre."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.engine import Row

from ymt_graph.catalog.loaders import CatalogLoaders
from ymt_graph.graph.connection import Connection, check_first, connection_of
from ymt_graph.graph.context import Info
from ymt_graph.graph.errors import UserError, bad_input
from ymt_graph.graph.ids import encode_gid
from ymt_graph.graph.inputs import pk_filter
from ymt_graph.graph.mutation import parse_pk
from ymt_graph.graph.node import Node
from ymt_graph.graph.prefetch import from_loader, register_prefetch
from ymt_graph.graph.scalars import Money
from ymt_graph.org.loaders import OrgLoaders
from ymt_graph.org.types import Dealer, DealerTier, Region, Store, load_dealer, load_store
from ymt_graph.pricing import service
from ymt_graph.pricing.loaders import PricingLoaders
from ymt_graph.pricing.service import PricingErrorCode

if TYPE_CHECKING:
    from ymt_graph.catalog.types import Sku

# Sku lives in catalog.types, which mixes SkuPricing in: referenced lazily, imported late.
LazySku = Annotated["Sku", strawberry.lazy("ymt_graph.catalog.types")]

PricingErrorCodeEnum = strawberry.enum(PricingErrorCode, name="PricingErrorCode")


@strawberry.enum(description="What a price list is for; its default priority in brackets.")
class PriceListKind(enum.Enum):
    BASE = strawberry.enum_value("BASE", description="HQ's national supply prices (100).")
    TIER = strawberry.enum_value("TIER", description="HQ's prices for a dealer level, tier or region (200).")
    CONTRACT = strawberry.enum_value("CONTRACT", description="HQ's prices for one dealer; confidential (400).")
    PROMOTION = strawberry.enum_value("PROMOTION", description="HQ's time-boxed prices (300).")
    DOWNSTREAM = strawberry.enum_value(
        "DOWNSTREAM", description="A dealer's prices to its own sub-dealers and stores (100)."
    )


@strawberry.enum
class PriceListStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    INACTIVE = strawberry.enum_value("INACTIVE", description="Withdrawn: prices nobody; only HQ and its owner see it.")


@strawberry.enum(description="Which side of the price band a sale fell on.")
class PriceViolationKind(enum.Enum):
    BELOW_FLOOR = "BELOW_FLOOR"
    ABOVE_CEILING = "ABOVE_CEILING"


def pricing(info: Info) -> PricingLoaders:
    return info.context.loaders(PricingLoaders)


def _money(info: Info, amount: Decimal | None) -> Money | None:
    return Money.of(amount, info.context.settings.currency) if amount is not None else None


async def load_sku(info: Info, pk: int) -> Sku | None:
    from ymt_graph.catalog.types import Sku

    row = await info.context.loaders(CatalogLoaders).sku.load(pk)
    return Sku.from_row(row) if row else None


async def load_region(info: Info, pk: int | None) -> Region | None:
    if pk is None:
        return None
    row = await info.context.loaders(OrgLoaders).region.load(pk)
    return Region.from_row(row) if row else None


@strawberry.type(description="A supply price list: BASE, TIER, CONTRACT, PROMOTION (HQ's) or DOWNSTREAM (a dealer's).")
class PriceList(Node):
    id: strawberry.ID
    code: str
    name: str
    kind: PriceListKind
    priority: int = strawberry.field(description="The highest priority among lists offering a price wins.")
    status: PriceListStatus
    valid_from: datetime = strawberry.field(description="Valid from this instant (inclusive) …")
    valid_to: datetime | None = strawberry.field(description="… until this one (exclusive); null: open-ended.")
    dealer_level: int | None = strawberry.field(description="Only for dealers of this level; null: any.")
    dealer_tier: DealerTier | None = strawberry.field(description="Only for dealers of this tier; null: any.")
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]
    region_pk: strawberry.Private[int | None]
    dealer_pk: strawberry.Private[int | None]
    owner_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any] | Mapping[str, Any]) -> PriceList:
        m: Any = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            id=strawberry.ID(encode_gid("PriceList", m["id"])),
            code=m["code"],
            name=m["name"],
            kind=PriceListKind(m["kind"]),
            priority=m["priority"],
            status=PriceListStatus(m["status"]),
            valid_from=m["valid_from"],
            valid_to=m["valid_to"],
            dealer_level=m["dealer_level"],
            dealer_tier=DealerTier(m["dealer_tier"]) if m["dealer_tier"] else None,
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            pk=m["id"],
            region_pk=m["region_id"],
            dealer_pk=m["dealer_id"],
            owner_pk=m["owner_dealer_id"],
        )

    @strawberry.field(description="Only for dealers in this region or below it; null: anywhere.")
    async def region(self, info: Info) -> Region | None:
        return await load_region(info, self.region_pk)

    @strawberry.field(description="CONTRACT: the one dealer it prices.")
    async def dealer(self, info: Info) -> Dealer | None:
        return await load_dealer(info, self.dealer_pk)

    @strawberry.field(description="DOWNSTREAM: the dealer selling at these prices to its own buyers.")
    async def owner_dealer(self, info: Info) -> Dealer | None:
        return await load_dealer(info, self.owner_pk)

    @strawberry.field(
        description="Prices on this list by SKU code and quantity break. By default those valid now or later; "
        "`validAt` gives those valid at one instant, `includeExpired` the whole history."
    )
    async def lines(
        self,
        info: Info,
        sku_id: strawberry.ID | None = None,
        valid_at: datetime | None = None,
        include_expired: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PriceListLine]:
        n = check_first(first)
        f = service.LineFilter(sku_id=pk_filter(sku_id, "Sku"), valid_at=valid_at, include_expired=include_expired)
        rp = await pricing(info).list_lines.load((self.pk, n, after, f))
        currency = info.context.settings.currency
        return connection_of(rp, n, after, service.LINE_ORDER, lambda r: PriceListLine.from_row(r, currency))


@strawberry.type(description="A price of one SKU on a list, from a quantity up, for a window of time.")
class PriceListLine(Node):
    id: strawberry.ID
    min_quantity: int = strawberry.field(description="The quantity break: this price holds from this many units up.")
    amount: Money
    valid_from: datetime = strawberry.field(description="Valid from this instant (inclusive) …")
    valid_to: datetime | None = strawberry.field(description="… until this one (exclusive); null: open-ended.")
    sku_pk: strawberry.Private[int]
    list_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any], currency: str) -> PriceListLine:
        return cls(
            id=strawberry.ID(encode_gid("PriceListLine", row.id)),
            min_quantity=row.min_quantity,
            amount=Money.of(row.amount, currency),
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            sku_pk=row.sku_id,
            list_pk=row.price_list_id,
        )

    @strawberry.field
    async def sku(self, info: Info) -> LazySku | None:
        return await load_sku(info, self.sku_pk)

    @strawberry.field
    async def price_list(self, info: Info) -> PriceList | None:
        row = await pricing(info).price_list.load(self.list_pk)
        return PriceList.from_row(row) if row else None


@strawberry.type(description="The quantity break a resolved price comes from.")
class PriceBreak:
    min_quantity: int
    valid_from: datetime
    valid_to: datetime | None


@strawberry.type(description="A supply price with where it comes from, so anyone can check it.")
class ResolvedPrice:
    amount: Money
    list: PriceList = strawberry.field(description="The list that won: highest priority, then the newer list.")
    break_: PriceBreak = strawberry.field(name="break", description="The largest quantity break reached.")
    why: str = strawberry.field(description="The decision in words: which list won over which, and the break.")

    @classmethod
    def from_row(cls, row: service.ResolvedPriceRow, currency: str) -> ResolvedPrice:
        return cls(
            amount=Money.of(row.amount, currency),
            list=PriceList.from_row(row.price_list),
            break_=PriceBreak(min_quantity=row.min_quantity, valid_from=row.line_valid_from,
                              valid_to=row.line_valid_to),
            why=row.why,
        )


@strawberry.type(description="限价: the band a dealer's price to its buyers must stay in; a null bound is open.")
class PriceLimit:
    floor: Money | None
    ceiling: Money | None
    region: Region | None = strawberry.field(description="The region the band is set for; null: national.")

    @classmethod
    def from_row(cls, row: Row[Any], currency: str) -> PriceLimit:
        return cls(
            floor=Money.of(row.floor, currency) if row.floor is not None else None,
            ceiling=Money.of(row.ceiling, currency) if row.ceiling is not None else None,
            region=Region.joined(row) if row.region_id is not None else None,
        )


@strawberry.type(description="A reported sale outside its price band (乱价), with the band that applied.")
class PriceViolation(Node):
    id: strawberry.ID
    kind: PriceViolationKind
    unit_price: Money
    floor: Money | None
    ceiling: Money | None
    sold_at: datetime
    created_at: datetime
    dealer_pk: strawberry.Private[int]
    store_pk: strawberry.Private[int | None]
    sku_pk: strawberry.Private[int]
    region_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any], currency: str) -> PriceViolation:
        return cls(
            id=strawberry.ID(encode_gid("PriceViolation", row.id)),
            kind=PriceViolationKind(row.kind),
            unit_price=Money.of(row.unit_price, currency),
            floor=Money.of(row.floor, currency) if row.floor is not None else None,
            ceiling=Money.of(row.ceiling, currency) if row.ceiling is not None else None,
            sold_at=row.sold_at,
            created_at=row.created_at,
            dealer_pk=row.dealer_id,
            store_pk=row.store_id,
            sku_pk=row.sku_id,
            region_pk=row.region_id,
        )

    @strawberry.field(description="The dealer that sold (or whose store did).")
    async def dealer(self, info: Info) -> Dealer | None:
        return await load_dealer(info, self.dealer_pk)

    @strawberry.field(description="The store that sold, when a store did.")
    async def store(self, info: Info) -> Store | None:
        return await load_store(info, self.store_pk)

    @strawberry.field
    async def sku(self, info: Info) -> LazySku | None:
        return await load_sku(info, self.sku_pk)

    @strawberry.field(description="The region of the band that applied; null: the national band.")
    async def region(self, info: Info) -> Region | None:
        return await load_region(info, self.region_pk)


@strawberry.type
class SkuPricing:
    """Price fields of ``Sku`` (mixed into catalog's Sku: a SKU is shown with its price)."""

    if TYPE_CHECKING:
        pk: int  # Sku's primary key (declared on Sku)

    # Sync resolvers: on a list the values were prefetched at the root (graph.prefetch) and
    # answer at once; anywhere else they return the awaitable load.
    @strawberry.field(description="The national consumer price (建议零售价); null until HQ sets one.")
    def guide_retail_price(self, info: Info) -> Money | None:
        loader = pricing(info).guide_retail_price
        return from_loader(loader, self.pk, lambda amount: _money(info, amount))  # type: ignore[return-value]

    @strawberry.field(
        description="The supply price for this dealer buying `quantity` units now, with the list, the break and "
        "why. Null when no price applies or the dealer's prices are not yours to see."
    )
    def price(self, info: Info, dealer_id: strawberry.ID, quantity: int = 1) -> ResolvedPrice | None:
        if quantity < 1:
            raise bad_input("`quantity` must be at least 1.", field="quantity")
        currency = info.context.settings.currency
        return from_loader(  # type: ignore[return-value]
            pricing(info).price,
            (self.pk, parse_pk(dealer_id, "Dealer"), quantity),
            lambda row: ResolvedPrice.from_row(row, currency) if row else None,
        )

    @strawberry.field(
        description="The price for this store buying `quantity` units from its dealer now (the dealer's "
        "downstream lists for its buyers), with the list, the break and why. Null when the dealer has no "
        "price for it or the store is not yours to see."
    )
    def store_price(self, info: Info, store_id: strawberry.ID, quantity: int = 1) -> ResolvedPrice | None:
        if quantity < 1:
            raise bad_input("`quantity` must be at least 1.", field="quantity")
        currency = info.context.settings.currency
        return from_loader(  # type: ignore[return-value]
            pricing(info).store_price,
            (self.pk, parse_pk(store_id, "Store"), quantity),
            lambda row: ResolvedPrice.from_row(row, currency) if row else None,
        )

    @strawberry.field(
        description="The price band in a region (by code): the region's own band or one of a region above it, "
        "else the national band; the national band when no region is given. Null when there is none."
    )
    def price_limit(self, info: Info, region_code: str | None = None) -> PriceLimit | None:
        currency = info.context.settings.currency
        return from_loader(  # type: ignore[return-value]
            pricing(info).price_limit,
            (self.pk, region_code),
            lambda row: PriceLimit.from_row(row, currency) if row else None,
        )


async def _prefetch_guide_prices(info: Info, skus: Sequence[Any], args: dict[str, Any]) -> None:
    await pricing(info).guide_retail_price.load_many([s.pk for s in skus])


async def _prefetch_prices(info: Info, skus: Sequence[Any], args: dict[str, Any]) -> None:
    quantity = args.get("quantity") or 0
    if quantity >= 1 and args.get("dealerId"):
        dealer = parse_pk(args["dealerId"], "Dealer")
        await pricing(info).price.load_many([(s.pk, dealer, quantity) for s in skus])


async def _prefetch_limits(info: Info, skus: Sequence[Any], args: dict[str, Any]) -> None:
    await pricing(info).price_limit.load_many([(s.pk, args.get("regionCode")) for s in skus])


register_prefetch("Sku", "guideRetailPrice", _prefetch_guide_prices)
register_prefetch("Sku", "price", _prefetch_prices)
register_prefetch("Sku", "priceLimit", _prefetch_limits)


# ---- inputs, filters, payloads ----------------------------------------------------------------


@strawberry.input
class PriceListFilter:
    kind: PriceListKind | None = strawberry.UNSET
    status: PriceListStatus | None = strawberry.UNSET
    search: str | None = strawberry.field(default=strawberry.UNSET, description="Code or name.")
    dealer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Contracts with this dealer and DOWNSTREAM lists it publishes."
    )
    offered_to: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Lists offered to this dealer: the candidates of its price resolution."
    )


@strawberry.input
class PriceViolationFilter:
    dealer_id: strawberry.ID | None = strawberry.UNSET
    sku_id: strawberry.ID | None = strawberry.UNSET
    from_: datetime | None = strawberry.field(default=strawberry.UNSET, name="from", description="Sold at or after.")
    to: datetime | None = strawberry.field(default=strawberry.UNSET, description="Sold before.")


@strawberry.input
class PriceListCreateInput:
    code: str
    name: str
    kind: PriceListKind
    priority: int | None = strawberry.field(default=None, description="Default by kind: CONTRACT 400, PROMOTION "
                                            "300, TIER 200, BASE and DOWNSTREAM 100.")
    valid_from: datetime | None = strawberry.field(default=None, description="Default: now.")
    valid_to: datetime | None = strawberry.field(default=None, description="Exclusive; required for a PROMOTION.")
    dealer_level: int | None = None
    dealer_tier: DealerTier | None = None
    region_code: str | None = strawberry.field(default=None, description="The region or any region below it.")
    dealer_id: strawberry.ID | None = strawberry.field(default=None, description="CONTRACT: the dealer it prices.")
    owner_dealer_id: strawberry.ID | None = strawberry.field(
        default=None, description="DOWNSTREAM: the dealer publishing it to its own buyers."
    )


@strawberry.input
class PriceListUpdateInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    priority: int | None = strawberry.UNSET
    status: PriceListStatus | None = strawberry.UNSET
    valid_from: datetime | None = strawberry.UNSET
    valid_to: datetime | None = strawberry.UNSET


@strawberry.input
class PriceListLineInput:
    sku_id: strawberry.ID
    min_quantity: int = strawberry.field(default=1, description="The quantity break (≥ 1).")
    amount: Decimal = strawberry.field(description="At most 2 decimals; send it as a string.")
    valid_from: datetime | None = strawberry.field(default=None, description="Default: now.")
    valid_to: datetime | None = strawberry.field(default=None, description="Exclusive; null: open-ended.")


@strawberry.input
class PriceListLinesSetInput:
    price_list_id: strawberry.ID
    lines: list[PriceListLineInput]
    replace: bool = strawberry.field(
        default=False, description="Keep only these lines from now on (running lines end now, future ones go)."
    )


@strawberry.input
class PriceLimitSetInput:
    sku_id: strawberry.ID
    region_code: str | None = strawberry.field(default=None, description="Null: the national band.")
    floor: Decimal | None = strawberry.field(default=None, description="Null: no floor.")
    ceiling: Decimal | None = strawberry.field(default=None, description="Null: no ceiling. Neither: remove the band.")


@strawberry.input
class GuideRetailPriceSetInput:
    sku_id: strawberry.ID
    amount: Decimal


@strawberry.type
class PricingUserError(UserError):
    field: list[str] | None
    message: str
    code: PricingErrorCodeEnum  # type: ignore[valid-type]


@strawberry.type
class PriceListCreatePayload:
    price_list: PriceList | None = None
    user_errors: list[PricingUserError] = strawberry.field(default_factory=list)


@strawberry.type
class PriceListUpdatePayload(PriceListCreatePayload):
    pass


@strawberry.type
class PriceListLinesSetPayload(PriceListCreatePayload):
    pass


@strawberry.type
class PriceLimitSetPayload:
    price_limit: PriceLimit | None = strawberry.field(
        default=None, description="The band now applying to the SKU in that region (or nationally)."
    )
    user_errors: list[PricingUserError] = strawberry.field(default_factory=list)


@strawberry.type
class GuideRetailPriceSetPayload:
    guide_retail_price: Money | None = None
    user_errors: list[PricingUserError] = strawberry.field(default_factory=list)
