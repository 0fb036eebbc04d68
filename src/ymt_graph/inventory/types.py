"""GraphQL types of the inventory centre."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.engine import Row

from ymt_graph.catalog.loaders import CatalogLoaders
from ymt_graph.graph.connection import Connection, check_first, connection_of
from ymt_graph.graph.context import Info
from ymt_graph.graph.errors import UserError
from ymt_graph.graph.ids import encode_gid
from ymt_graph.graph.mutation import parse_pk
from ymt_graph.graph.node import Node
from ymt_graph.graph.prefetch import from_loader, register_prefetch
from ymt_graph.inventory import service
from ymt_graph.inventory.loaders import InventoryLoaders
from ymt_graph.org.loaders import OrgLoaders
from ymt_graph.org.types import User, Warehouse

if TYPE_CHECKING:
    from ymt_graph.catalog.types import Sku

InventoryErrorCodeEnum = strawberry.enum(service.InventoryErrorCode, name="InventoryErrorCode")
StockMovementKind = strawberry.enum(
    service.MovementKind, name="StockMovementKind", description="What changed a stock level."
)
SerialUnitStatus = strawberry.enum(service.SerialStatus, name="SerialUnitStatus")
StockTransferStatus = strawberry.enum(service.TransferStatus, name="StockTransferStatus")

LazySku = Annotated["Sku", strawberry.lazy("ymt_graph.catalog.types")]


def inventory(info: Info) -> InventoryLoaders:
    return info.context.loaders(InventoryLoaders)


async def load_sku(info: Info, pk: int) -> Sku | None:
    """A SKU through the catalog's loader (null for a key without catalog:read)."""
    from ymt_graph.catalog.types import Sku  # catalog.types imports this module

    row = await info.context.loaders(CatalogLoaders).sku.load(pk)
    return Sku.from_row(row) if row else None


async def load_warehouse(info: Info, pk: int) -> Warehouse | None:
    row = await info.context.loaders(OrgLoaders).warehouse.load(pk)
    return Warehouse.from_row(row) if row else None


async def load_user(info: Info, pk: int | None) -> User | None:
    if pk is None:
        return None
    row = await info.context.loaders(OrgLoaders).user.load(pk)
    return User.from_row(row) if row else None


@strawberry.type(description="What caused a stock change: an object you can fetch with `node(id)`.")
class StockReference:
    type: str = strawberry.field(description="Its GraphQL type, e.g. StockTransfer or Order.")
    id: strawberry.ID

    @classmethod
    def of(cls, ref_type: str | None, ref_id: int | None) -> StockReference | None:
        if ref_type is None or ref_id is None:
            return None
        return cls(type=ref_type, id=strawberry.ID(encode_gid(ref_type, ref_id)))


@strawberry.type(description="What one warehouse holds of one SKU.")
class StockLevel(Node):
    id: strawberry.ID
    on_hand: int = strawberry.field(description="Units in the warehouse.")
    reserved: int = strawberry.field(description="Units on hand promised to orders.")
    available: int = strawberry.field(description="On hand − reserved: what can still be ordered.")
    inbound: int = strawberry.field(description="Shipped or transferred here, not yet received.")
    safety_stock: int
    reorder_point: int
    below_reorder_point: bool = strawberry.field(
        description="Available + inbound is below the reorder point (time to replenish)."
    )
    updated_at: datetime
    warehouse_pk: strawberry.Private[int]
    sku_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any]) -> StockLevel:
        available = row.on_hand - row.reserved
        return cls(
            id=strawberry.ID(encode_gid("StockLevel", row.id)),
            on_hand=row.on_hand,
            reserved=row.reserved,
            available=available,
            inbound=row.inbound,
            safety_stock=row.safety_stock,
            reorder_point=row.reorder_point,
            below_reorder_point=available + row.inbound < row.reorder_point,
            updated_at=row.updated_at,
            warehouse_pk=row.warehouse_id,
            sku_pk=row.sku_id,
        )

    @strawberry.field
    async def warehouse(self, info: Info) -> Warehouse | None:
        return await load_warehouse(info, self.warehouse_pk)

    @strawberry.field
    async def sku(self, info: Info) -> LazySku | None:
        return await load_sku(info, self.sku_pk)


@strawberry.type(description="One change of one stock level (the ledger: never changed, never deleted).")
class StockMovement(Node):
    id: strawberry.ID
    kind: StockMovementKind  # type: ignore[valid-type]
    on_hand_delta: int
    reserved_delta: int
    inbound_delta: int
    reason: str | None
    reference: StockReference | None
    via_api_key: bool = strawberry.field(description="Made by an integration's API key rather than a person.")
    created_at: datetime
    warehouse_pk: strawberry.Private[int]
    sku_pk: strawberry.Private[int]
    actor_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> StockMovement:
        return cls(
            id=strawberry.ID(encode_gid("StockMovement", row.id)),
            kind=service.MovementKind(row.kind),
            on_hand_delta=row.on_hand_delta,
            reserved_delta=row.reserved_delta,
            inbound_delta=row.inbound_delta,
            reason=row.reason,
            reference=StockReference.of(row.ref_type, row.ref_id),
            via_api_key=row.actor_api_key_id is not None,
            created_at=row.created_at,
            warehouse_pk=row.warehouse_id,
            sku_pk=row.sku_id,
            actor_pk=row.actor_user_id,
        )

    @strawberry.field
    async def warehouse(self, info: Info) -> Warehouse | None:
        return await load_warehouse(info, self.warehouse_pk)

    @strawberry.field
    async def sku(self, info: Info) -> LazySku | None:
        return await load_sku(info, self.sku_pk)

    @strawberry.field(description="The person who made the change; null for API keys and people you may not see.")
    async def actor(self, info: Info) -> User | None:
        return await load_user(info, self.actor_pk)


@strawberry.type
class StockTransferLine:
    quantity: int
    serials: list[str]
    sku_pk: strawberry.Private[int]

    @strawberry.field
    async def sku(self, info: Info) -> LazySku | None:
        return await load_sku(info, self.sku_pk)


@strawberry.type(description="Stock sent from one warehouse to another; inbound at the destination until received.")
class StockTransfer(Node):
    id: strawberry.ID
    status: StockTransferStatus  # type: ignore[valid-type]
    note: str | None
    created_at: datetime
    received_at: datetime | None
    pk: strawberry.Private[int]
    from_pk: strawberry.Private[int]
    to_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any]) -> StockTransfer:
        return cls(
            id=strawberry.ID(encode_gid("StockTransfer", row.id)),
            status=service.TransferStatus(row.status),
            note=row.note,
            created_at=row.created_at,
            received_at=row.received_at,
            pk=row.id,
            from_pk=row.from_warehouse_id,
            to_pk=row.to_warehouse_id,
        )

    @strawberry.field
    async def from_warehouse(self, info: Info) -> Warehouse | None:
        return await load_warehouse(info, self.from_pk)

    @strawberry.field
    async def to_warehouse(self, info: Info) -> Warehouse | None:
        return await load_warehouse(info, self.to_pk)

    @strawberry.field
    async def lines(self, info: Info) -> list[StockTransferLine]:
        rows = await inventory(info).transfer_lines.load(self.pk)
        return [StockTransferLine(quantity=r.quantity, serials=list(r.serials), sku_pk=r.sku_id) for r in rows]


@strawberry.type(description="One step in a serial unit's life: where it was and in what state afterwards.")
class SerialUnitEvent:
    kind: StockMovementKind  # type: ignore[valid-type]
    status: SerialUnitStatus  # type: ignore[valid-type]
    reference: StockReference | None
    at: datetime
    via_api_key: bool
    warehouse_pk: strawberry.Private[int]
    actor_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> SerialUnitEvent:
        return cls(
            kind=service.MovementKind(row.kind),
            status=service.SerialStatus(row.status),
            reference=StockReference.of(row.ref_type, row.ref_id),
            at=row.created_at,
            via_api_key=row.actor_api_key_id is not None,
            warehouse_pk=row.warehouse_id,
            actor_pk=row.actor_user_id,
        )

    @strawberry.field(description="Null where you may not see the warehouse.")
    async def warehouse(self, info: Info) -> Warehouse | None:
        return await load_warehouse(info, self.warehouse_pk)

    @strawberry.field
    async def actor(self, info: Info) -> User | None:
        return await load_user(info, self.actor_pk)


@strawberry.type(description="One unit of a serial-tracked SKU (an e-bike, by its frame/VIN number).")
class SerialUnit(Node):
    id: strawberry.ID
    serial: str
    status: SerialUnitStatus  # type: ignore[valid-type]
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]
    sku_pk: strawberry.Private[int]
    warehouse_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any]) -> SerialUnit:
        return cls(
            id=strawberry.ID(encode_gid("SerialUnit", row.id)),
            serial=row.serial,
            status=service.SerialStatus(row.status),
            created_at=row.created_at,
            updated_at=row.updated_at,
            pk=row.id,
            sku_pk=row.sku_id,
            warehouse_pk=row.warehouse_id,
        )

    @strawberry.field
    async def sku(self, info: Info) -> LazySku | None:
        return await load_sku(info, self.sku_pk)

    @strawberry.field(
        description="Where it is (IN_STOCK), is headed (IN_TRANSIT), or was sold or written off; "
        "null where you may not see the warehouse."
    )
    async def warehouse(self, info: Info) -> Warehouse | None:
        return await load_warehouse(info, self.warehouse_pk)

    @strawberry.field(description="Its steps, oldest first.")
    async def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[SerialUnitEvent]:
        n = check_first(first)
        rp = await inventory(info).history.load((self.pk, n, after))
        return connection_of(rp, n, after, service.EVENT_ORDER, SerialUnitEvent.from_row)


@strawberry.type
class SkuStock:
    """Stock fields of ``Sku`` (mixed into catalog's Sku)."""

    pk: strawberry.Private[int]

    # Sync resolvers: on a list the levels were prefetched at the root (graph.prefetch) and
    # answer at once; anywhere else they return the awaitable load.
    @strawberry.field(
        description="This SKU's stock at a warehouse; null if you may not see the warehouse or it never held the SKU."
    )
    def stock_level(self, info: Info, warehouse_id: strawberry.ID) -> StockLevel | None:
        return _at(info, self.pk, warehouse_id, lambda found: StockLevel.from_row(found.level) if found.level else None)

    @strawberry.field(description="Units available to order at a warehouse (on hand − reserved); null if you "
                      "may not see the warehouse. A buyer also sees this at its supplier's warehouses.")
    def available(self, info: Info, warehouse_id: strawberry.ID) -> int | None:
        return _at(info, self.pk, warehouse_id, lambda found: found.available)


def _at(info: Info, sku_pk: int, warehouse_id: strawberry.ID, build: Callable[[Any], Any]) -> Any:
    return from_loader(inventory(info).at, (sku_pk, parse_pk(warehouse_id, "Warehouse")), build)


async def _prefetch_levels(info: Info, skus: Sequence[Any], args: dict[str, Any]) -> None:
    if args.get("warehouseId"):
        warehouse = parse_pk(args["warehouseId"], "Warehouse")
        await inventory(info).at.load_many([(s.pk, warehouse) for s in skus])


register_prefetch("Sku", "stockLevel", _prefetch_levels)
register_prefetch("Sku", "available", _prefetch_levels)


# ---- inputs, filters, payloads ----------------------------------------------------------------


@strawberry.input
class StockLevelFilter:
    warehouse_id: strawberry.ID | None = strawberry.UNSET
    dealer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The dealer's own warehouses and its stores'."
    )
    sku_id: strawberry.ID | None = strawberry.UNSET
    below_reorder_point: bool | None = strawberry.UNSET


@strawberry.input
class StockMovementFilter:
    warehouse_id: strawberry.ID | None = strawberry.UNSET
    sku_id: strawberry.ID | None = strawberry.UNSET
    kind: StockMovementKind | None = strawberry.UNSET  # type: ignore[valid-type]
    from_: datetime | None = strawberry.field(default=strawberry.UNSET, name="from", description="At or after.")
    to: datetime | None = strawberry.field(default=strawberry.UNSET, description="Before.")
    reference_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Only movements caused by this object (a transfer, an order)."
    )


@strawberry.input
class StockTransferFilter:
    warehouse_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="From or to.")
    status: StockTransferStatus | None = strawberry.UNSET  # type: ignore[valid-type]


@strawberry.input
class StockAdjustInput:
    warehouse_id: strawberry.ID
    sku_id: strawberry.ID
    quantity: int = strawberry.field(description="The change: positive adds stock, negative removes it.")
    reason: str
    serials: list[str] | None = strawberry.field(
        default=None,
        description="Serial-tracked SKUs: adding names every new unit; removing names the units that leave.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="The same key again returns the first result and changes nothing."
    )


@strawberry.input
class StockTransferLineInput:
    sku_id: strawberry.ID
    quantity: int
    serials: list[str] | None = None


@strawberry.input
class StockTransferInput:
    from_warehouse_id: strawberry.ID
    to_warehouse_id: strawberry.ID
    lines: list[StockTransferLineInput]
    note: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="The same key again returns the first transfer and moves nothing."
    )


@strawberry.input
class StockTransferReceiveInput:
    transfer_id: strawberry.ID


@strawberry.input
class StockLevelUpdateInput:
    warehouse_id: strawberry.ID
    sku_id: strawberry.ID
    safety_stock: int | None = strawberry.UNSET
    reorder_point: int | None = strawberry.UNSET


@strawberry.type
class InventoryUserError(UserError):
    field: list[str] | None
    message: str
    code: InventoryErrorCodeEnum  # type: ignore[valid-type]


@strawberry.type
class StockAdjustPayload:
    movement: StockMovement | None = None
    stock_level: StockLevel | None = None
    user_errors: list[InventoryUserError] = strawberry.field(default_factory=list)


@strawberry.type
class StockTransferPayload:
    transfer: StockTransfer | None = None
    user_errors: list[InventoryUserError] = strawberry.field(default_factory=list)


@strawberry.type
class StockTransferReceivePayload(StockTransferPayload):
    pass


@strawberry.type
class StockLevelUpdatePayload:
    stock_level: StockLevel | None = None
    user_errors: list[InventoryUserError] = strawberry.field(default_factory=list)
