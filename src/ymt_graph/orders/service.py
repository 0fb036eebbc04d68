"""Rules of the order centre: carts, review problems, submit, approve/reject/cancel, reads.

Every write takes an open transaction (``conn``) and raises ``DomainError`` (nothing written)
or ``access.Forbidden``. Rights come from ``access`` (the ``orders`` section).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row

from ymt_graph import access
from ymt_graph.access import Forbidden, Principal
from ymt_graph.catalog import service as catalog_service
from ymt_graph.db import table
from ymt_graph.errors import DomainError, Executor
from ymt_graph.inventory import models as inventory_models
from ymt_graph.inventory import service as inventory_service
from ymt_graph.notifications import service as notifications
from ymt_graph.orders import models
from ymt_graph.org import service as org_service
from ymt_graph.paging import Order, Page, equal_to, newest_first, page, search_clauses
from ymt_graph.pricing import service as pricing_service

carts = table(models.Cart)
cart_lines = table(models.CartLine)
orders = table(models.Order)
order_lines = table(models.OrderLine)
order_events = table(models.OrderEvent)
order_counters = table(models.OrderCounter)
dealers, regions, warehouses = org_service.dealers, org_service.regions, org_service.warehouses
tenants = org_service.tenants
skus = catalog_service.skus
stock_levels = table(inventory_models.StockLevel)

MAX_LINES = 250
MAX_QUANTITY = 1_000_000
MAX_NOTE = 500
MAX_KEY = 128
CENT = Decimal("0.01")
# Orders counted against the buyer's credit: approved and not yet received.
OUTSTANDING = ("APPROVED", "PARTIALLY_SHIPPED", "SHIPPED", "DELIVERED")
# Statuses from which the buyer may still cancel (nothing shipped yet).
CANCELLABLE = ("SUBMITTED", "PENDING_APPROVAL", "APPROVED")
DECIDABLE = ("SUBMITTED", "PENDING_APPROVAL")


class OrdersErrorCode(enum.Enum):
    BUYER_NOT_FOUND = "BUYER_NOT_FOUND"
    SKU_NOT_FOUND = "SKU_NOT_FOUND"
    QUANTITY_INVALID = "QUANTITY_INVALID"
    TOO_MANY_LINES = "TOO_MANY_LINES"
    DUPLICATE_SKU = "DUPLICATE_SKU"
    LINE_NOT_IN_CART = "LINE_NOT_IN_CART"
    CART_EMPTY = "CART_EMPTY"
    CART_HAS_PROBLEMS = "CART_HAS_PROBLEMS"
    NO_SELLER_WAREHOUSE = "NO_SELLER_WAREHOUSE"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    NO_BUYER_WAREHOUSE = "NO_BUYER_WAREHOUSE"
    IDEMPOTENCY_KEY_INVALID = "IDEMPOTENCY_KEY_INVALID"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    NOTE_TOO_LONG = "NOTE_TOO_LONG"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    REASON_TOO_LONG = "REASON_TOO_LONG"


class OrderStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    RECEIVED = "RECEIVED"
    CANCELLED = "CANCELLED"


class ProblemCode(enum.StrEnum):
    BELOW_MOQ = "BELOW_MOQ"
    NOT_A_MULTIPLE = "NOT_A_MULTIPLE"
    NOT_IN_ASSORTMENT = "NOT_IN_ASSORTMENT"
    NOT_ENOUGH_STOCK = "NOT_ENOUGH_STOCK"
    DISCONTINUED = "DISCONTINUED"
    NO_PRICE = "NO_PRICE"


def _fail(code: OrdersErrorCode, message: str, *field: str | int) -> DomainError:
    return DomainError(code, message, [str(f) for f in field] or None)


# ---- buyer, seller --------------------------------------------------------------------------


class BuyerKind(enum.StrEnum):
    DEALER = "DEALER"
    STORE = "STORE"


@dataclass(frozen=True)
class BuyerRef:
    """Who buys: a dealer (from HQ or its distributor) or a store (from its dealer)."""

    kind: BuyerKind
    id: int

    @classmethod
    def dealer(cls, pk: int) -> BuyerRef:
        return cls(BuyerKind.DEALER, pk)

    @classmethod
    def store(cls, pk: int) -> BuyerRef:
        return cls(BuyerKind.STORE, pk)

    def column(self, table: sa.Table) -> Any:
        """The table's buyer column for this kind (``buyer_dealer_id`` or ``buyer_store_id``)."""
        return table.c.buyer_dealer_id if self.kind is BuyerKind.DEALER else table.c.buyer_store_id

    def values(self) -> dict[str, int | None]:
        is_dealer = self.kind is BuyerKind.DEALER
        return {"buyer_dealer_id": self.id if is_dealer else None, "buyer_store_id": None if is_dealer else self.id}

    @property
    def topic(self) -> str:
        return f"buyer:{self.kind.value.lower()}:{self.id}"


@dataclass(frozen=True)
class Party:
    """A buyer, whom it buys from and where the goods go."""

    ref: BuyerRef
    # The dealer whose assortment applies: the buyer itself, or a store's dealer (a store
    # orders what its dealer carries). A dealer row with region_path (org_service.DEALER_COLUMNS).
    dealer: Row[Any]
    seller_dealer_id: int | None  # None: HQ
    seller_warehouse_id: int | None
    buyer_warehouse_id: int | None
    currency: str
    # None: no credit check (a store's orders are its dealer's business; they approve at once).
    credit_limit: Decimal | None


def _dealer_select() -> sa.Select[Any]:
    return sa.select(*org_service.DEALER_COLUMNS).select_from(
        dealers.join(regions, regions.c.id == dealers.c.region_id)
    )


async def _seller_warehouse(conn: Executor, tenant_id: int, buyer: Row[Any]) -> int | None:
    w = warehouses.c
    if buyer.parent_id is None:
        # HQ: an HQ warehouse in the buyer's area (the top of its region path), else the first.
        r = regions.alias("wr")
        area = sa.func.concat("/", sa.func.split_part(r.c.path, "/", 2), "/")
        in_area = sa.func.coalesce(sa.literal(buyer.region_path).startswith(area), False)
        stmt = (
            sa.select(w.id).select_from(warehouses.outerjoin(r, r.c.id == w.region_id))
            .where(w.tenant_id == tenant_id, w.owner_kind == "HQ")
            .order_by(in_area.desc(), w.id).limit(1)
        )
        return (await conn.execute(stmt)).scalar_one_or_none()
    return await _dealer_warehouse(conn, tenant_id, buyer.parent_id)


async def _dealer_warehouse(conn: Executor, tenant_id: int, dealer_id: int) -> int | None:
    w = warehouses.c
    return (await conn.execute(
        sa.select(w.id).where(w.tenant_id == tenant_id, w.owner_kind == "DEALER", w.dealer_id == dealer_id)
        .order_by(w.id).limit(1)
    )).scalar_one_or_none()


async def _store_warehouse(conn: Executor, tenant_id: int, store_id: int) -> int | None:
    w = warehouses.c
    return (await conn.execute(
        sa.select(w.id).where(w.tenant_id == tenant_id, w.owner_kind == "STORE", w.store_id == store_id)
        .order_by(w.id).limit(1)
    )).scalar_one_or_none()


async def _currency(conn: Executor, tenant_id: int) -> str:
    return str((await conn.execute(sa.select(tenants.c.currency).where(tenants.c.id == tenant_id))).scalar_one())


async def party(conn: Executor, p: Principal, ref: BuyerRef, *, field: str = "buyerId") -> Party:
    """The buyer as the principal may order for it; BUYER_NOT_FOUND otherwise (no probing)."""
    if ref.kind is BuyerKind.STORE:
        return await _store_party(conn, p, ref, field)
    row = (await conn.execute(
        _dealer_select().where(dealers.c.tenant_id == p.tenant_id, dealers.c.id == ref.id)
    )).first()
    if row is None or not access.may_order_for(p, row.id):
        raise _fail(OrdersErrorCode.BUYER_NOT_FOUND, "No such buyer.", field)
    return Party(
        ref, row, row.parent_id, await _seller_warehouse(conn, p.tenant_id, row),
        await _dealer_warehouse(conn, p.tenant_id, row.id), await _currency(conn, p.tenant_id),
        Decimal(row.credit_limit),
    )


async def _store_party(conn: Executor, p: Principal, ref: BuyerRef, field: str) -> Party:
    st = org_service.stores
    store = (await conn.execute(
        sa.select(st.c.id, st.c.dealer_id, st.c.status).where(st.c.tenant_id == p.tenant_id, st.c.id == ref.id)
    )).first()
    if store is None or not access.may_order_for_store(p, store.id):
        raise _fail(OrdersErrorCode.BUYER_NOT_FOUND, "No such buyer.", field)
    dealer = (await conn.execute(_dealer_select().where(dealers.c.id == store.dealer_id))).one()
    return Party(
        ref, dealer, dealer.id, await _dealer_warehouse(conn, p.tenant_id, dealer.id),
        await _store_warehouse(conn, p.tenant_id, store.id), await _currency(conn, p.tenant_id), None,
    )


# ---- cart writes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    sku_id: int
    quantity: int


def _check_lines(lines: Sequence[LineInput], *, allow_zero: bool = False) -> None:
    if not lines:
        raise _fail(OrdersErrorCode.QUANTITY_INVALID, "Give at least one line.", "lines")
    if len(lines) > MAX_LINES:
        raise _fail(OrdersErrorCode.TOO_MANY_LINES, f"At most {MAX_LINES} lines.", "lines")
    seen: set[int] = set()
    for i, ln in enumerate(lines):
        if ln.sku_id in seen:
            raise _fail(OrdersErrorCode.DUPLICATE_SKU, "A SKU appears twice.", "lines", i, "skuId")
        seen.add(ln.sku_id)
        low = 0 if allow_zero else 1
        if not low <= ln.quantity <= MAX_QUANTITY:
            raise _fail(OrdersErrorCode.QUANTITY_INVALID,
                        f"Quantity must be between {low} and {MAX_QUANTITY}.", "lines", i, "quantity")


async def _lock_cart(conn: Executor, tenant_id: int, buyer: BuyerRef) -> int:
    """The buyer's cart (created on first use), locked for this transaction: cart writes and
    submits of one buyer run one after the other."""
    await conn.execute(
        pg_insert(carts).values(tenant_id=tenant_id, **buyer.values())
        .on_conflict_do_nothing(index_elements=["tenant_id", buyer.column(carts).key])
    )
    return int((await conn.execute(
        sa.select(carts.c.id).where(carts.c.tenant_id == tenant_id, buyer.column(carts) == buyer.id)
        .with_for_update()
    )).scalar_one())


async def _check_skus(conn: Executor, tenant_id: int, lines: Sequence[LineInput]) -> None:
    ids = [ln.sku_id for ln in lines]
    found = set((await conn.execute(
        sa.select(skus.c.id).where(skus.c.tenant_id == tenant_id, skus.c.id.in_(ids))
    )).scalars())
    for i, ln in enumerate(lines):
        if ln.sku_id not in found:
            raise _fail(OrdersErrorCode.SKU_NOT_FOUND, "No such SKU.", "lines", i, "skuId")


async def _touch(conn: Executor, cart_id: int) -> None:
    await conn.execute(sa.update(carts).where(carts.c.id == cart_id).values(updated_at=sa.func.now()))


async def add_lines(conn: Executor, p: Principal, buyer: BuyerRef, lines: Sequence[LineInput]) -> BuyerRef:
    """Add quantities to the cart (a SKU already in it gets the sum). Returns the buyer."""
    _check_lines(lines)
    await party(conn, p, buyer)
    await _check_skus(conn, p.tenant_id, lines)
    cart_id = await _lock_cart(conn, p.tenant_id, buyer)
    ins = pg_insert(cart_lines).values(
        [{"tenant_id": p.tenant_id, "cart_id": cart_id, "sku_id": ln.sku_id, "quantity": ln.quantity}
         for ln in lines]
    )
    total = sa.func.least(cart_lines.c.quantity + ins.excluded.quantity, MAX_QUANTITY)
    await conn.execute(ins.on_conflict_do_update(constraint="uq_cart_lines_sku", set_={"quantity": total}))
    await _touch(conn, cart_id)
    return buyer


async def update_lines(
    conn: Executor, p: Principal, buyer: BuyerRef, lines: Sequence[LineInput]
) -> BuyerRef:
    """Set the quantity of lines already in the cart (0 removes the line)."""
    _check_lines(lines, allow_zero=True)
    await party(conn, p, buyer)
    cart_id = await _lock_cart(conn, p.tenant_id, buyer)
    present = set((await conn.execute(
        sa.select(cart_lines.c.sku_id).where(cart_lines.c.cart_id == cart_id)
    )).scalars())
    for i, ln in enumerate(lines):
        if ln.sku_id not in present:
            raise _fail(OrdersErrorCode.LINE_NOT_IN_CART, "This SKU is not in the cart.", "lines", i, "skuId")
    for ln in lines:
        c = cart_lines.c
        where = sa.and_(c.cart_id == cart_id, c.sku_id == ln.sku_id)
        if ln.quantity == 0:
            await conn.execute(sa.delete(cart_lines).where(where))
        else:
            await conn.execute(sa.update(cart_lines).where(where).values(quantity=ln.quantity))
    await _touch(conn, cart_id)
    return buyer


async def remove_lines(conn: Executor, p: Principal, buyer: BuyerRef, sku_ids: Sequence[int]) -> BuyerRef:
    if not sku_ids:
        raise _fail(OrdersErrorCode.LINE_NOT_IN_CART, "Name at least one SKU.", "skuIds")
    await party(conn, p, buyer)
    cart_id = await _lock_cart(conn, p.tenant_id, buyer)
    gone = set((await conn.execute(
        sa.delete(cart_lines).where(cart_lines.c.cart_id == cart_id, cart_lines.c.sku_id.in_(sku_ids))
        .returning(cart_lines.c.sku_id)
    )).scalars())
    for i, sku_id in enumerate(sku_ids):
        if sku_id not in gone:
            raise _fail(OrdersErrorCode.LINE_NOT_IN_CART, "This SKU is not in the cart.", "skuIds", i)
    await _touch(conn, cart_id)
    return buyer


# ---- review: prices and problems ------------------------------------------------------------


@dataclass
class Problem:
    code: ProblemCode
    message: str


@dataclass
class ReviewLine:
    sku_id: int
    quantity: int
    unit_price: Decimal | None
    price_list_id: int | None
    why: str | None
    line_total: Decimal | None
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Review:
    """A cart as the buyer would order it now (re-run at submit, inside its transaction)."""

    party: Party
    lines: list[ReviewLine]
    subtotal: Decimal
    # Placeholder for the rebate centre: the most rebate the buyer may apply to this cart.
    # None until the rebate issue fills it; the total and the credit check will then use it.
    rebate_proposal: Decimal | None
    total: Decimal
    updated_at: datetime | None

    @property
    def problems(self) -> list[tuple[int, Problem]]:
        return [(i, pr) for i, ln in enumerate(self.lines) for pr in ln.problems]


async def _cart_rows(
    conn: Executor, tenant_id: int, buyer: BuyerRef
) -> tuple[datetime | None, list[Row[Any]]]:
    """The cart's lines with their SKU's ordering facts, and the cart's last change."""
    c = cart_lines.c
    rows = (await conn.execute(
        sa.select(carts.c.updated_at.label("cart_updated_at"), c.sku_id, c.quantity, c.id,
                  skus.c.code.label("sku_code"), skus.c.status.label("sku_status"), skus.c.moq,
                  skus.c.order_multiple)
        .select_from(carts.outerjoin(cart_lines, c.cart_id == carts.c.id).outerjoin(skus, skus.c.id == c.sku_id))
        .where(carts.c.tenant_id == tenant_id, buyer.column(carts) == buyer.id)
        .order_by(c.id)
    )).all()
    updated = rows[0].cart_updated_at if rows else None
    return updated, [r for r in rows if r.sku_id is not None]


async def _prices(
    conn: Executor, p: Principal, buyer: BuyerRef, wanted: Sequence[tuple[int, int]]
) -> dict[int, pricing_service.ResolvedPriceRow]:
    """Resolved prices per SKU; one statement per distinct quantity (quantity breaks)."""
    by_qty: dict[int, list[int]] = defaultdict(list)
    for sku_id, qty in wanted:
        by_qty[qty].append(sku_id)
    resolve = pricing_service.resolve_prices if buyer.kind is BuyerKind.DEALER else pricing_service.resolve_store_prices
    out: dict[int, pricing_service.ResolvedPriceRow] = {}
    for qty, ids in by_qty.items():
        out.update(await resolve(conn, p, buyer.id, ids, qty))
    return out


async def _available(conn: Executor, warehouse_id: int | None, sku_ids: Sequence[int]) -> dict[int, int]:
    if warehouse_id is None or not sku_ids:
        return {}
    lv = stock_levels
    rows = (await conn.execute(
        sa.select(lv.c.sku_id, (lv.c.on_hand - lv.c.reserved).label("available"))
        .where(lv.c.warehouse_id == warehouse_id, lv.c.sku_id.in_(sku_ids))
    )).all()
    return {r.sku_id: int(r.available) for r in rows}


async def _orderable(conn: Executor, buyer: Row[Any], sku_ids: Sequence[int]) -> set[int]:
    if not sku_ids:
        return set()
    rows = (await conn.execute(
        sa.select(skus.c.id).where(skus.c.id.in_(sku_ids), catalog_service.orderable_clause(buyer))
    )).all()
    return {r[0] for r in rows}


async def review(conn: Executor, p: Principal, buyer: BuyerRef, pt: Party | None = None) -> Review:
    """The cart with server-resolved prices, totals and per-line problems."""
    pt = pt or await party(conn, p, buyer)
    updated, rows = await _cart_rows(conn, p.tenant_id, buyer)
    ids = [r.sku_id for r in rows]
    prices = await _prices(conn, p, buyer, [(r.sku_id, r.quantity) for r in rows])
    stock = await _available(conn, pt.seller_warehouse_id, ids)
    orderable = await _orderable(conn, pt.dealer, ids)
    lines: list[ReviewLine] = []
    subtotal = Decimal("0")
    for r in rows:
        price = prices.get(r.sku_id)
        unit = price.amount if price else None
        total = (unit * r.quantity).quantize(CENT) if unit is not None else None
        ln = ReviewLine(r.sku_id, r.quantity, unit, price.price_list["id"] if price else None,
                        price.why if price else None, total)
        if r.sku_status == "DISCONTINUED":
            ln.problems.append(Problem(ProblemCode.DISCONTINUED, f"{r.sku_code} is discontinued."))
        elif r.sku_id not in orderable:
            ln.problems.append(Problem(ProblemCode.NOT_IN_ASSORTMENT, f"{r.sku_code} is not in your assortment."))
        if r.quantity < r.moq:
            ln.problems.append(Problem(ProblemCode.BELOW_MOQ, f"{r.sku_code}: order at least {r.moq}."))
        if r.quantity % r.order_multiple:
            ln.problems.append(Problem(ProblemCode.NOT_A_MULTIPLE,
                                       f"{r.sku_code}: order in multiples of {r.order_multiple}."))
        have = stock.get(r.sku_id, 0)
        if have < r.quantity:
            ln.problems.append(Problem(ProblemCode.NOT_ENOUGH_STOCK,
                                       f"{r.sku_code}: {r.quantity} wanted, {have} available."))
        if price is None:
            ln.problems.append(Problem(ProblemCode.NO_PRICE, f"{r.sku_code} has no price for you."))
        if total is not None:
            subtotal += total
        lines.append(ln)
    rebate: Decimal | None = None  # the rebate centre's proposal goes here
    return Review(pt, lines, subtotal, rebate, subtotal - (rebate or 0), updated)


# ---- submit ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitRequest:
    buyer: BuyerRef
    idempotency_key: str
    note: str | None = None


async def order_id_by_key(conn: Executor, tenant_id: int, buyer: BuyerRef, key: str) -> int | None:
    o = orders.c
    return (await conn.execute(
        sa.select(o.id).where(o.tenant_id == tenant_id, buyer.column(orders) == buyer.id, o.idempotency_key == key)
    )).scalar_one_or_none()


async def _next_number(conn: Executor, tenant_id: int) -> str:
    today: date = (await conn.execute(sa.select(sa.func.current_date()))).scalar_one()
    ins = pg_insert(order_counters).values(tenant_id=tenant_id, day=today, last=1)
    n = (await conn.execute(
        ins.on_conflict_do_update(index_elements=["tenant_id", "day"], set_={"last": order_counters.c.last + 1})
        .returning(order_counters.c.last)
    )).scalar_one()
    return f"SO{today:%Y%m%d}-{n:06d}"


def _actor(p: Principal) -> dict[str, int | None]:
    return {"actor_user_id": p.user_id, "actor_api_key_id": p.api_key_id}


async def record_event(
    conn: Executor, p: Principal | None, o: Row[Any], kind: str, details: dict[str, Any] | None = None,
    status: str | None = None,
) -> None:
    """Append a step to the order's timeline (``p`` None: the system did it)."""
    await conn.execute(sa.insert(order_events).values(
        tenant_id=o.tenant_id, order_id=o.id, kind=kind, status=status, details=details or {},
        **(_actor(p) if p else {}),
    ))


def buyer_of(o: Row[Any]) -> BuyerRef:
    if o.buyer_store_id is not None:
        return BuyerRef.store(o.buyer_store_id)
    return BuyerRef.dealer(o.buyer_dealer_id)


def order_topics(o: Row[Any]) -> list[str]:
    """Who may hear about the order: HQ, the buyer, and the selling dealer if a dealer sells."""
    topics = ["hq", buyer_of(o).topic]
    if o.seller_dealer_id is not None:
        topics.append(f"seller:dealer:{o.seller_dealer_id}")
    return topics


async def emit_order_event(conn: Executor, o: Row[Any], event_type: str, extra: dict[str, Any] | None = None) -> None:
    payload = {"orderNumber": o.number, "status": o.status, "total": o.total, "currency": o.currency, **(extra or {})}
    await notifications.emit(conn, o.tenant_id, event_type, "Order", o.id, payload, order_topics(o))


async def _outstanding(conn: Executor, tenant_id: int, dealer_id: int) -> Decimal:
    """What the dealer owes on orders approved and not yet received (its credit in use)."""
    o = orders.c
    return Decimal((await conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(o.total), 0))
        .where(o.tenant_id == tenant_id, o.buyer_dealer_id == dealer_id, o.status.in_(OUTSTANDING))
    )).scalar_one())


async def _same_request(conn: Executor, p: Principal, r: SubmitRequest, order_id: int) -> None:
    """A key sent again must come with the request it was first sent with: a retry. A note it
    gives must be the order's (none: the retry leaves it out), and the cart must be empty (the
    order emptied it): lines in it now were added since, and answering with the old order would
    tell the client they were ordered."""
    o = await _order_row(conn, p.tenant_id, order_id)
    if r.note is not None and r.note != o.note:
        raise _fail(OrdersErrorCode.IDEMPOTENCY_KEY_REUSED,
                    f"This idempotency key made order {o.number} with another note; use a new key for a new order.",
                    "idempotencyKey")
    waiting = (await conn.execute(
        sa.select(sa.func.count()).select_from(cart_lines.join(carts, carts.c.id == cart_lines.c.cart_id))
        .where(carts.c.tenant_id == p.tenant_id, r.buyer.column(carts) == r.buyer.id)
    )).scalar_one()
    if waiting:
        raise _fail(OrdersErrorCode.IDEMPOTENCY_KEY_REUSED,
                    f"This idempotency key already made order {o.number}, and the cart holds {waiting} line(s) "
                    "added since; submit them with a new key.", "idempotencyKey")


async def submit(conn: Executor, p: Principal, r: SubmitRequest) -> int:
    """Turn the buyer's cart into an order (see the module docstring); returns its id.
    The same idempotency key returns the order it made, never a second one."""
    key = (r.idempotency_key or "").strip()
    if not key or len(key) > MAX_KEY:
        raise _fail(OrdersErrorCode.IDEMPOTENCY_KEY_INVALID, f"Give an idempotency key of 1–{MAX_KEY} characters.",
                    "idempotencyKey")
    if r.note is not None and len(r.note) > MAX_NOTE:
        raise _fail(OrdersErrorCode.NOTE_TOO_LONG, f"A note has at most {MAX_NOTE} characters.", "note")
    pt = await party(conn, p, r.buyer)
    # One buyer's submits run one after the other (the cart lock); a replay waits here, then
    # finds the order the first request made.
    await _lock_cart(conn, p.tenant_id, r.buyer)
    existing = await order_id_by_key(conn, p.tenant_id, r.buyer, key)
    if existing is not None:
        await _same_request(conn, p, r, existing)
        return existing
    rv = await review(conn, p, r.buyer, pt)
    if not rv.lines:
        raise _fail(OrdersErrorCode.CART_EMPTY, "The cart is empty.", "buyerId")
    if pt.seller_warehouse_id is None:
        raise _fail(OrdersErrorCode.NO_SELLER_WAREHOUSE, "Your seller has no warehouse to ship from.", "buyerId")
    if pt.buyer_warehouse_id is None:
        raise _fail(OrdersErrorCode.NO_BUYER_WAREHOUSE, "You have no warehouse to receive goods in.", "buyerId")
    # Stock is decided by the reservation itself (the check above may be stale under a race).
    blocking = [(i, pr) for i, pr in rv.problems if pr.code is not ProblemCode.NOT_ENOUGH_STOCK]
    if blocking:
        i, pr = blocking[0]
        more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
        raise DomainError(OrdersErrorCode.CART_HAS_PROBLEMS, f"{pr.message}{more}", ["lines", str(i)])
    order_id = int((await conn.execute(sa.select(sa.func.nextval("orders_id_seq")))).scalar_one())
    try:
        await inventory_service.reserve(
            conn, p.tenant_id, pt.seller_warehouse_id, [(ln.sku_id, ln.quantity) for ln in rv.lines],
            inventory_service.Ref("Order", order_id), actor=inventory_service.Actor.of(p),
        )
    except DomainError as exc:
        raise DomainError(OrdersErrorCode.INSUFFICIENT_STOCK, exc.message, exc.field) from exc
    credit: dict[str, Any] = {"orderTotal": str(rv.total)}
    status = OrderStatus.APPROVED
    if pt.credit_limit is not None:
        outstanding = await _outstanding(conn, p.tenant_id, r.buyer.id)
        credit |= {"creditLimit": str(pt.credit_limit), "outstanding": str(outstanding)}
        if outstanding + rv.total > pt.credit_limit:
            status = OrderStatus.PENDING_APPROVAL
    # Numbered last: the per-day counter row stays locked only until commit.
    number = await _next_number(conn, p.tenant_id)
    await conn.execute(sa.insert(orders).values(
        id=order_id, tenant_id=p.tenant_id, number=number, **r.buyer.values(),
        buyer_warehouse_id=pt.buyer_warehouse_id, seller_dealer_id=pt.seller_dealer_id,
        seller_warehouse_id=pt.seller_warehouse_id, status=status.value, subtotal=rv.subtotal,
        rebate_amount=Decimal("0"), total=rv.total, currency=pt.currency, note=r.note, idempotency_key=key,
        submitted_by_user_id=p.user_id, submitted_by_api_key_id=p.api_key_id,
    ))
    await conn.execute(sa.insert(order_lines), [
        {"tenant_id": p.tenant_id, "order_id": order_id, "sku_id": ln.sku_id, "quantity": ln.quantity,
         "unit_price": ln.unit_price, "price_list_id": ln.price_list_id, "line_total": ln.line_total}
        for ln in rv.lines
    ])
    row = await _order_row(conn, p.tenant_id, order_id)
    await record_event(conn, p, row, "SUBMITTED", {"total": str(rv.total), "lines": len(rv.lines), "note": r.note},
                       OrderStatus.SUBMITTED.value)
    await record_event(conn, None, row, status.value, {"automatic": True, **credit}, status.value)
    await conn.execute(sa.delete(cart_lines).where(
        cart_lines.c.cart_id == sa.select(carts.c.id).where(
            carts.c.tenant_id == p.tenant_id, r.buyer.column(carts) == r.buyer.id).scalar_subquery()
    ))
    await emit_order_event(conn, row, "order.submitted")
    approved = status is OrderStatus.APPROVED
    await emit_order_event(conn, row, "order.approved" if approved else "order.pending_approval", credit)
    return order_id


# ---- transitions ----------------------------------------------------------------------------


async def _order_row(conn: Executor, tenant_id: int, order_id: int, *, lock: bool = False) -> Row[Any]:
    stmt = order_select().where(orders.c.tenant_id == tenant_id, orders.c.id == order_id)
    if lock:
        stmt = stmt.with_for_update(of=orders)
    return (await conn.execute(stmt)).one()


async def lock_visible_order(conn: Executor, p: Principal, order_id: int) -> Row[Any]:
    """The order locked for a change; ORDER_NOT_FOUND when the principal cannot see it."""
    row = (await conn.execute(
        scoped_orders(p).where(orders.c.id == order_id).with_for_update(of=orders)
    )).first()
    if row is None:
        raise _fail(OrdersErrorCode.ORDER_NOT_FOUND, "No such order.", "orderId")
    return row


async def change_status(
    conn: Executor, p: Principal | None, o: Row[Any], to: OrderStatus, event_type: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Move a locked order to ``to``: the status, a timeline step and an outbox event, together."""
    await conn.execute(sa.update(orders).where(orders.c.id == o.id).values(status=to.value, updated_at=sa.func.now()))
    await record_event(conn, p, o, to.value, {"from": o.status, **(details or {})}, to.value)
    await emit_order_event(conn, await _order_row(conn, o.tenant_id, o.id), event_type, details)


async def _transition(
    conn: Executor, p: Principal, o: Row[Any], allowed: Sequence[str], to: OrderStatus, event_type: str,
    reason: str | None, *, release: bool,
) -> int:
    if reason is not None and len(reason) > MAX_NOTE:
        raise _fail(OrdersErrorCode.REASON_TOO_LONG, f"A reason has at most {MAX_NOTE} characters.", "reason")
    if o.status not in allowed:
        raise _fail(OrdersErrorCode.INVALID_TRANSITION,
                    f"Order {o.number} is {o.status}; it cannot become {to.value}.", "orderId")
    if release:
        lines = (await conn.execute(
            sa.select(order_lines.c.sku_id, order_lines.c.quantity).where(order_lines.c.order_id == o.id)
            .order_by(order_lines.c.sku_id)
        )).all()
        await inventory_service.release(conn, o.tenant_id, o.seller_warehouse_id,
                                        [(ln.sku_id, ln.quantity) for ln in lines],
                                        inventory_service.Ref("Order", o.id), actor=inventory_service.Actor.of(p))
    await change_status(conn, p, o, to, event_type, {"reason": reason} if reason else None)
    return int(o.id)


async def approve(conn: Executor, p: Principal, order_id: int, reason: str | None = None) -> int:
    o = await lock_visible_order(conn, p, order_id)
    if not access.may_decide_order(p, o.seller_dealer_id, o.buyer_region_path):
        raise Forbidden("Only HQ, the buyer's area sales or the selling dealer's admin decide this order.")
    return await _transition(conn, p, o, DECIDABLE, OrderStatus.APPROVED, "order.approved", reason, release=False)


async def reject(conn: Executor, p: Principal, order_id: int, reason: str | None = None) -> int:
    o = await lock_visible_order(conn, p, order_id)
    if not access.may_decide_order(p, o.seller_dealer_id, o.buyer_region_path):
        raise Forbidden("Only HQ, the buyer's area sales or the selling dealer's admin decide this order.")
    return await _transition(conn, p, o, DECIDABLE, OrderStatus.REJECTED, "order.rejected", reason, release=True)


async def cancel(conn: Executor, p: Principal, order_id: int, reason: str | None = None) -> int:
    o = await lock_visible_order(conn, p, order_id)
    if not access.may_act_as_buyer(p, o.buyer_dealer_id, o.buyer_store_id):
        raise Forbidden("Only the buyer cancels its order.")
    return await _transition(conn, p, o, CANCELLABLE, OrderStatus.CANCELLED, "order.cancelled", reason,
                             release=True)


# ---- reads ----------------------------------------------------------------------------------

# The buyer side's dealer: the buying dealer, or the dealer a buying store belongs to. Its
# tree path and region decide who sees the order.
_buyer = dealers.alias("buyer")
_buyer_region = regions.alias("buyer_region")
_buyer_store = org_service.stores.alias("buyer_store")


def order_select() -> sa.Select[Any]:
    return sa.select(
        orders, _buyer.c.path.label("buyer_path"), _buyer_region.c.path.label("buyer_region_path")
    ).select_from(
        orders.outerjoin(_buyer_store, _buyer_store.c.id == orders.c.buyer_store_id)
        .join(_buyer, _buyer.c.id == sa.func.coalesce(orders.c.buyer_dealer_id, _buyer_store.c.dealer_id))
        .join(_buyer_region, _buyer_region.c.id == _buyer.c.region_id)
    )


def scoped_orders(p: Principal) -> sa.Select[Any]:
    return order_select().where(
        orders.c.tenant_id == p.tenant_id,
        access.order_scope(p, orders, _buyer, _buyer_region),
    )


ORDER_ORDER: Order = newest_first(orders.c.id)


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    buyer: BuyerRef | None = None
    seller_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None


async def orders_page(
    db: Executor, p: Principal, f: OrderFilter, first: int, after: str | None, want_total: bool
) -> Page:
    o = orders.c
    base = scoped_orders(p).where(
        *equal_to((o.status, f.status), (o.seller_dealer_id, f.seller_id)),
        *([f.buyer.column(orders) == f.buyer.id] if f.buyer else []),
        *search_clauses(f.search, o.number),
    )
    if f.since is not None:
        base = base.where(o.created_at >= f.since)
    if f.until is not None:
        base = base.where(o.created_at < f.until)
    return await page(db, base, ORDER_ORDER, first, after, want_total)


async def orders_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    rows = (await db.execute(scoped_orders(p).where(orders.c.id.in_(ids)))).all()
    return {r.id: r for r in rows}


async def order_by_number(db: Executor, p: Principal, number: str) -> Row[Any] | None:
    return (await db.execute(scoped_orders(p).where(orders.c.number == number.strip().upper()))).first()


async def lines_for(db: Executor, order_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Lines of orders already read through ``scoped_orders`` (one statement)."""
    out: dict[int, list[Row[Any]]] = defaultdict(list)
    for r in (await db.execute(
        sa.select(order_lines).where(order_lines.c.order_id.in_(order_ids)).order_by(order_lines.c.id)
    )).all():
        out[r.order_id].append(r)
    return out


async def events_for(db: Executor, order_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Timelines of orders already read through ``scoped_orders``, oldest first (one statement)."""
    out: dict[int, list[Row[Any]]] = defaultdict(list)
    for r in (await db.execute(
        sa.select(order_events).where(order_events.c.order_id.in_(order_ids)).order_by(order_events.c.id)
    )).all():
        out[r.order_id].append(r)
    return out
