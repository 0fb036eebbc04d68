"""Query and Mutation fields of the inventory centre: read the input, call the service, map errors."""

from __future__ import annotations

from typing import Any

import strawberry

from ymt_graph.graph.connection import Connection, check_first, page_connection, selects
from ymt_graph.graph.context import Context, Info
from ymt_graph.graph.ids import decode_gid
from ymt_graph.graph.inputs import enum_value, given, pk_filter
from ymt_graph.graph.mutation import attempt, parse_pk
from ymt_graph.graph.node import from_row, register_loaded_node
from ymt_graph.inventory import service
from ymt_graph.inventory.loaders import InventoryLoaders
from ymt_graph.inventory.types import (
    InventoryUserError,
    SerialUnit,
    StockAdjustInput,
    StockAdjustPayload,
    StockLevel,
    StockLevelFilter,
    StockLevelUpdateInput,
    StockLevelUpdatePayload,
    StockMovement,
    StockMovementFilter,
    StockTransfer,
    StockTransferFilter,
    StockTransferInput,
    StockTransferPayload,
    StockTransferReceiveInput,
    StockTransferReceivePayload,
)

register_loaded_node("StockLevel", InventoryLoaders, "level", from_row(StockLevel.from_row))
register_loaded_node("StockMovement", InventoryLoaders, "movement", from_row(StockMovement.from_row))
register_loaded_node("StockTransfer", InventoryLoaders, "transfer", from_row(StockTransfer.from_row))
register_loaded_node("SerialUnit", InventoryLoaders, "serial_unit", from_row(SerialUnit.from_row))


def _reference(gid: Any) -> service.Ref | None:
    gid = given(gid)
    if gid is None:
        return None
    decoded = decode_gid(gid)
    # A malformed id matches nothing, like any id you cannot see.
    return service.Ref(decoded[0], decoded[1]) if decoded else service.Ref("", 0)


@strawberry.type
class InventoryQuery:
    @strawberry.field(description="Stock levels of the warehouses you see (HQ's, and your own and your "
                      "subtree's), ordered by warehouse, then SKU.")
    async def stock_levels(
        self, info: Info, filter: StockLevelFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[StockLevel]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or StockLevelFilter()
        sf = service.LevelFilter(
            warehouse_id=pk_filter(f.warehouse_id, "Warehouse"),
            dealer_id=pk_filter(f.dealer_id, "Dealer"),
            sku_id=pk_filter(f.sku_id, "Sku"),
            below_reorder_point=given(f.below_reorder_point),
        )
        pg = await service.stock_levels_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.LEVEL_ORDER, StockLevel.from_row)

    @strawberry.field(description="The stock ledger, newest first: movements of the warehouses whose ledger "
                      "you see (HQ's ledger is HQ's).")
    async def stock_movements(
        self, info: Info, filter: StockMovementFilter | None = None, first: int | None = None,
        after: str | None = None,
    ) -> Connection[StockMovement]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or StockMovementFilter()
        sf = service.MovementFilter(
            warehouse_id=pk_filter(f.warehouse_id, "Warehouse"),
            sku_id=pk_filter(f.sku_id, "Sku"),
            kind=enum_value(f.kind),
            since=given(f.from_),
            until=given(f.to),
            ref=_reference(f.reference_id),
        )
        pg = await service.movements_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.MOVEMENT_ORDER, StockMovement.from_row)

    @strawberry.field(description="Transfers into or out of warehouses whose ledger you see, newest first.")
    async def stock_transfers(
        self, info: Info, filter: StockTransferFilter | None = None, first: int | None = None,
        after: str | None = None,
    ) -> Connection[StockTransfer]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or StockTransferFilter()
        sf = service.TransferFilter(warehouse_id=pk_filter(f.warehouse_id, "Warehouse"), status=enum_value(f.status))
        pg = await service.transfers_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.TRANSFER_ORDER, StockTransfer.from_row)

    @strawberry.field(description="A unit by its serial (frame/VIN) number; null unless it is or was at a "
                      "warehouse whose ledger you see.")
    async def serial_unit(self, info: Info, serial: str) -> SerialUnit | None:
        ctx = info.context
        row = await service.serial_unit_by_serial(ctx.db, ctx.require_principal(), serial)
        return SerialUnit.from_row(row) if row else None


async def _level_at(ctx: Context, warehouse_id: int, sku_id: int) -> StockLevel | None:
    found = await ctx.loaders(InventoryLoaders).at.load((sku_id, warehouse_id))
    return StockLevel.from_row(found.level) if found.level is not None else None


async def _reload_transfer(ctx: Context, transfer_id: int) -> StockTransfer | None:
    row = await ctx.loaders(InventoryLoaders).transfer.load(transfer_id)
    return StockTransfer.from_row(row) if row else None


@strawberry.type
class InventoryMutation:
    @strawberry.mutation(description="Correct a warehouse's stock by a signed quantity, with a reason "
                         "(count differences, damage, goods from outside the channel).")
    async def stock_adjust(self, info: Info, input: StockAdjustInput) -> StockAdjustPayload:
        ctx = info.context
        p = ctx.require_principal()
        req = service.AdjustRequest(
            warehouse_id=parse_pk(input.warehouse_id, "Warehouse"),
            sku_id=parse_pk(input.sku_id, "Sku"),
            quantity=input.quantity,
            reason=input.reason,
            serials=tuple(input.serials or ()),
            idempotency_key=input.idempotency_key,
        )
        done = await attempt(ctx, lambda conn: service.stock_adjust(conn, p, req))
        if done.error:
            return StockAdjustPayload(user_errors=done.user_errors(InventoryUserError))
        row = await ctx.loaders(InventoryLoaders).movement.load(done.value)
        return StockAdjustPayload(
            movement=StockMovement.from_row(row) if row else None,
            stock_level=await _level_at(ctx, req.warehouse_id, req.sku_id),
        )

    @strawberry.mutation(description="Send stock from one of your warehouses to another: it leaves the source "
                         "now and is inbound at the destination until `stockTransferReceive`.")
    async def stock_transfer(self, info: Info, input: StockTransferInput) -> StockTransferPayload:
        ctx = info.context
        p = ctx.require_principal()
        req = service.TransferRequest(
            from_warehouse_id=parse_pk(input.from_warehouse_id, "Warehouse"),
            to_warehouse_id=parse_pk(input.to_warehouse_id, "Warehouse"),
            lines=tuple(
                service.StockLine(parse_pk(ln.sku_id, "Sku"), ln.quantity, tuple(ln.serials or ()))
                for ln in input.lines
            ),
            note=input.note,
            idempotency_key=input.idempotency_key,
        )
        done = await attempt(ctx, lambda conn: service.stock_transfer(conn, p, req))
        if done.error:
            return StockTransferPayload(user_errors=done.user_errors(InventoryUserError))
        return StockTransferPayload(transfer=await _reload_transfer(ctx, done.value))

    @strawberry.mutation(description="The destination receives a transfer into stock (once).")
    async def stock_transfer_receive(
        self, info: Info, input: StockTransferReceiveInput
    ) -> StockTransferReceivePayload:
        ctx = info.context
        p = ctx.require_principal()
        transfer_id = parse_pk(input.transfer_id, "StockTransfer")
        done = await attempt(ctx, lambda conn: service.receive_transfer(conn, p, transfer_id))
        if done.error:
            return StockTransferReceivePayload(user_errors=done.user_errors(InventoryUserError))
        return StockTransferReceivePayload(transfer=await _reload_transfer(ctx, transfer_id))

    @strawberry.mutation(description="Set a stock level's safety stock and reorder point.")
    async def stock_level_update(self, info: Info, input: StockLevelUpdateInput) -> StockLevelUpdatePayload:
        ctx = info.context
        p = ctx.require_principal()
        warehouse_id = parse_pk(input.warehouse_id, "Warehouse")
        sku_id = parse_pk(input.sku_id, "Sku")
        safety, reorder = given(input.safety_stock), given(input.reorder_point)
        done = await attempt(ctx, lambda conn: service.set_planning(conn, p, warehouse_id, sku_id, safety, reorder))
        if done.error:
            return StockLevelUpdatePayload(user_errors=done.user_errors(InventoryUserError))
        return StockLevelUpdatePayload(stock_level=await _level_at(ctx, warehouse_id, sku_id))
