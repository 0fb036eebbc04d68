"""Inventory rules: stock levels kept in step with an append-only ledger, reservations,
shipments, transfers and serial units.

Every change of a stock level is one ``stock_movements`` row carrying the deltas it
applied, written in the same transaction as the level, so a level always equals the
sum of its movements. A decrement is one conditional ``UPDATE … WHERE <stays valid>``:
the row lock serialises concurrent writers and PostgreSQL re-checks the condition on
the latest row, so stock is never oversold, whatever the concurrency. Levels are
touched in (warehouse, SKU) order so multi-line operations cannot deadlock each other.

Two kinds of callers:

* mutations (``adjust``, ``transfer``, ``receive_transfer``, ``set_planning``) take the
  principal and check its rights with ``access``;
* the order centre calls ``reserve``, ``release``, ``ship_reserved``,
  ``receive_inbound`` and ``record_sale`` with a tenant id: it has decided the rights
  (a buyer reserves its supplier's stock) and passes the order as ``ref``.

All take an open transaction and raise ``DomainError`` before anything is committed.

Serial units. Units of a serial-tracked SKU that enter stock by adjustment are
registered one by one; units that leave (adjustment, transfer, shipment, sale) are
named. Stock taken over without serials (opening balances, e.g. the demo seed) may
leave unnamed as long as it lasts: a level never holds fewer units on hand than it
has registered units in stock (and never fewer inbound than units heading to it).
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row

from ymt_graph import access
from ymt_graph.access import Forbidden, Principal
from ymt_graph.catalog import service as catalog_service
from ymt_graph.db import table
from ymt_graph.errors import DomainError, Executor
from ymt_graph.inventory import models
from ymt_graph.org import service as org_service
from ymt_graph.paging import Order, Page, equal_to, newest_first, order_by, page, partitioned_page_query

stock_levels = table(models.StockLevel)
movements = table(models.StockMovement)
transfers = table(models.StockTransfer)
transfer_lines = table(models.StockTransferLine)
serial_units = table(models.SerialUnit)
serial_events = table(models.SerialUnitEvent)
idempotency_keys = table(models.StockIdempotencyKey)

warehouses = org_service.warehouses
dealers = org_service.dealers
stores = org_service.stores
regions = org_service.regions
skus = catalog_service.skus

T = TypeVar("T")


class InventoryErrorCode(enum.Enum):
    WAREHOUSE_NOT_FOUND = "WAREHOUSE_NOT_FOUND"
    SKU_NOT_FOUND = "SKU_NOT_FOUND"
    QUANTITY_INVALID = "QUANTITY_INVALID"
    REASON_BLANK = "REASON_BLANK"
    NOTE_TOO_LONG = "NOTE_TOO_LONG"
    LINES_EMPTY = "LINES_EMPTY"
    LINES_TOO_MANY = "LINES_TOO_MANY"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    RESERVATION_EXCEEDED = "RESERVATION_EXCEEDED"
    INBOUND_EXCEEDED = "INBOUND_EXCEEDED"
    SAME_WAREHOUSE = "SAME_WAREHOUSE"
    TRANSFER_NOT_FOUND = "TRANSFER_NOT_FOUND"
    TRANSFER_ALREADY_RECEIVED = "TRANSFER_ALREADY_RECEIVED"
    SERIAL_INVALID = "SERIAL_INVALID"
    SERIAL_NOT_TRACKED = "SERIAL_NOT_TRACKED"
    SERIAL_COUNT_MISMATCH = "SERIAL_COUNT_MISMATCH"
    SERIAL_DUPLICATE = "SERIAL_DUPLICATE"
    SERIAL_NOT_FOUND = "SERIAL_NOT_FOUND"
    PLANNING_INVALID = "PLANNING_INVALID"
    IDEMPOTENCY_KEY_INVALID = "IDEMPOTENCY_KEY_INVALID"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"


class MovementKind(enum.StrEnum):
    RECEIPT = "RECEIPT"
    SHIPMENT = "SHIPMENT"
    SALE = "SALE"
    ADJUSTMENT = "ADJUSTMENT"
    TRANSFER_OUT = "TRANSFER_OUT"
    TRANSFER_IN = "TRANSFER_IN"
    RETURN = "RETURN"
    RESERVATION = "RESERVATION"
    RELEASE = "RELEASE"


class SerialStatus(enum.StrEnum):
    IN_STOCK = "IN_STOCK"
    IN_TRANSIT = "IN_TRANSIT"
    SOLD = "SOLD"
    WRITTEN_OFF = "WRITTEN_OFF"


class TransferStatus(enum.StrEnum):
    IN_TRANSIT = "IN_TRANSIT"
    RECEIVED = "RECEIVED"


SERIAL_RE = re.compile(r"^[A-Z0-9][A-Z0-9._/-]{0,63}$")
MAX_REASON = 200
MAX_NOTE = 500
MAX_LINES = 250
MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class Ref:
    """What caused a movement, as a GraphQL type name and primary key (clients get a global id)."""

    type: str
    id: int


@dataclass(frozen=True)
class Actor:
    """Who did it: a user, an API key, or the system (both None)."""

    user_id: int | None = None
    api_key_id: int | None = None

    @classmethod
    def of(cls, p: Principal) -> Actor:
        return cls(user_id=p.user_id, api_key_id=p.api_key_id)


SYSTEM = Actor()


@dataclass(frozen=True)
class StockLine:
    """A quantity of one SKU, with the serials of the units when they are named."""

    sku_id: int
    quantity: int
    serials: tuple[str, ...] = ()


LineLike = StockLine | tuple[int, int]


def _as_lines(lines: Iterable[LineLike]) -> list[StockLine]:
    return [ln if isinstance(ln, StockLine) else StockLine(ln[0], ln[1]) for ln in lines]


# ---- validation helpers ---------------------------------------------------------------------


def _fail(code: InventoryErrorCode, message: str, *field: str | int) -> DomainError:
    return DomainError(code, message, [str(f) for f in field] or None)


def normalize_serial(serial: str) -> str:
    """Frame/VIN numbers are compared without case or surrounding blanks."""
    return serial.strip().upper()


def _check_serials(serials: Sequence[str], *field: str | int) -> tuple[str, ...]:
    out = tuple(normalize_serial(s) for s in serials)
    bad = [s for s in out if not SERIAL_RE.match(s)]
    if bad:
        raise _fail(InventoryErrorCode.SERIAL_INVALID,
                    f"Not a serial number: {', '.join(map(repr, bad[:10]))} "
                    "(1-64 letters, digits, '.', '_', '/', '-').",
                    *field, "serials")
    dupes = sorted(s for s, n in Counter(out).items() if n > 1)
    if dupes:
        raise _fail(InventoryErrorCode.SERIAL_DUPLICATE, f"Serials named twice: {', '.join(dupes[:20])}.",
                    *field, "serials")
    return out


def _check_lines(lines: Sequence[StockLine], field: str = "lines") -> list[StockLine]:
    """Quantities positive, SKUs not repeated (lines of one SKU are merged), serials well-formed."""
    if not lines:
        raise _fail(InventoryErrorCode.LINES_EMPTY, "Give at least one line.", field)
    if len(lines) > MAX_LINES:
        raise _fail(InventoryErrorCode.LINES_TOO_MANY, f"At most {MAX_LINES} lines.", field)
    merged: dict[int, StockLine] = {}
    for i, ln in enumerate(lines):
        if not 0 < ln.quantity <= MAX_QUANTITY:
            raise _fail(InventoryErrorCode.QUANTITY_INVALID,
                        f"Quantity must be between 1 and {MAX_QUANTITY:,}.", field, i, "quantity")
        serials = _check_serials(ln.serials, field, i)
        prev = merged.get(ln.sku_id)
        if prev is not None:
            ln = StockLine(ln.sku_id, prev.quantity + ln.quantity, _check_serials(prev.serials + serials, field, i))
        else:
            ln = StockLine(ln.sku_id, ln.quantity, serials)
        merged[ln.sku_id] = ln
    return list(merged.values())


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise _fail(InventoryErrorCode.REASON_BLANK, "Say why the stock changes.", "reason")
    if len(reason) > MAX_REASON:
        raise _fail(InventoryErrorCode.REASON_BLANK, f"Reason must be at most {MAX_REASON} characters.", "reason")
    return reason


@dataclass(frozen=True)
class _Sku:
    id: int
    code: str
    serial_tracked: bool


async def _skus(
    conn: Executor, tenant_id: int, ids: Sequence[int], field: Callable[[int], list[str]]
) -> dict[int, _Sku]:
    """The SKUs of the tenant; an unknown id is SKU_NOT_FOUND at ``field(id)``."""
    stmt = sa.select(skus.c.id, skus.c.code, skus.c.serial_tracked).where(
        skus.c.tenant_id == tenant_id, skus.c.id.in_(set(ids))
    )
    found = {r.id: _Sku(r.id, r.code, r.serial_tracked) for r in (await conn.execute(stmt)).all()}
    for sku_id in ids:
        if sku_id not in found:
            raise DomainError(InventoryErrorCode.SKU_NOT_FOUND, "SKU not found.", field(sku_id))
    return found


@dataclass(frozen=True)
class _Warehouse:
    id: int
    code: str
    owner_kind: str
    store_id: int | None
    dealer_path: str | None


def _warehouse_select() -> sa.Select[Any]:
    return sa.select(
        warehouses.c.id, warehouses.c.code, warehouses.c.owner_kind, warehouses.c.store_id,
        dealers.c.path.label("dealer_path"),
    ).select_from(warehouses.outerjoin(dealers, dealers.c.id == warehouses.c.dealer_id))


async def _tenant_warehouse(conn: Executor, tenant_id: int, warehouse_id: int, field: str) -> _Warehouse:
    stmt = _warehouse_select().where(warehouses.c.tenant_id == tenant_id, warehouses.c.id == warehouse_id)
    return _warehouse_or_fail((await conn.execute(stmt)).first(), field)


async def _writable_warehouse(conn: Executor, p: Principal, warehouse_id: int, field: str) -> _Warehouse:
    """A warehouse the principal sees (else WAREHOUSE_NOT_FOUND) and may change (else FORBIDDEN)."""
    stmt = _warehouse_select().where(
        warehouses.c.id == warehouse_id, access.warehouse_scope(p, warehouses, dealers, stores, regions)
    )
    wh = _warehouse_or_fail((await conn.execute(stmt)).first(), field)
    if not access.may_write_stock(p, wh.owner_kind, wh.dealer_path, wh.store_id):
        raise Forbidden(f"You may not change the stock of warehouse {wh.code}.")
    return wh


def _warehouse_or_fail(row: Row[Any] | None, field: str) -> _Warehouse:
    if row is None:
        raise DomainError(InventoryErrorCode.WAREHOUSE_NOT_FOUND, "Warehouse not found.", [field])
    return _Warehouse(row.id, row.code, row.owner_kind, row.store_id, row.dealer_path)


# ---- the ledger -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Change:
    """One movement: the deltas it applies to one level."""

    warehouse_id: int
    sku_id: int
    kind: MovementKind
    on_hand: int = 0
    reserved: int = 0
    inbound: int = 0
    field: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Context:
    """Names for messages and the movement's provenance."""

    tenant_id: int
    skus: dict[int, _Sku]
    warehouse_codes: dict[int, str]
    reason: str | None
    ref: Ref | None
    actor: Actor

    def provenance(self) -> dict[str, Any]:
        """The reference and actor columns movements and serial events share."""
        return {
            "ref_type": self.ref.type if self.ref else None, "ref_id": self.ref.id if self.ref else None,
            "actor_user_id": self.actor.user_id, "actor_api_key_id": self.actor.api_key_id,
        }


async def _post(conn: Executor, ctx: _Context, changes: Sequence[_Change]) -> list[int]:
    """Apply the changes to their levels and append them to the ledger; movement ids in the
    order given. Any change that would break a level's rules raises and nothing is kept."""
    order = sorted(range(len(changes)), key=lambda i: (changes[i].warehouse_id, changes[i].sku_id))
    for i in order:
        await _apply(conn, ctx, changes[i])
    values = [
        {
            "tenant_id": ctx.tenant_id, "warehouse_id": c.warehouse_id, "sku_id": c.sku_id, "kind": c.kind.value,
            "on_hand_delta": c.on_hand, "reserved_delta": c.reserved, "inbound_delta": c.inbound,
            "reason": ctx.reason, **ctx.provenance(),
        }
        for c in changes
    ]
    result = await conn.execute(sa.insert(movements).values(values).returning(movements.c.id))
    # PostgreSQL returns a multi-row INSERT's rows in VALUES order (relied on, not promised:
    # only single-change callers use the ids).
    return [int(r.id) for r in result.all()]


async def _apply(conn: Executor, ctx: _Context, c: _Change) -> None:
    c_ = stock_levels.c
    if c.reserved == 0 and c.on_hand >= 0 and c.inbound >= 0:
        # Only additions: the level may not exist yet.
        ins = pg_insert(stock_levels).values(
            tenant_id=ctx.tenant_id, warehouse_id=c.warehouse_id, sku_id=c.sku_id, on_hand=c.on_hand, inbound=c.inbound
        )
        await conn.execute(
            ins.on_conflict_do_update(
                constraint="uq_stock_levels_warehouse_sku",
                set_={"on_hand": c_.on_hand + c.on_hand, "inbound": c_.inbound + c.inbound,
                      "updated_at": sa.func.now()},
            )
        )
        return
    on_hand, reserved, inbound = c_.on_hand + c.on_hand, c_.reserved + c.reserved, c_.inbound + c.inbound
    stmt = (
        sa.update(stock_levels)
        .where(
            c_.tenant_id == ctx.tenant_id, c_.warehouse_id == c.warehouse_id, c_.sku_id == c.sku_id,
            # The level's CHECK constraints, as a condition: a shortfall updates nothing.
            reserved >= 0, on_hand >= reserved, inbound >= 0,
        )
        .values(on_hand=on_hand, reserved=reserved, inbound=inbound, updated_at=sa.func.now())
        .returning(c_.id)
    )
    if (await conn.execute(stmt)).first() is None:
        raise await _shortfall(conn, ctx, c)


async def _shortfall(conn: Executor, ctx: _Context, c: _Change) -> DomainError:
    c_ = stock_levels.c
    row = (
        await conn.execute(
            sa.select(c_.on_hand, c_.reserved, c_.inbound).where(
                c_.tenant_id == ctx.tenant_id, c_.warehouse_id == c.warehouse_id, c_.sku_id == c.sku_id
            )
        )
    ).first()
    on_hand, reserved, inbound = (row.on_hand, row.reserved, row.inbound) if row else (0, 0, 0)
    sku = ctx.skus[c.sku_id].code
    where = ctx.warehouse_codes.get(c.warehouse_id, "the warehouse")
    if c.inbound < 0 and inbound + c.inbound < 0:
        return DomainError(InventoryErrorCode.INBOUND_EXCEEDED,
                           f"{sku} at {where}: receiving {-c.inbound}, but only {inbound} on the way.", list(c.field))
    if c.reserved < 0 and reserved + c.reserved < 0:
        return DomainError(InventoryErrorCode.RESERVATION_EXCEEDED,
                           f"{sku} at {where}: {-c.reserved} asked of reserved stock, but only {reserved} reserved.",
                           list(c.field))
    wanted = c.reserved if c.reserved > 0 else -c.on_hand
    return DomainError(InventoryErrorCode.INSUFFICIENT_STOCK,
                       f"Not enough {sku} at {where}: wanted {wanted}, available {on_hand - reserved}.", list(c.field))


# ---- serial units ---------------------------------------------------------------------------


async def _register_serials(
    conn: Executor, ctx: _Context, warehouse_id: int, line: StockLine, kind: MovementKind, field: Sequence[str | int]
) -> None:
    """New units in stock. A serial already registered in the tenant is refused by name."""
    if not line.serials:
        return
    ins = pg_insert(serial_units).values(
        [{"tenant_id": ctx.tenant_id, "serial": s, "sku_id": line.sku_id, "status": SerialStatus.IN_STOCK.value,
          "warehouse_id": warehouse_id} for s in line.serials]
    )
    # ON CONFLICT DO NOTHING: a taken serial (also one taken by a concurrent request) is
    # simply not returned, and the transaction stays usable for the error.
    result = await conn.execute(
        ins.on_conflict_do_nothing(constraint="uq_serial_units_serial").returning(
            serial_units.c.id, serial_units.c.serial
        )
    )
    made = {r.serial: r.id for r in result.all()}
    taken = [s for s in line.serials if s not in made]
    if taken:
        raise _fail(InventoryErrorCode.SERIAL_DUPLICATE,
                    f"Serials already registered: {', '.join(taken[:20])}.", *field, "serials")
    await _serial_events(conn, ctx, list(made.values()), kind, SerialStatus.IN_STOCK, warehouse_id)


async def _move_serials(
    conn: Executor,
    ctx: _Context,
    line: StockLine,
    *,
    at: int,
    status: SerialStatus,
    to: int,
    new_status: SerialStatus,
    kind: MovementKind,
    field: Sequence[str | int],
) -> None:
    """Named units of the line, ``status`` at warehouse ``at``, become ``new_status`` at ``to``."""
    if not line.serials:
        return
    u = serial_units.c
    stmt = (
        sa.update(serial_units)
        .where(u.tenant_id == ctx.tenant_id, u.serial.in_(line.serials), u.sku_id == line.sku_id,
               u.status == status.value, u.warehouse_id == at)
        .values(status=new_status.value, warehouse_id=to, updated_at=sa.func.now())
        .returning(u.id, u.serial)
    )
    moved = {r.serial: r.id for r in (await conn.execute(stmt)).all()}
    missing = [s for s in line.serials if s not in moved]
    if missing:
        where = ctx.warehouse_codes.get(at, "the warehouse")
        state = "in stock" if status is SerialStatus.IN_STOCK else "on the way"
        raise _fail(InventoryErrorCode.SERIAL_NOT_FOUND,
                    f"No {ctx.skus[line.sku_id].code} units {state} at {where} with serials: "
                    f"{', '.join(missing[:20])}.", *field, "serials")
    await _serial_events(conn, ctx, list(moved.values()), kind, new_status, to)


async def _serial_events(
    conn: Executor, ctx: _Context, unit_ids: Sequence[int], kind: MovementKind, status: SerialStatus, warehouse_id: int
) -> None:
    await conn.execute(
        sa.insert(serial_events).values(
            [{"tenant_id": ctx.tenant_id, "serial_unit_id": uid, "kind": kind.value, "status": status.value,
              "warehouse_id": warehouse_id, **ctx.provenance()} for uid in unit_ids]
        )
    )


def _check_named(ctx: _Context, line: StockLine, field: Sequence[str | int], *, required: bool = False) -> None:
    """Serials only for serial-tracked SKUs, and then for every unit of the line (or, when
    unnamed stock may move, for none)."""
    sku = ctx.skus[line.sku_id]
    if not sku.serial_tracked:
        if line.serials:
            raise _fail(InventoryErrorCode.SERIAL_NOT_TRACKED,
                        f"{sku.code} is not serial-tracked: give no serials.", *field, "serials")
        return
    if len(line.serials) == line.quantity or (not line.serials and not required):
        return
    raise _fail(InventoryErrorCode.SERIAL_COUNT_MISMATCH,
                f"{sku.code} is serial-tracked: name the serial of each of the {line.quantity} units "
                f"({len(line.serials)} given).", *field, "serials")


async def _check_unnamed_covered(
    conn: Executor, ctx: _Context, warehouse_id: int, lines: Sequence[StockLine], *, inbound: bool,
    field: Callable[[int], list[str]],
) -> None:
    """After unnamed units of serial-tracked SKUs moved: the level still holds at least as many
    units (on hand, or inbound) as it has registered units there (in stock, or heading to it).
    Runs after the level update, whose row lock keeps concurrent movers of the level out."""
    unnamed = [ln.sku_id for ln in lines if ctx.skus[ln.sku_id].serial_tracked and not ln.serials]
    if not unnamed:
        return
    u, c_ = serial_units.c, stock_levels.c
    status = SerialStatus.IN_TRANSIT if inbound else SerialStatus.IN_STOCK
    registered = (
        sa.select(sa.func.count()).where(
            u.tenant_id == ctx.tenant_id, u.warehouse_id == warehouse_id, u.sku_id == c_.sku_id,
            u.status == status.value,
        ).scalar_subquery()
    )
    held = c_.inbound if inbound else c_.on_hand
    stmt = sa.select(c_.sku_id, held.label("held"), registered.label("registered")).where(
        c_.tenant_id == ctx.tenant_id, c_.warehouse_id == warehouse_id, c_.sku_id.in_(unnamed)
    )
    for r in (await conn.execute(stmt)).all():
        if r.registered > r.held:
            raise _fail(InventoryErrorCode.SERIAL_COUNT_MISMATCH,
                        f"{ctx.skus[r.sku_id].code} at {ctx.warehouse_codes.get(warehouse_id, 'the warehouse')} "
                        f"is held by serial: name the serials of the units that move.",
                        *field(r.sku_id), "serials")


def _line_field(lines: Sequence[StockLine], name: str = "lines") -> Callable[[int], list[str]]:
    index = {ln.sku_id: i for i, ln in enumerate(lines)}
    return lambda sku_id: [name, str(index.get(sku_id, 0))]


# ---- mutations with a principal -------------------------------------------------------------


async def adjust(
    conn: Executor,
    p: Principal,
    warehouse_id: int,
    sku_id: int,
    delta: int,
    reason: str,
    serials: Sequence[str] = (),
) -> int:
    """Count correction, write-off or receipt of stock from outside the channel (ADJUSTMENT).
    Returns the movement id. Adding serial-tracked units registers their serials (exactly
    ``delta`` of them); removing them names the units written off."""
    if delta == 0 or abs(delta) > MAX_QUANTITY:
        raise _fail(InventoryErrorCode.QUANTITY_INVALID,
                    f"Quantity must be a non-zero change of at most {MAX_QUANTITY:,}.", "quantity")
    reason = _check_reason(reason)
    names = _check_serials(serials)
    wh = await _writable_warehouse(conn, p, warehouse_id, "warehouseId")
    sku_map = await _skus(conn, p.tenant_id, [sku_id], lambda _: ["skuId"])
    ctx = _Context(p.tenant_id, sku_map, {wh.id: wh.code}, reason, None, Actor.of(p))
    line = StockLine(sku_id, abs(delta), names)
    _check_named(ctx, line, (), required=delta > 0)
    [movement_id] = await _post(conn, ctx, [_Change(wh.id, sku_id, MovementKind.ADJUSTMENT, on_hand=delta,
                                                    field=("quantity",))])
    if delta > 0:
        await _register_serials(conn, ctx, wh.id, line, MovementKind.ADJUSTMENT, ())
    else:
        await _move_serials(conn, ctx, line, at=wh.id, status=SerialStatus.IN_STOCK, to=wh.id,
                            new_status=SerialStatus.WRITTEN_OFF, kind=MovementKind.ADJUSTMENT, field=())
        await _check_unnamed_covered(conn, ctx, wh.id, [line], inbound=False, field=lambda _: [])
    return movement_id


async def transfer(
    conn: Executor,
    p: Principal,
    from_warehouse_id: int,
    to_warehouse_id: int,
    lines: Sequence[LineLike],
    note: str | None = None,
) -> int:
    """Send stock between two warehouses the principal runs: it leaves the source now
    (TRANSFER_OUT) and is inbound at the destination until received. Returns the transfer id."""
    items = _check_lines(_as_lines(lines))
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise _fail(InventoryErrorCode.NOTE_TOO_LONG, f"Note must be at most {MAX_NOTE} characters.", "note")
    if from_warehouse_id == to_warehouse_id:
        raise _fail(InventoryErrorCode.SAME_WAREHOUSE, "Source and destination are the same warehouse.",
                    "toWarehouseId")
    src = await _writable_warehouse(conn, p, from_warehouse_id, "fromWarehouseId")
    dst = await _writable_warehouse(conn, p, to_warehouse_id, "toWarehouseId")
    field = _line_field(items)
    sku_map = await _skus(conn, p.tenant_id, [ln.sku_id for ln in items], lambda s: [*field(s), "skuId"])
    actor = Actor.of(p)
    transfer_id = int(
        (
            await conn.execute(
                sa.insert(transfers)
                .values(tenant_id=p.tenant_id, from_warehouse_id=src.id, to_warehouse_id=dst.id,
                        status=TransferStatus.IN_TRANSIT.value, note=note,
                        created_by_user_id=actor.user_id, created_by_api_key_id=actor.api_key_id)
                .returning(transfers.c.id)
            )
        ).scalar_one()
    )
    await conn.execute(
        sa.insert(transfer_lines).values(
            [{"tenant_id": p.tenant_id, "transfer_id": transfer_id, "sku_id": ln.sku_id, "quantity": ln.quantity,
              "serials": list(ln.serials)} for ln in items]
        )
    )
    ctx = _Context(p.tenant_id, sku_map, {src.id: src.code, dst.id: dst.code}, note,
                   Ref("StockTransfer", transfer_id), actor)
    await _send(conn, ctx, src.id, dst.id, items, MovementKind.TRANSFER_OUT, reserved=False)
    return transfer_id


async def _send(
    conn: Executor, ctx: _Context, src: int, dst: int, items: Sequence[StockLine], kind: MovementKind, *, reserved: bool
) -> None:
    """Stock leaves ``src`` (from what is available, or from what was reserved for it) and is
    inbound at ``dst``; named units go IN_TRANSIT towards ``dst``."""
    field = _line_field(items)
    for i, ln in enumerate(items):
        _check_named(ctx, ln, ("lines", i))
    changes: list[_Change] = []
    for i, ln in enumerate(items):
        f = ("lines", str(i), "quantity")
        changes.append(_Change(src, ln.sku_id, kind, on_hand=-ln.quantity,
                               reserved=-ln.quantity if reserved else 0, field=f))
        changes.append(_Change(dst, ln.sku_id, kind, inbound=ln.quantity, field=f))
    await _post(conn, ctx, changes)
    for i, ln in enumerate(items):
        await _move_serials(conn, ctx, ln, at=src, status=SerialStatus.IN_STOCK, to=dst,
                            new_status=SerialStatus.IN_TRANSIT, kind=kind, field=("lines", i))
    await _check_unnamed_covered(conn, ctx, src, items, inbound=False, field=field)


async def receive_transfer(conn: Executor, p: Principal, transfer_id: int) -> int:
    """The destination takes a transfer into stock (TRANSFER_IN), once."""
    t = (await transfers_by_ids(conn, p, [transfer_id])).get(transfer_id)
    if t is None:
        raise _fail(InventoryErrorCode.TRANSFER_NOT_FOUND, "Transfer not found.", "transferId")
    dst = await _writable_warehouse(conn, p, t.to_warehouse_id, "transferId")
    actor = Actor.of(p)
    # Conditional: of two receipts at once, one changes the status, the other finds it done.
    done = (
        await conn.execute(
            sa.update(transfers)
            .where(transfers.c.id == transfer_id, transfers.c.status == TransferStatus.IN_TRANSIT.value)
            .values(status=TransferStatus.RECEIVED.value, received_at=sa.func.now(),
                    received_by_user_id=actor.user_id, received_by_api_key_id=actor.api_key_id)
            .returning(transfers.c.id)
        )
    ).first()
    if done is None:
        raise _fail(InventoryErrorCode.TRANSFER_ALREADY_RECEIVED, "This transfer has already been received.",
                    "transferId")
    rows = (await transfer_lines_for(conn, [transfer_id])).get(transfer_id, [])
    items = [StockLine(r.sku_id, r.quantity, tuple(r.serials)) for r in rows]
    sku_map = await _skus(conn, p.tenant_id, [ln.sku_id for ln in items], lambda _: ["transferId"])
    ctx = _Context(p.tenant_id, sku_map, {dst.id: dst.code}, t.note, Ref("StockTransfer", transfer_id), actor)
    await _take_in(conn, ctx, dst.id, items, MovementKind.TRANSFER_IN)
    return transfer_id


async def _take_in(conn: Executor, ctx: _Context, dst: int, items: Sequence[StockLine], kind: MovementKind) -> None:
    """Inbound stock arrives: inbound down, on hand up, named units IN_STOCK."""
    await _post(conn, ctx, [_Change(dst, ln.sku_id, kind, on_hand=ln.quantity, inbound=-ln.quantity,
                                    field=("lines", str(i), "quantity")) for i, ln in enumerate(items)])
    for i, ln in enumerate(items):
        await _move_serials(conn, ctx, ln, at=dst, status=SerialStatus.IN_TRANSIT, to=dst,
                            new_status=SerialStatus.IN_STOCK, kind=kind, field=("lines", i))
    await _check_unnamed_covered(conn, ctx, dst, items, inbound=True, field=_line_field(items))


async def set_planning(
    conn: Executor, p: Principal, warehouse_id: int, sku_id: int, safety_stock: int | None, reorder_point: int | None
) -> int:
    """Set a level's safety stock and reorder point (not stock: no movement). Returns the level id."""
    for name, value in (("safetyStock", safety_stock), ("reorderPoint", reorder_point)):
        if value is not None and not 0 <= value <= MAX_QUANTITY:
            raise _fail(InventoryErrorCode.PLANNING_INVALID, f"{name} must be between 0 and {MAX_QUANTITY:,}.", name)
    wh = await _writable_warehouse(conn, p, warehouse_id, "warehouseId")
    await _skus(conn, p.tenant_id, [sku_id], lambda _: ["skuId"])
    values = {k: v for k, v in (("safety_stock", safety_stock), ("reorder_point", reorder_point)) if v is not None}
    ins = pg_insert(stock_levels).values(tenant_id=p.tenant_id, warehouse_id=wh.id, sku_id=sku_id, **values)
    stmt = ins.on_conflict_do_update(
        constraint="uq_stock_levels_warehouse_sku", set_={**values, "updated_at": sa.func.now()}
    ).returning(stock_levels.c.id)
    return int((await conn.execute(stmt)).scalar_one())


# ---- the order centre's calls (rights decided by the caller) --------------------------------


async def _tenant_context(
    conn: Executor, tenant_id: int, warehouse_ids: Sequence[int], lines: Sequence[StockLine], ref: Ref | None,
    actor: Actor, reason: str | None = None,
) -> _Context:
    names = ("fromWarehouseId", "toWarehouseId") if len(warehouse_ids) == 2 else ("warehouseId",)
    codes = {wid: (await _tenant_warehouse(conn, tenant_id, wid, name)).code
             for wid, name in zip(warehouse_ids, names, strict=True)}
    field = _line_field(lines)
    sku_map = await _skus(conn, tenant_id, [ln.sku_id for ln in lines], lambda s: [*field(s), "skuId"])
    return _Context(tenant_id, sku_map, codes, reason, ref, actor)


async def reserve(
    conn: Executor, tenant_id: int, warehouse_id: int, lines: Sequence[LineLike], ref: Ref, *, actor: Actor = SYSTEM
) -> list[int]:
    """Hold available stock for an order (RESERVATION). All lines or none: one short line
    raises INSUFFICIENT_STOCK naming the SKU, what was wanted and what is available."""
    items = _check_lines(_as_lines(lines))
    ctx = await _tenant_context(conn, tenant_id, [warehouse_id], items, ref, actor)
    return await _post(conn, ctx, [_Change(warehouse_id, ln.sku_id, MovementKind.RESERVATION, reserved=ln.quantity,
                                           field=("lines", str(i), "quantity")) for i, ln in enumerate(items)])


async def release(
    conn: Executor, tenant_id: int, warehouse_id: int, lines: Sequence[LineLike], ref: Ref, *, actor: Actor = SYSTEM
) -> list[int]:
    """Give reserved stock back to available (RELEASE), e.g. an order cancelled before shipment."""
    items = _check_lines(_as_lines(lines))
    ctx = await _tenant_context(conn, tenant_id, [warehouse_id], items, ref, actor)
    return await _post(conn, ctx, [_Change(warehouse_id, ln.sku_id, MovementKind.RELEASE, reserved=-ln.quantity,
                                           field=("lines", str(i), "quantity")) for i, ln in enumerate(items)])


async def ship_reserved(
    conn: Executor,
    tenant_id: int,
    from_warehouse_id: int,
    to_warehouse_id: int,
    lines: Sequence[LineLike],
    ref: Ref,
    *,
    actor: Actor = SYSTEM,
) -> None:
    """Ship reserved stock to the buyer's warehouse (SHIPMENT): on hand and reserved down at the
    source, inbound up at the destination; serials named on the lines go IN_TRANSIT."""
    items = _check_lines(_as_lines(lines))
    if from_warehouse_id == to_warehouse_id:
        raise _fail(InventoryErrorCode.SAME_WAREHOUSE, "Source and destination are the same warehouse.",
                    "toWarehouseId")
    ctx = await _tenant_context(conn, tenant_id, [from_warehouse_id, to_warehouse_id], items, ref, actor)
    await _send(conn, ctx, from_warehouse_id, to_warehouse_id, items, MovementKind.SHIPMENT, reserved=True)


async def receive_inbound(
    conn: Executor, tenant_id: int, warehouse_id: int, lines: Sequence[LineLike], ref: Ref, *, actor: Actor = SYSTEM
) -> None:
    """The buyer receives shipped stock (RECEIPT): inbound down, on hand up; serials named on
    the lines (IN_TRANSIT to this warehouse) go IN_STOCK. Short or damaged units are simply
    not received here: they stay inbound until after-sales settles them."""
    items = _check_lines(_as_lines(lines))
    ctx = await _tenant_context(conn, tenant_id, [warehouse_id], items, ref, actor)
    for i, ln in enumerate(items):
        _check_named(ctx, ln, ("lines", i))
    await _take_in(conn, ctx, warehouse_id, items, MovementKind.RECEIPT)


async def record_sale(
    conn: Executor, tenant_id: int, warehouse_id: int, lines: Sequence[LineLike], ref: Ref, *, actor: Actor = SYSTEM
) -> None:
    """Sell-out from available stock (SALE); serials named on the lines become SOLD."""
    items = _check_lines(_as_lines(lines))
    ctx = await _tenant_context(conn, tenant_id, [warehouse_id], items, ref, actor)
    for i, ln in enumerate(items):
        _check_named(ctx, ln, ("lines", i))
    await _post(conn, ctx, [_Change(warehouse_id, ln.sku_id, MovementKind.SALE, on_hand=-ln.quantity,
                                    field=("lines", str(i), "quantity")) for i, ln in enumerate(items)])
    for i, ln in enumerate(items):
        await _move_serials(conn, ctx, ln, at=warehouse_id, status=SerialStatus.IN_STOCK, to=warehouse_id,
                            new_status=SerialStatus.SOLD, kind=MovementKind.SALE, field=("lines", i))
    await _check_unnamed_covered(conn, ctx, warehouse_id, items, inbound=False, field=_line_field(items))


# ---- idempotency ----------------------------------------------------------------------------


def fingerprint(request: Any) -> str:
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def once(
    conn: Executor, p: Principal, operation: str, key: str | None, request: Any, work: Callable[[], Awaitable[int]]
) -> int:
    """Run ``work`` once per (tenant, operation, key); a repeat returns the first result.

    The key row is inserted first: a concurrent request with the same key waits on the
    unique index until this transaction ends, then finds the row (and returns its result),
    or, if this one rolled back, goes ahead itself. Failed requests leave no key behind."""
    if key is None:
        return await work()
    key = key.strip()
    if not 1 <= len(key) <= 128:
        raise _fail(InventoryErrorCode.IDEMPOTENCY_KEY_INVALID, "idempotencyKey must be 1-128 characters.",
                    "idempotencyKey")
    k = idempotency_keys.c
    digest = fingerprint(request)
    claimed = (
        await conn.execute(
            pg_insert(idempotency_keys)
            .values(tenant_id=p.tenant_id, operation=operation, key=key, fingerprint=digest)
            .on_conflict_do_nothing(constraint="uq_stock_idempotency_keys_key")
            .returning(k.id)
        )
    ).first()
    if claimed is None:
        prior = (
            await conn.execute(
                sa.select(k.fingerprint, k.result_id).where(
                    k.tenant_id == p.tenant_id, k.operation == operation, k.key == key
                )
            )
        ).one()
        if prior.fingerprint != digest:
            raise _fail(InventoryErrorCode.IDEMPOTENCY_KEY_REUSED,
                        "This idempotencyKey was already used for a different request.", "idempotencyKey")
        return int(prior.result_id)
    result = await work()
    await conn.execute(sa.update(idempotency_keys).where(k.id == claimed.id).values(result_id=result))
    return result


@dataclass(frozen=True)
class AdjustRequest:
    warehouse_id: int
    sku_id: int
    quantity: int
    reason: str
    serials: tuple[str, ...] = ()
    idempotency_key: str | None = None


async def stock_adjust(conn: Executor, p: Principal, r: AdjustRequest) -> int:
    """The ``stockAdjust`` mutation: ``adjust`` under an idempotency key. Returns the movement id."""
    request = [r.warehouse_id, r.sku_id, r.quantity, r.reason, sorted(normalize_serial(s) for s in r.serials)]
    return await once(conn, p, "stockAdjust", r.idempotency_key, request,
                      lambda: adjust(conn, p, r.warehouse_id, r.sku_id, r.quantity, r.reason, r.serials))


@dataclass(frozen=True)
class TransferRequest:
    from_warehouse_id: int
    to_warehouse_id: int
    lines: tuple[StockLine, ...]
    note: str | None = None
    idempotency_key: str | None = None


async def stock_transfer(conn: Executor, p: Principal, r: TransferRequest) -> int:
    """The ``stockTransfer`` mutation: ``transfer`` under an idempotency key. Returns the transfer id."""
    request = [r.from_warehouse_id, r.to_warehouse_id, r.note,
               [[ln.sku_id, ln.quantity, sorted(normalize_serial(s) for s in ln.serials)] for ln in r.lines]]
    return await once(conn, p, "stockTransfer", r.idempotency_key, request,
                      lambda: transfer(conn, p, r.from_warehouse_id, r.to_warehouse_id, r.lines, r.note))


# ---- reads ----------------------------------------------------------------------------------


LEVEL_ORDER: Order = order_by(stock_levels.c.warehouse_id, stock_levels.c.sku_id)
MOVEMENT_ORDER: Order = newest_first(movements.c.id)
TRANSFER_ORDER: Order = newest_first(transfers.c.id)
EVENT_ORDER: Order = order_by(serial_events.c.id)


def _seen_warehouses(p: Principal) -> sa.Select[Any]:
    return sa.select(warehouses.c.id).where(access.warehouse_scope(p, warehouses, dealers, stores, regions))


def _ledger_warehouses(p: Principal) -> sa.Select[Any]:
    return sa.select(warehouses.c.id).where(access.stock_ledger_scope(p, warehouses, dealers, stores, regions))


@dataclass(frozen=True)
class LevelFilter:
    warehouse_id: int | None = None
    dealer_id: int | None = None
    sku_id: int | None = None
    below_reorder_point: bool | None = None


def below_reorder_point(level: Any) -> sa.ColumnElement[bool]:
    """Stock position (available + inbound) below the reorder point (0 = none set: never below)."""
    return (level.on_hand - level.reserved + level.inbound) < level.reorder_point


def level_select(p: Principal) -> sa.Select[Any]:
    return sa.select(stock_levels).where(
        stock_levels.c.tenant_id == p.tenant_id, stock_levels.c.warehouse_id.in_(_seen_warehouses(p))
    )


async def stock_levels_page(
    db: Executor, p: Principal, f: LevelFilter, first: int, after: str | None, want_total: bool
) -> Page:
    c = stock_levels.c
    clauses = equal_to((c.warehouse_id, f.warehouse_id), (c.sku_id, f.sku_id))
    if f.dealer_id is not None:
        # The dealer's own warehouses and its stores'.
        clauses.append(c.warehouse_id.in_(sa.select(warehouses.c.id).where(
            warehouses.c.tenant_id == p.tenant_id, warehouses.c.dealer_id == f.dealer_id)))
    if f.below_reorder_point is not None:
        below = below_reorder_point(c)
        clauses.append(below if f.below_reorder_point else sa.not_(below))
    return await page(db, level_select(p).where(*clauses), LEVEL_ORDER, first, after, want_total)


async def levels_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    return {r.id: r for r in (await db.execute(level_select(p).where(stock_levels.c.id.in_(ids)))).all()}


@dataclass(frozen=True)
class LevelLookup:
    """One (SKU, warehouse) as a principal sees it. ``level`` is the whole stock level, for
    those who may see the warehouse (None also when it never held the SKU); ``available`` is
    what can still be ordered there, also for buyers shown their seller's stock
    (``access.availability_scope``), and None for anyone else."""

    level: Row[Any] | None = None
    available: int | None = None


async def levels_at(db: Executor, p: Principal, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], LevelLookup]:
    """Levels for (sku id, warehouse id) pairs in one statement: the warehouses among those asked
    whose availability the principal sees, each with its levels of the SKUs asked (none: a row
    of nulls), and whether it sees the warehouse in full."""
    sku_ids = sorted({k[0] for k in keys})
    wh_ids = sorted({k[1] for k in keys})
    lv = stock_levels
    joined = warehouses.outerjoin(
        lv, sa.and_(lv.c.warehouse_id == warehouses.c.id, lv.c.tenant_id == p.tenant_id, lv.c.sku_id.in_(sku_ids))
    )
    stmt = (
        sa.select(warehouses.c.id.label("wh"),
                  access.warehouse_scope(p, warehouses, dealers, stores, regions).label("in_full"), *lv.c)
        .select_from(joined)
        .where(warehouses.c.id.in_(wh_ids), access.availability_scope(p, warehouses, dealers, stores, regions))
    )
    seen: set[int] = set()
    found: dict[tuple[int, int], LevelLookup] = {}
    for r in (await db.execute(stmt)).all():
        seen.add(r.wh)
        if r.sku_id is not None:
            found[(r.sku_id, r.wh)] = LevelLookup(r if r.in_full else None, r.on_hand - r.reserved)
    none = LevelLookup()
    return {k: found.get(k) or (LevelLookup(None, 0) if k[1] in seen else none) for k in keys}


@dataclass(frozen=True)
class MovementFilter:
    warehouse_id: int | None = None
    sku_id: int | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ref: Ref | None = None


def movement_select(p: Principal) -> sa.Select[Any]:
    return sa.select(movements).where(
        movements.c.tenant_id == p.tenant_id, movements.c.warehouse_id.in_(_ledger_warehouses(p))
    )


async def movements_page(
    db: Executor, p: Principal, f: MovementFilter, first: int, after: str | None, want_total: bool
) -> Page:
    c = movements.c
    clauses = equal_to((c.warehouse_id, f.warehouse_id), (c.sku_id, f.sku_id), (c.kind, f.kind))
    if f.since is not None:
        clauses.append(c.created_at >= f.since)
    if f.until is not None:
        clauses.append(c.created_at < f.until)
    if f.ref is not None:
        clauses += [c.ref_type == f.ref.type, c.ref_id == f.ref.id]
    return await page(db, movement_select(p).where(*clauses), MOVEMENT_ORDER, first, after, want_total)


async def movements_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    return {r.id: r for r in (await db.execute(movement_select(p).where(movements.c.id.in_(ids)))).all()}


def transfer_select(p: Principal) -> sa.Select[Any]:
    """Transfers the principal sees: those into or out of a warehouse whose ledger it sees."""
    ledger = _ledger_warehouses(p)
    return sa.select(transfers).where(
        transfers.c.tenant_id == p.tenant_id,
        sa.or_(transfers.c.from_warehouse_id.in_(ledger), transfers.c.to_warehouse_id.in_(ledger)),
    )


@dataclass(frozen=True)
class TransferFilter:
    warehouse_id: int | None = None  # from or to
    status: str | None = None


async def transfers_page(
    db: Executor, p: Principal, f: TransferFilter, first: int, after: str | None, want_total: bool
) -> Page:
    c = transfers.c
    clauses = equal_to((c.status, f.status))
    if f.warehouse_id is not None:
        clauses.append(sa.or_(c.from_warehouse_id == f.warehouse_id, c.to_warehouse_id == f.warehouse_id))
    return await page(db, transfer_select(p).where(*clauses), TRANSFER_ORDER, first, after, want_total)


async def transfers_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    return {r.id: r for r in (await db.execute(transfer_select(p).where(transfers.c.id.in_(ids)))).all()}


async def transfer_lines_for(db: Executor, transfer_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Lines of transfers already loaded through ``transfer_select`` (so already scoped)."""
    stmt = sa.select(transfer_lines).where(transfer_lines.c.transfer_id.in_(transfer_ids)).order_by(
        transfer_lines.c.transfer_id, transfer_lines.c.id
    )
    out: dict[int, list[Row[Any]]] = {}
    for r in (await db.execute(stmt)).all():
        out.setdefault(r.transfer_id, []).append(r)
    return out


def serial_unit_select(p: Principal) -> sa.Select[Any]:
    """Units the principal may trace: those that are, or were, at a warehouse whose ledger it
    sees (a dealer keeps tracing the bikes it sold; nobody sees another dealer's units)."""
    stmt = sa.select(serial_units).where(serial_units.c.tenant_id == p.tenant_id)
    if p.tenant_wide:
        return stmt
    been_there = sa.exists().where(
        serial_events.c.serial_unit_id == serial_units.c.id,
        serial_events.c.warehouse_id.in_(_ledger_warehouses(p)),
    )
    return stmt.where(been_there)


async def serial_unit_by_serial(db: Executor, p: Principal, serial: str) -> Row[Any] | None:
    stmt = serial_unit_select(p).where(serial_units.c.serial == normalize_serial(serial))
    return (await db.execute(stmt)).first()


async def serial_units_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    return {r.id: r for r in (await db.execute(serial_unit_select(p).where(serial_units.c.id.in_(ids)))).all()}


async def serial_history_pages(
    db: Executor, unit_ids: Sequence[int], first: int, after: str | None
) -> Sequence[Row[Any]]:
    """Units' steps, oldest first, one statement for many units (the units themselves were
    loaded through ``serial_unit_select``, so they are the principal's to see)."""
    base = sa.select(serial_events).where(serial_events.c.serial_unit_id.in_(unit_ids))
    stmt = partitioned_page_query(base, serial_events.c.serial_unit_id, EVENT_ORDER, first, after)
    return (await db.execute(stmt)).all()


# ---- checks (tests, ops) --------------------------------------------------------------------


@dataclass
class LedgerCheck:
    levels: int = 0
    mismatched: list[tuple[int, int]] = field(default_factory=list)  # (warehouse id, sku id)


async def check_ledger(db: Executor, tenant_id: int) -> LedgerCheck:
    """Every level equals the sums of its movements (on hand, reserved and inbound)."""
    m = movements.c
    sums = (
        sa.select(m.warehouse_id, m.sku_id, sa.func.sum(m.on_hand_delta).label("on_hand"),
                  sa.func.sum(m.reserved_delta).label("reserved"), sa.func.sum(m.inbound_delta).label("inbound"))
        .where(m.tenant_id == tenant_id)
        .group_by(m.warehouse_id, m.sku_id)
        .subquery()
    )
    lv = stock_levels.c
    stmt = sa.select(lv.warehouse_id, lv.sku_id, lv.on_hand, lv.reserved, lv.inbound,
                     sa.func.coalesce(sums.c.on_hand, 0).label("s_on_hand"),
                     sa.func.coalesce(sums.c.reserved, 0).label("s_reserved"),
                     sa.func.coalesce(sums.c.inbound, 0).label("s_inbound")).select_from(
        stock_levels.outerjoin(sums, sa.and_(sums.c.warehouse_id == lv.warehouse_id, sums.c.sku_id == lv.sku_id))
    ).where(lv.tenant_id == tenant_id)
    out = LedgerCheck()
    for r in (await db.execute(stmt)).all():
        out.levels += 1
        if (r.on_hand, r.reserved, r.inbound) != (r.s_on_hand, r.s_reserved, r.s_inbound):
            out.mismatched.append((r.warehouse_id, r.sku_id))
    # Movements of a level that does not exist would also be a break.
    orphans = sa.select(sums.c.warehouse_id, sums.c.sku_id).where(~sa.exists().where(
        lv.tenant_id == tenant_id, lv.warehouse_id == sums.c.warehouse_id, lv.sku_id == sums.c.sku_id))
    out.mismatched += [(r.warehouse_id, r.sku_id) for r in (await db.execute(orphans)).all()]
    return out
