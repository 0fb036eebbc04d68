"""Rules of the shipping centre: shipments, tracking events, the buyer's receipt, arrival notices.

* ``create_shipment`` (the seller): lines of one order, never more than ordered minus already
  shipped per line; the reserved stock leaves the seller's warehouse and is inbound at the
  buyer's (``inventory.ship_reserved``); the order becomes PARTIALLY_SHIPPED or SHIPPED.
* ``add_event`` (the seller, or its carrier integration): PICKED → IN_TRANSIT (repeatable, with a
  location) → OUT_FOR_DELIVERY (repeatable) → DELIVERED, steps may be skipped, never go back,
  nothing after DELIVERED; times are not in the future (beyond a small clock skew), not before
  the shipment was made, not before the previous event. When every shipment of a fully shipped
  order is DELIVERED, the order is DELIVERED.
* ``receive`` (the buyer): once per order, when it is SHIPPED or DELIVERED; per order line
  received + short + damaged = shipped; received units enter the buyer's stock
  (``inventory.receive_inbound``), short and damaged ones stay inbound and open an after-sales
  claim; the order becomes RECEIVED.
* ``send_arrival_notices`` (a cron job): one notice per shipment arriving within the window.

Every write takes an open transaction, locks the order first (so the writes of one order run
one after the other and the shipped-so-far sums cannot race), raises ``DomainError``
(nothing written) or ``access.Forbidden``, and writes the order's timeline and the outbox
events in the same transaction. Reads see a shipment exactly when they see its order.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph import access
from ymt_graph.access import Forbidden, Principal
from ymt_graph.aftersales import service as aftersales
from ymt_graph.catalog import service as catalog_service
from ymt_graph.db import table
from ymt_graph.errors import DomainError, Executor
from ymt_graph.graph.ids import encode_gid
from ymt_graph.inventory import service as inventory
from ymt_graph.inventory.service import InventoryErrorCode
from ymt_graph.notifications import service as notifications
from ymt_graph.orders import service as orders_service
from ymt_graph.orders.service import OrderStatus
from ymt_graph.paging import Order, Page, equal_to, newest_first, page
from ymt_graph.shipping import models

shipments = table(models.Shipment)
shipment_lines = table(models.ShipmentLine)
shipment_events = table(models.ShipmentEvent)
receipts = table(models.Receipt)
receipt_lines = table(models.ReceiptLine)
orders = orders_service.orders
order_lines = orders_service.order_lines
skus = catalog_service.skus

MAX_LINES = 250
MAX_QUANTITY = 1_000_000
MAX_NOTE = 500
MAX_CARRIER = 100
MAX_TRACKING = 100
MAX_LOCATION = 200
MAX_KEY = 128
# How far a client's clock may run ahead of ours before a time "in the future" is refused.
CLOCK_SKEW = timedelta(minutes=5)
# An estimated arrival further out than this is a typo, not a plan.
MAX_ETA = timedelta(days=366)

SHIPPABLE = (OrderStatus.APPROVED.value, OrderStatus.PARTIALLY_SHIPPED.value)
RECEIVABLE = (OrderStatus.SHIPPED.value, OrderStatus.DELIVERED.value)


class ShippingErrorCode(enum.Enum):
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    SHIPMENT_NOT_FOUND = "SHIPMENT_NOT_FOUND"
    NOT_SHIPPABLE = "NOT_SHIPPABLE"
    LINES_EMPTY = "LINES_EMPTY"
    TOO_MANY_LINES = "TOO_MANY_LINES"
    LINE_NOT_IN_ORDER = "LINE_NOT_IN_ORDER"
    DUPLICATE_LINE = "DUPLICATE_LINE"
    QUANTITY_INVALID = "QUANTITY_INVALID"
    MORE_THAN_ORDERED = "MORE_THAN_ORDERED"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    SERIALS_REQUIRED = "SERIALS_REQUIRED"
    SERIALS_MISMATCH = "SERIALS_MISMATCH"
    SERIAL_INVALID = "SERIAL_INVALID"
    SERIAL_NOT_FOUND = "SERIAL_NOT_FOUND"
    CARRIER_REQUIRED = "CARRIER_REQUIRED"
    TEXT_TOO_LONG = "TEXT_TOO_LONG"
    ESTIMATED_ARRIVAL_INVALID = "ESTIMATED_ARRIVAL_INVALID"
    LOCATION_REQUIRED = "LOCATION_REQUIRED"
    EVENT_OUT_OF_ORDER = "EVENT_OUT_OF_ORDER"
    EVENT_TIME_INVALID = "EVENT_TIME_INVALID"
    NOT_RECEIVABLE = "NOT_RECEIVABLE"
    ALREADY_RECEIVED = "ALREADY_RECEIVED"
    LINE_MISSING = "LINE_MISSING"
    QUANTITIES_DO_NOT_ADD_UP = "QUANTITIES_DO_NOT_ADD_UP"
    IDEMPOTENCY_KEY_INVALID = "IDEMPOTENCY_KEY_INVALID"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"


class ShipmentStatus(enum.StrEnum):
    CREATED = "CREATED"
    PICKED = "PICKED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"


class EventKind(enum.StrEnum):
    PICKED = "PICKED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"


# A step never goes back; IN_TRANSIT (hub after hub) and OUT_FOR_DELIVERY (a failed attempt,
# out again the next day) may repeat.
RANK = {s: i for i, s in enumerate(ShipmentStatus)}
REPEATABLE = frozenset({EventKind.IN_TRANSIT, EventKind.OUT_FOR_DELIVERY})
EVENT_TYPE = {kind: f"shipment.{kind.value.lower()}" for kind in EventKind}

notifications.register_event_types(*EVENT_TYPE.values(), "shipment.created", "shipment.arrival_notice")

Code = ShippingErrorCode


def _fail(code: ShippingErrorCode, message: str, *field: str | int) -> DomainError:
    return DomainError(code, message, [str(f) for f in field] or None)


def _utc(value: datetime) -> datetime:
    """Times without a zone are UTC (API.md: times are UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: str | None, limit: int, name: str) -> str | None:
    value = (value or "").strip() or None
    if value is not None and len(value) > limit:
        raise _fail(Code.TEXT_TOO_LONG, f"{name} has at most {limit} characters.", name)
    return value


def _key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= MAX_KEY:
        raise _fail(Code.IDEMPOTENCY_KEY_INVALID, f"idempotencyKey must be 1-{MAX_KEY} characters.",
                    "idempotencyKey")
    return key


def _replay(found: Row[Any] | None, digest: str, result: int) -> int | None:
    """A request already done under this key: its result; another request under it: refused."""
    if found is None:
        return None
    if found.fingerprint != digest:
        raise _fail(Code.IDEMPOTENCY_KEY_REUSED, "This idempotencyKey was already used for a different request.",
                    "idempotencyKey")
    return result


def _eta(value: datetime | None, not_before: datetime, name: str = "estimatedArrival") -> datetime | None:
    if value is None:
        return None
    value = _utc(value)
    if value < not_before - CLOCK_SKEW:
        raise _fail(Code.ESTIMATED_ARRIVAL_INVALID, "The estimated arrival lies in the past.", name)
    if value > not_before + MAX_ETA:
        raise _fail(Code.ESTIMATED_ARRIVAL_INVALID, "The estimated arrival is more than a year away.", name)
    return value


# ---- order lines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """An order line with what the shipping rules need to know about it."""

    id: int
    sku_id: int
    sku_code: str
    serial_tracked: bool
    ordered: int
    shipped: int
    shipped_serials: frozenset[str]


async def _order_lines(conn: Executor, o: Row[Any]) -> list[_Line]:
    """The order's lines with their SKU and what has shipped of them so far."""
    ol = order_lines.c
    rows = (await conn.execute(
        sa.select(ol.id, ol.sku_id, ol.quantity, skus.c.code, skus.c.serial_tracked)
        .select_from(order_lines.join(skus, skus.c.id == ol.sku_id))
        .where(ol.order_id == o.id)
        .order_by(ol.id)
    )).all()
    sl = shipment_lines.c
    shipped: dict[int, int] = defaultdict(int)
    serials: dict[int, set[str]] = defaultdict(set)
    for r in (await conn.execute(
        sa.select(sl.order_line_id, sl.quantity, sl.serials)
        .select_from(shipment_lines.join(shipments, shipments.c.id == sl.shipment_id))
        .where(shipments.c.order_id == o.id)
    )).all():
        shipped[r.order_line_id] += r.quantity
        serials[r.order_line_id].update(r.serials)
    return [
        _Line(r.id, r.sku_id, r.code, r.serial_tracked, r.quantity, shipped[r.id], frozenset(serials[r.id]))
        for r in rows
    ]


def _match(lines: Sequence[_Line], wanted: Sequence[tuple[int | None, int | None]]) -> list[_Line]:
    """The order line each input line names (by ``orderLineId`` or ``skuId``), each at most once."""
    by_id = {ln.id: ln for ln in lines}
    by_sku = {ln.sku_id: ln for ln in lines}
    out: list[_Line] = []
    seen: set[int] = set()
    for i, (line_id, sku_id) in enumerate(wanted):
        if line_id is None and sku_id is None:
            raise _fail(Code.LINE_NOT_IN_ORDER, "Name the order line (orderLineId) or its SKU (skuId).",
                        "lines", i)
        found = by_id.get(line_id) if line_id is not None else by_sku.get(sku_id or 0)
        if found is None:
            what = "orderLineId" if line_id is not None else "skuId"
            raise _fail(Code.LINE_NOT_IN_ORDER, "This line is not in the order.", "lines", i, what)
        if sku_id is not None and found.sku_id != sku_id:
            raise _fail(Code.LINE_NOT_IN_ORDER, f"Order line {found.sku_code} is not of this SKU.",
                        "lines", i, "skuId")
        if found.id in seen:
            raise _fail(Code.DUPLICATE_LINE, f"{found.sku_code} appears twice.", "lines", i)
        seen.add(found.id)
        out.append(found)
    return out


def _check_count(n: int) -> None:
    if n == 0:
        raise _fail(Code.LINES_EMPTY, "Give at least one line.", "lines")
    if n > MAX_LINES:
        raise _fail(Code.TOO_MANY_LINES, f"At most {MAX_LINES} lines.", "lines")


async def _lock_order(conn: Executor, p: Principal, order_id: int) -> Row[Any]:
    """The order locked for a change; ORDER_NOT_FOUND (a shipping code) when the principal does
    not see it."""
    try:
        return await orders_service.lock_visible_order(conn, p, order_id)
    except DomainError as exc:
        raise _fail(Code.ORDER_NOT_FOUND, "No such order.", "orderId") from exc


def _order_gid(order_id: int) -> str:
    return encode_gid("Order", order_id)


def _buyer_gid(o: Row[Any]) -> str:
    if o.buyer_store_id is not None:
        return encode_gid("Store", o.buyer_store_id)
    return encode_gid("Dealer", o.buyer_dealer_id)


def event_payload(o: Row[Any], s: Row[Any], **extra: Any) -> dict[str, Any]:
    """What every shipment event carries (subscriptions filter on ``orderId`` and ``buyerId``)."""
    return {
        "orderId": _order_gid(o.id), "orderNumber": o.number, "buyerId": _buyer_gid(o),
        "shipmentId": encode_gid("Shipment", s.id), "shipmentNumber": s.number, "status": s.status,
        "carrier": s.carrier, "trackingNumber": s.tracking_number, "estimatedArrival": s.estimated_arrival,
        "location": None, **extra,
    }


async def _emit(conn: Executor, o: Row[Any], s: Row[Any], event_type: str, **extra: Any) -> None:
    await notifications.emit(conn, o.tenant_id, event_type, "Shipment", s.id, event_payload(o, s, **extra),
                             orders_service.order_topics(o))


def _timeline(s: Row[Any], **extra: Any) -> dict[str, Any]:
    return {"shipmentId": encode_gid("Shipment", s.id), "shipmentNumber": s.number, **extra}


# ---- shipmentCreate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipLine:
    order_line_id: int | None
    sku_id: int | None
    quantity: int
    serials: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShipmentRequest:
    order_id: int
    carrier: str
    lines: tuple[ShipLine, ...]
    tracking_number: str | None = None
    estimated_arrival: datetime | None = None
    note: str | None = None
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        return inventory.fingerprint([
            self.order_id, self.carrier, self.tracking_number,
            _utc(self.estimated_arrival).isoformat() if self.estimated_arrival else None, self.note,
            [[ln.order_line_id, ln.sku_id, ln.quantity, sorted(inventory.normalize_serial(s) for s in ln.serials)]
             for ln in self.lines],
        ])


_SERIAL_CODES = {
    InventoryErrorCode.SERIAL_INVALID: Code.SERIAL_INVALID,
    InventoryErrorCode.SERIAL_DUPLICATE: Code.SERIAL_INVALID,
    InventoryErrorCode.SERIAL_NOT_FOUND: Code.SERIAL_NOT_FOUND,
    InventoryErrorCode.SERIAL_NOT_TRACKED: Code.SERIALS_MISMATCH,
    InventoryErrorCode.SERIAL_COUNT_MISMATCH: Code.SERIALS_MISMATCH,
    InventoryErrorCode.INSUFFICIENT_STOCK: Code.INSUFFICIENT_STOCK,
    InventoryErrorCode.RESERVATION_EXCEEDED: Code.INSUFFICIENT_STOCK,
    InventoryErrorCode.INBOUND_EXCEEDED: Code.NOT_RECEIVABLE,
    InventoryErrorCode.QUANTITY_INVALID: Code.QUANTITY_INVALID,
}


def _from_inventory(exc: DomainError, named: Sequence[bool], fallback: ShippingErrorCode) -> DomainError:
    """An inventory refusal as a shipping one, at the same field path (``lines.<i>...``).
    "Name the serials" on a line that named none is SERIALS_REQUIRED."""
    code = _SERIAL_CODES.get(exc.code, fallback) if isinstance(exc.code, InventoryErrorCode) else fallback
    f = exc.field or []
    if (exc.code is InventoryErrorCode.SERIAL_COUNT_MISMATCH and len(f) >= 2 and f[0] == "lines"
            and f[1].isdigit() and int(f[1]) < len(named) and not named[int(f[1])]):
        code = Code.SERIALS_REQUIRED
    return DomainError(code, exc.message, exc.field)


def _check_ship_lines(r: ShipmentRequest) -> None:
    _check_count(len(r.lines))
    for i, ln in enumerate(r.lines):
        if not 0 < ln.quantity <= MAX_QUANTITY:
            raise _fail(Code.QUANTITY_INVALID, f"Quantity must be between 1 and {MAX_QUANTITY:,}.",
                        "lines", i, "quantity")


async def create_shipment(conn: Executor, p: Principal, r: ShipmentRequest) -> int:
    """Ship lines of one order (see the module docstring); returns the shipment id. The same
    idempotency key returns the shipment it made."""
    key = _key(r.idempotency_key)
    carrier = _text(r.carrier, MAX_CARRIER, "carrier")
    if carrier is None:
        raise _fail(Code.CARRIER_REQUIRED, "Name the carrier (or e.g. 'own truck').", "carrier")
    tracking = _text(r.tracking_number, MAX_TRACKING, "trackingNumber")
    note = _text(r.note, MAX_NOTE, "note")
    _check_ship_lines(r)
    now = _now()
    eta = _eta(r.estimated_arrival, now)

    o = await _lock_order(conn, p, r.order_id)
    if not access.may_ship_order(p, o.seller_dealer_id):
        raise Forbidden("Only the seller ships this order.")
    digest = r.fingerprint()
    if key is not None:
        found = (await conn.execute(
            sa.select(shipments.c.id, shipments.c.fingerprint)
            .where(shipments.c.tenant_id == p.tenant_id, shipments.c.order_id == o.id,
                   shipments.c.idempotency_key == key)
        )).first()
        done = _replay(found, digest, found.id if found else 0)
        if done is not None:
            return done
    if o.status not in SHIPPABLE:
        raise _fail(Code.NOT_SHIPPABLE,
                    f"Order {o.number} is {o.status}; only APPROVED or PARTIALLY_SHIPPED orders ship.", "orderId")

    lines = await _order_lines(conn, o)
    matched = _match(lines, [(ln.order_line_id, ln.sku_id) for ln in r.lines])
    serials: list[tuple[str, ...]] = []
    for i, (want, ln) in enumerate(zip(r.lines, matched, strict=True)):
        left = ln.ordered - ln.shipped
        if want.quantity > left:
            raise _fail(Code.MORE_THAN_ORDERED,
                        f"{ln.sku_code}: ordered {ln.ordered}, shipped {ln.shipped} already, so at most {left} "
                        f"can ship ({want.quantity} asked).", "lines", i, "quantity")
        names = tuple(inventory.normalize_serial(s) for s in want.serials)
        if names and not ln.serial_tracked:
            raise _fail(Code.SERIALS_MISMATCH, f"{ln.sku_code} is not serial-tracked: give no serials.",
                        "lines", i, "serials")
        if names and len(names) != want.quantity:
            raise _fail(Code.SERIALS_MISMATCH,
                        f"{ln.sku_code}: name the serial of each of the {want.quantity} units ({len(names)} given).",
                        "lines", i, "serials")
        serials.append(names)

    n = int((await conn.execute(
        sa.select(sa.func.count()).where(shipments.c.order_id == o.id)
    )).scalar_one()) + 1
    actor = inventory.Actor.of(p)
    s = (await conn.execute(
        sa.insert(shipments).values(
            tenant_id=p.tenant_id, number=f"SH{o.number[2:]}-{n}", order_id=o.id,
            from_warehouse_id=o.seller_warehouse_id, to_warehouse_id=o.buyer_warehouse_id,
            status=ShipmentStatus.CREATED.value, carrier=carrier, tracking_number=tracking, estimated_arrival=eta,
            note=note, idempotency_key=key, fingerprint=digest if key else None,
            created_by_user_id=actor.user_id, created_by_api_key_id=actor.api_key_id,
        ).returning(shipments)
    )).one()
    await conn.execute(sa.insert(shipment_lines), [
        {"tenant_id": p.tenant_id, "shipment_id": s.id, "order_line_id": ln.id, "sku_id": ln.sku_id,
         "quantity": want.quantity, "serials": list(names)}
        for want, ln, names in zip(r.lines, matched, serials, strict=True)
    ])
    try:
        await inventory.ship_reserved(
            conn, p.tenant_id, o.seller_warehouse_id, o.buyer_warehouse_id,
            [inventory.StockLine(ln.sku_id, want.quantity, names)
             for want, ln, names in zip(r.lines, matched, serials, strict=True)],
            inventory.Ref("Shipment", s.id), actor=actor,
        )
    except DomainError as exc:
        raise _from_inventory(exc, [bool(x) for x in serials], Code.NOT_SHIPPABLE) from exc

    shipped_now = {ln.id: want.quantity for want, ln in zip(r.lines, matched, strict=True)}
    complete = all(ln.shipped + shipped_now.get(ln.id, 0) >= ln.ordered for ln in lines)
    summary = [{"sku": ln.sku_code, "quantity": want.quantity} for want, ln in zip(r.lines, matched, strict=True)]
    await orders_service.record_event(conn, p, o, "SHIPMENT_CREATED", _timeline(
        s, carrier=carrier, trackingNumber=tracking, estimatedArrival=eta.isoformat() if eta else None,
        lines=summary))
    to = OrderStatus.SHIPPED if complete else OrderStatus.PARTIALLY_SHIPPED
    if to.value != o.status:
        await orders_service.change_status(conn, p, o, to, f"order.{to.value.lower()}", _timeline(s))
    await _emit(conn, o, s, "shipment.created", lines=summary, shippedAt=s.created_at)
    return int(s.id)


# ---- shipmentEventAdd -------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRequest:
    shipment_id: int
    kind: EventKind
    at: datetime | None = None
    location: str | None = None
    note: str | None = None
    estimated_arrival: datetime | None = None


async def _lock_visible_shipment(conn: Executor, p: Principal, shipment_id: int) -> tuple[Row[Any], Row[Any]]:
    """The shipment and its order, both locked (order first, as every write of the order does);
    SHIPMENT_NOT_FOUND when the principal does not see the order."""
    order_id = (await conn.execute(
        sa.select(shipments.c.order_id).where(shipments.c.tenant_id == p.tenant_id, shipments.c.id == shipment_id)
    )).scalar_one_or_none()
    missing = _fail(Code.SHIPMENT_NOT_FOUND, "No such shipment.", "shipmentId")
    if order_id is None:
        raise missing
    try:
        o = await _lock_order(conn, p, order_id)
    except DomainError as exc:
        raise missing from exc
    s = (await conn.execute(sa.select(shipments).where(shipments.c.id == shipment_id).with_for_update())).one()
    return o, s


async def add_event(conn: Executor, p: Principal, r: EventRequest) -> int:
    """Record a tracking step of a shipment (see the module docstring); returns the shipment id."""
    location = _text(r.location, MAX_LOCATION, "location")
    note = _text(r.note, MAX_NOTE, "note")
    if r.kind is EventKind.IN_TRANSIT and location is None:
        raise _fail(Code.LOCATION_REQUIRED, "Say where the shipment is (e.g. the hub or city).", "location")
    now = _now()
    at = _utc(r.at) if r.at is not None else now
    if at > now + CLOCK_SKEW:
        raise _fail(Code.EVENT_TIME_INVALID, f"{at.isoformat()} is in the future.", "at")

    o, s = await _lock_visible_shipment(conn, p, r.shipment_id)
    if not access.may_ship_order(p, o.seller_dealer_id):
        raise Forbidden("Only the seller (or its carrier) records tracking events.")
    if at < s.created_at - CLOCK_SKEW:
        raise _fail(Code.EVENT_TIME_INVALID,
                    f"{at.isoformat()} is before shipment {s.number} was made ({s.created_at.isoformat()}).", "at")
    current = ShipmentStatus(s.status)
    if current is ShipmentStatus.DELIVERED:
        raise _fail(Code.EVENT_OUT_OF_ORDER,
                    f"Shipment {s.number} was delivered at {s.delivered_at.isoformat()}; nothing follows that.",
                    "kind")
    step = ShipmentStatus(r.kind.value)
    if RANK[step] < RANK[current] or (step is current and r.kind not in REPEATABLE):
        raise _fail(Code.EVENT_OUT_OF_ORDER, f"Shipment {s.number} is {current.value}; {r.kind.value} cannot follow.",
                    "kind")
    last = (await conn.execute(
        sa.select(sa.func.max(shipment_events.c.occurred_at)).where(shipment_events.c.shipment_id == s.id)
    )).scalar_one_or_none()
    if last is not None and at < last:
        raise _fail(Code.EVENT_OUT_OF_ORDER,
                    f"{at.isoformat()} is before shipment {s.number}'s last event ({last.isoformat()}).", "at")
    eta = _eta(r.estimated_arrival, at)

    await conn.execute(sa.insert(shipment_events).values(
        tenant_id=s.tenant_id, shipment_id=s.id, kind=r.kind.value, location=location, note=note, occurred_at=at,
        actor_user_id=p.user_id, actor_api_key_id=p.api_key_id,
    ))
    changes: dict[str, Any] = {"status": step.value, "updated_at": sa.func.now()}
    if step is ShipmentStatus.DELIVERED:
        changes["delivered_at"] = at
    if eta is not None:
        changes["estimated_arrival"] = eta
    s = (await conn.execute(
        sa.update(shipments).where(shipments.c.id == s.id).values(**changes).returning(shipments)
    )).one()
    await orders_service.record_event(conn, p, o, f"SHIPMENT_{r.kind.value}", _timeline(
        s, at=at.isoformat(), location=location, note=note))
    await _emit(conn, o, s, EVENT_TYPE[r.kind], location=location, at=at, note=note)
    if step is ShipmentStatus.DELIVERED and o.status == OrderStatus.SHIPPED.value:
        undelivered = (await conn.execute(
            sa.select(sa.func.count()).where(shipments.c.order_id == o.id,
                                             shipments.c.status != ShipmentStatus.DELIVERED.value)
        )).scalar_one()
        if undelivered == 0:
            await orders_service.change_status(conn, p, o, OrderStatus.DELIVERED, "order.delivered", _timeline(s))
    return int(s.id)


# ---- orderReceive ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiveLine:
    order_line_id: int | None
    sku_id: int | None
    received: int
    short: int = 0
    damaged: int = 0
    serials: tuple[str, ...] = ()
    damaged_serials: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class ReceiveRequest:
    order_id: int
    lines: tuple[ReceiveLine, ...]
    note: str | None = None
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        def names(serials: Sequence[str]) -> list[str]:
            return sorted(inventory.normalize_serial(s) for s in serials)

        return inventory.fingerprint([
            self.order_id, self.note,
            [[ln.order_line_id, ln.sku_id, ln.received, ln.short, ln.damaged, names(ln.serials),
              names(ln.damaged_serials), ln.note] for ln in self.lines],
        ])


@dataclass(frozen=True)
class _Confirmed:
    """One order line as the buyer confirmed it, checked."""

    line: _Line
    received: int
    short: int
    damaged: int
    serials: tuple[str, ...]
    damaged_serials: tuple[str, ...]
    note: str | None

    @property
    def missing_serials(self) -> tuple[str, ...]:
        """Units shipped by serial that were neither received nor named damaged: the short ones
        (or damaged ones the buyer did not name)."""
        named = set(self.serials) | set(self.damaged_serials)
        return tuple(sorted(self.line.shipped_serials - named))


def _names(serials: Sequence[str], i: int, name: str, sku: str) -> tuple[str, ...]:
    out = tuple(inventory.normalize_serial(s) for s in serials)
    if len(set(out)) != len(out):
        raise _fail(Code.SERIALS_MISMATCH, f"{sku}: a serial is named twice.", "lines", i, name)
    return out


def _confirm(i: int, want: ReceiveLine, ln: _Line) -> _Confirmed:
    """Check one line: quantities add up to what shipped; serials are units shipped on this
    order line; every received unit that shipped by serial is named."""
    note = _text(want.note, MAX_NOTE, "note")
    total = want.received + want.short + want.damaged
    if total != ln.shipped:
        raise _fail(Code.QUANTITIES_DO_NOT_ADD_UP,
                    f"{ln.sku_code}: {ln.shipped} shipped, but received {want.received} + short {want.short} + "
                    f"damaged {want.damaged} = {total}.", "lines", i)
    got = _names(want.serials, i, "serials", ln.sku_code)
    bad = _names(want.damaged_serials, i, "damagedSerials", ln.sku_code)
    if (got or bad) and not ln.serial_tracked:
        raise _fail(Code.SERIALS_MISMATCH, f"{ln.sku_code} is not serial-tracked: give no serials.",
                    "lines", i, "serials" if got else "damagedSerials")
    for names, name, limit, what in ((got, "serials", want.received, "received"),
                                     (bad, "damagedSerials", want.damaged, "damaged")):
        foreign = [s for s in names if s not in ln.shipped_serials]
        if foreign:
            raise _fail(Code.SERIALS_MISMATCH,
                        f"{ln.sku_code}: not shipped on this order: {', '.join(foreign[:20])}.", "lines", i, name)
        if len(names) > limit:
            raise _fail(Code.SERIALS_MISMATCH,
                        f"{ln.sku_code}: {len(names)} serials named for {limit} {what} units.", "lines", i, name)
    both = sorted(set(got) & set(bad))
    if both:
        raise _fail(Code.SERIALS_MISMATCH, f"{ln.sku_code}: received and damaged at once: {', '.join(both[:20])}.",
                    "lines", i, "damagedSerials")
    unnamed_shipped = ln.shipped - len(ln.shipped_serials)
    if want.received - len(got) > unnamed_shipped:
        raise _fail(Code.SERIALS_REQUIRED,
                    f"{ln.sku_code}: shipped by serial; name the serial of each of the {want.received} units "
                    f"received ({len(got)} named).", "lines", i, "serials")
    return _Confirmed(ln, want.received, want.short, want.damaged, got, bad, note)


async def receive(conn: Executor, p: Principal, r: ReceiveRequest) -> int:
    """The buyer confirms what arrived (see the module docstring); returns the order id. Once
    per order; the same idempotency key returns the same answer instead of ALREADY_RECEIVED."""
    key = _key(r.idempotency_key)
    note = _text(r.note, MAX_NOTE, "note")
    _check_count(len(r.lines))
    for i, want in enumerate(r.lines):
        for name, value in (("received", want.received), ("short", want.short), ("damaged", want.damaged)):
            if not 0 <= value <= MAX_QUANTITY:
                raise _fail(Code.QUANTITY_INVALID, f"{name} must be between 0 and {MAX_QUANTITY:,}.", "lines", i, name)

    o = await _lock_order(conn, p, r.order_id)
    if not access.may_receive_order(p, o.buyer_dealer_id, o.buyer_store_id):
        raise Forbidden("Only the buyer confirms receipt of this order.")
    digest = r.fingerprint()
    prior = (await conn.execute(
        sa.select(receipts.c.idempotency_key, receipts.c.fingerprint, receipts.c.created_at)
        .where(receipts.c.order_id == o.id)
    )).first()
    if prior is not None:
        if key is not None and prior.idempotency_key == key:
            done = _replay(prior, digest, int(o.id))
            assert done is not None
            return done
        raise _fail(Code.ALREADY_RECEIVED,
                    f"Order {o.number} was received on {prior.created_at.isoformat()}; a receipt is confirmed once "
                    "(differences are settled by after-sales claims).", "orderId")
    if o.status not in RECEIVABLE:
        why = ("it is received once everything has shipped" if o.status == OrderStatus.PARTIALLY_SHIPPED.value
               else "only SHIPPED or DELIVERED orders are received")
        raise _fail(Code.NOT_RECEIVABLE, f"Order {o.number} is {o.status}: {why}.", "orderId")

    lines = await _order_lines(conn, o)
    matched = _match(lines, [(ln.order_line_id, ln.sku_id) for ln in r.lines])
    confirmed = [_confirm(i, want, ln) for i, (want, ln) in enumerate(zip(r.lines, matched, strict=True))]
    given = {c.line.id for c in confirmed}
    left_out = [ln for ln in lines if ln.shipped > 0 and ln.id not in given]
    if left_out:
        ln = left_out[0]
        raise _fail(Code.LINE_MISSING,
                    f"{ln.sku_code}: {ln.shipped} shipped; confirm every line of the order "
                    f"({len(left_out)} missing).", "lines")

    receipt_id = int((await conn.execute(
        sa.insert(receipts).values(
            tenant_id=o.tenant_id, order_id=o.id, warehouse_id=o.buyer_warehouse_id, note=note,
            idempotency_key=key, fingerprint=digest if key else None,
            received_by_user_id=p.user_id, received_by_api_key_id=p.api_key_id,
        ).returning(receipts.c.id)
    )).scalar_one())
    await conn.execute(sa.insert(receipt_lines), [
        {"tenant_id": o.tenant_id, "receipt_id": receipt_id, "order_line_id": c.line.id, "sku_id": c.line.sku_id,
         "shipped": c.line.shipped, "received": c.received, "short": c.short, "damaged": c.damaged,
         "serials": list(c.serials), "damaged_serials": list(c.damaged_serials), "note": c.note}
        for c in confirmed
    ])
    await _take_in(conn, p, o, confirmed)

    claims = await aftersales.open_receipt_claims(conn, p, o, receipt_id, [
        aftersales.Discrepancy(
            order_line_id=c.line.id, sku_id=c.line.sku_id, sku_code=c.line.sku_code, short=c.short,
            damaged=c.damaged, damaged_serials=c.damaged_serials, missing_serials=c.missing_serials, note=c.note,
        )
        for c in confirmed if c.short or c.damaged
    ])
    for claim in claims:
        await orders_service.record_event(conn, p, o, "CLAIM_OPENED", {
            "claimId": encode_gid("Claim", claim.id), "claimNumber": claim.number, "kind": claim.kind,
            "sku": claim.sku_code, "short": claim.short, "damaged": claim.damaged,
        })
    await orders_service.change_status(conn, p, o, OrderStatus.RECEIVED, "order.received", {
        "received": sum(c.received for c in confirmed), "short": sum(c.short for c in confirmed),
        "damaged": sum(c.damaged for c in confirmed), "claims": [c.number for c in claims],
    })
    return int(o.id)


async def _take_in(conn: Executor, p: Principal, o: Row[Any], confirmed: Sequence[_Confirmed]) -> None:
    """Received units enter the buyer's warehouse: the named ones by serial, the rest unnamed
    (two inventory calls: a line of the ledger names all its units or none)."""
    named = [(i, c) for i, c in enumerate(confirmed) if c.serials]
    unnamed = [(i, c, c.received - len(c.serials)) for i, c in enumerate(confirmed) if c.received > len(c.serials)]
    ref, actor = inventory.Ref("Order", o.id), inventory.Actor.of(p)
    for batch, stock in (
        ([i for i, _ in named], [inventory.StockLine(c.line.sku_id, len(c.serials), c.serials) for _, c in named]),
        ([i for i, _, _ in unnamed], [inventory.StockLine(c.line.sku_id, n) for _, c, n in unnamed]),
    ):
        if not stock:
            continue
        try:
            await inventory.receive_inbound(conn, o.tenant_id, o.buyer_warehouse_id, stock, ref, actor=actor)
        except DomainError as exc:
            raise _from_inventory(_reindex(exc, batch), [True] * len(confirmed), Code.NOT_RECEIVABLE) from exc


def _reindex(exc: DomainError, batch: Sequence[int]) -> DomainError:
    """An inventory error about ``lines.<j>`` of a batch, about ``lines.<i>`` of the input."""
    f = list(exc.field or [])
    if len(f) >= 2 and f[0] == "lines" and f[1].isdigit() and int(f[1]) < len(batch):
        f[1] = str(batch[int(f[1])])
    return DomainError(exc.code, exc.message, f or None)


# ---- arrival notices ----------------------------------------------------------------------------


async def arrival_notice_batch(conn: Executor, within: timedelta, limit: int = 200) -> int:
    """Give up to ``limit`` shipments arriving within ``within`` their arrival notice, once:
    the notice time is set in the same transaction as the event, and rows another worker holds
    are skipped (``FOR UPDATE SKIP LOCKED``), so concurrent runs never notify twice."""
    s = shipments.c
    due = (
        sa.select(s.id)
        .select_from(shipments.join(orders, orders.c.id == s.order_id))
        .where(
            s.arrival_notice_at.is_(None), s.status != ShipmentStatus.DELIVERED.value,
            s.estimated_arrival > sa.func.now(), s.estimated_arrival <= sa.func.now() + within,
            orders.c.status.in_((OrderStatus.PARTIALLY_SHIPPED.value, OrderStatus.SHIPPED.value)),
        )
        .order_by(s.estimated_arrival, s.id)
        .limit(limit)
        .with_for_update(of=shipments, skip_locked=True)
        # Materialized: taken once (an IN subquery may be re-run per row, and re-run past its LIMIT).
        .cte("due").prefix_with("MATERIALIZED")
    )
    noticed = (await conn.execute(
        sa.update(shipments).where(s.id == due.c.id, s.arrival_notice_at.is_(None))
        .values(arrival_notice_at=sa.func.now(), updated_at=sa.func.now())
        .returning(shipments)
    )).all()
    if not noticed:
        return 0
    found = {o.id: o for o in (await conn.execute(
        sa.select(orders).where(orders.c.id.in_({n.order_id for n in noticed}))
    )).all()}
    for n in sorted(noticed, key=lambda row: row.id):
        o = found[n.order_id]
        await orders_service.record_event(conn, None, o, "SHIPMENT_ARRIVAL_NOTICE", _timeline(
            n, estimatedArrival=n.estimated_arrival.isoformat()))
        await _emit(conn, o, n, "shipment.arrival_notice", noticeAt=n.arrival_notice_at)
    return len(noticed)


async def send_arrival_notices(engine: AsyncEngine, within: timedelta, *, batch_size: int = 200) -> int:
    """The cron job: notices in batches of ``batch_size``, each batch its own transaction."""
    total = 0
    while True:
        async with engine.begin() as conn:
            n = await arrival_notice_batch(conn, within, batch_size)
        total += n
        if n < batch_size:
            return total


# ---- reads --------------------------------------------------------------------------------------


SHIPMENT_ORDER: Order = newest_first(shipments.c.id)


def visible_order_ids(p: Principal, *clauses: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Ids of the orders the principal sees (the orders centre's scope), optionally narrowed."""
    return orders_service.scoped_orders(p).with_only_columns(orders.c.id).where(*clauses)


def shipment_select(p: Principal, *order_clauses: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Shipments the principal sees: exactly those of the orders it sees."""
    return sa.select(shipments).where(
        shipments.c.tenant_id == p.tenant_id, shipments.c.order_id.in_(visible_order_ids(p, *order_clauses))
    )


@dataclass(frozen=True)
class ShipmentFilter:
    order_id: int | None = None
    buyer: orders_service.BuyerRef | None = None
    status: str | None = None
    tracking_number: str | None = None


async def shipments_page(
    db: Executor, p: Principal, f: ShipmentFilter, first: int, after: str | None, want_total: bool
) -> Page:
    c = shipments.c
    narrowed = [f.buyer.column(orders) == f.buyer.id] if f.buyer else []
    base = shipment_select(p, *narrowed).where(
        *equal_to((c.order_id, f.order_id), (c.status, f.status), (c.tracking_number, f.tracking_number))
    )
    return await page(db, base, SHIPMENT_ORDER, first, after, want_total)


async def shipments_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    return {r.id: r for r in (await db.execute(shipment_select(p).where(shipments.c.id.in_(ids)))).all()}


async def shipment_by_number(db: Executor, p: Principal, number: str) -> Row[Any] | None:
    return (await db.execute(shipment_select(p).where(shipments.c.number == number.strip().upper()))).first()


def _grouped(rows: Sequence[Row[Any]], key: str) -> dict[int, list[Row[Any]]]:
    out: dict[int, list[Row[Any]]] = defaultdict(list)
    for r in rows:
        out[r._mapping[key]].append(r)
    return out


async def shipments_for_orders(db: Executor, order_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Shipments of orders already read through the orders centre's scope, oldest first (one statement)."""
    rows = (await db.execute(
        sa.select(shipments).where(shipments.c.order_id.in_(order_ids)).order_by(shipments.c.id)
    )).all()
    return _grouped(rows, "order_id")


async def lines_for(db: Executor, shipment_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Lines of shipments already read through a scoped read (one statement)."""
    rows = (await db.execute(
        sa.select(shipment_lines).where(shipment_lines.c.shipment_id.in_(shipment_ids)).order_by(shipment_lines.c.id)
    )).all()
    return _grouped(rows, "shipment_id")


async def events_for(db: Executor, shipment_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Tracking events of shipments already read through a scoped read, oldest first (one statement)."""
    rows = (await db.execute(
        sa.select(shipment_events).where(shipment_events.c.shipment_id.in_(shipment_ids))
        .order_by(shipment_events.c.occurred_at, shipment_events.c.id)
    )).all()
    return _grouped(rows, "shipment_id")


async def receipts_for_orders(db: Executor, order_ids: Sequence[int]) -> dict[int, Row[Any]]:
    """Receipts of orders already read through the orders centre's scope (one statement)."""
    rows = (await db.execute(sa.select(receipts).where(receipts.c.order_id.in_(order_ids)))).all()
    return {r.order_id: r for r in rows}


async def receipt_lines_for(db: Executor, receipt_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    rows = (await db.execute(
        sa.select(receipt_lines).where(receipt_lines.c.receipt_id.in_(receipt_ids)).order_by(receipt_lines.c.id)
    )).all()
    return _grouped(rows, "receipt_id")
