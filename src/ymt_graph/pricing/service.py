"""Price rules: guide retail prices, supply price lists, price resolution, price limits (限价)
and price violations (乱价).

Resolution is one rule written once, as SQL (``ranked_offers``), so that a page of SKUs is
priced in one statement and the catalog compiler can embed the same rule later. Who may see
which list is ``access.price_list_scope``; who may change one is ``access.may_write_price_list``.
Every change to a list, a line, a limit or a guide price writes ``price_audit`` rows in the
same transaction.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from ymt_graph import access
from ymt_graph.access import Forbidden, Principal
from ymt_graph.catalog import service as catalog_service
from ymt_graph.db import table
from ymt_graph.errors import BadInput, DomainError, Executor
from ymt_graph.org import service as org_service
from ymt_graph.paging import Order, Page, equal_to, order_by, page, partitioned_page_query, search_clauses
from ymt_graph.pricing import models

guide_retail_prices = table(models.GuideRetailPrice)
price_lists = table(models.PriceList)
price_list_lines = table(models.PriceListLine)
price_limits = table(models.PriceLimit)
price_audit = table(models.PriceAudit)
price_violations = table(models.PriceViolation)

dealers, regions, stores = org_service.dealers, org_service.regions, org_service.stores
skus = catalog_service.skus

# Aliases are built once: a fresh alias re-proxies every column of its table, which costs
# more Python than PostgreSQL spends resolving a whole page.
_buyer, _buyer_region = dealers.alias("buyer"), regions.alias("buyer_region")
_seller, _shop, _where_sold = dealers.alias("seller"), stores.alias("shop"), regions.alias("where_sold")
_filter_buyer, _filter_buyer_region = dealers.alias("filter_buyer"), regions.alias("filter_buyer_region")
_limit_region, _target_region = regions.alias("limit_region"), regions.alias("target_region")
_band_dealer, _band_dealer_region = dealers.alias("band_dealer"), regions.alias("band_dealer_region")
_buying_store, _buying_store_region = stores.alias("buying_store"), regions.alias("buying_store_region")

HQ_KINDS = ("BASE", "TIER", "CONTRACT", "PROMOTION")
KINDS = (*HQ_KINDS, "DOWNSTREAM")
# A dealer's contract beats a promotion, which beats its tier/level list, which beats the base.
DEFAULT_PRIORITY = {"CONTRACT": 400, "PROMOTION": 300, "TIER": 200, "BASE": 100, "DOWNSTREAM": 100}
LIST_STATUSES = ("ACTIVE", "INACTIVE")
MAX_PRIORITY = 10_000
MAX_LINES = 1_000
MAX_AMOUNT = Decimal("9999999999999999.99")  # NUMERIC(18,2)
CENT = Decimal("0.01")

PRICE_LIST_ORDER: Order = order_by(price_lists.c.code, price_lists.c.id)
# Lines read by SKU code, then quantity break; the id keeps the order total.
LINE_ORDER = Order(
    columns=(skus.c.code, price_list_lines.c.min_quantity, price_list_lines.c.id),
    keys=("sku_code", "min_quantity", "id"),
)
# In the order they were recorded (a late report shows up late, like any other).
VIOLATION_ORDER: Order = order_by(price_violations.c.id)


class PricingErrorCode(enum.Enum):
    CODE_INVALID = "CODE_INVALID"
    CODE_TAKEN = "CODE_TAKEN"
    NAME_BLANK = "NAME_BLANK"
    KIND_INVALID = "KIND_INVALID"
    PRIORITY_INVALID = "PRIORITY_INVALID"
    STATUS_INVALID = "STATUS_INVALID"
    WINDOW_INVALID = "WINDOW_INVALID"
    CONDITION_INVALID = "CONDITION_INVALID"
    REGION_NOT_FOUND = "REGION_NOT_FOUND"
    DEALER_NOT_FOUND = "DEALER_NOT_FOUND"
    PRICE_LIST_NOT_FOUND = "PRICE_LIST_NOT_FOUND"
    SKU_NOT_FOUND = "SKU_NOT_FOUND"
    MIN_QUANTITY_INVALID = "MIN_QUANTITY_INVALID"
    AMOUNT_INVALID = "AMOUNT_INVALID"
    LINE_DUPLICATE = "LINE_DUPLICATE"
    LINES_TOO_MANY = "LINES_TOO_MANY"
    PRICE_OUTSIDE_LIMIT = "PRICE_OUTSIDE_LIMIT"
    LIMIT_INVALID = "LIMIT_INVALID"


class PricingErrors(DomainError):
    """Several refusals at once: an upload of lines reports every bad line, not just the first."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        super().__init__(errors[0].code, errors[0].message, errors[0].field)
        self.errors = list(errors)


def _err(code: PricingErrorCode, message: str, *field: str) -> DomainError:
    return DomainError(code, message, list(field))


def _aware(instant: datetime | None) -> datetime | None:
    """API times are UTC: a time sent without an offset is taken as UTC."""
    if instant is None or instant.tzinfo is not None:
        return instant
    return instant.replace(tzinfo=UTC)


def _valid_at(tbl: sa.Table | Any, at: Any) -> sa.ColumnElement[bool]:
    """Half-open validity [valid_from, valid_to): a price ending at 10:00 no longer applies at 10:00."""
    return sa.and_(tbl.c.valid_from <= at, sa.or_(tbl.c.valid_to.is_(None), tbl.c.valid_to > at))


def _instant(at: datetime | sa.ColumnElement[Any] | None) -> sa.ColumnElement[Any]:
    """An instant in SQL: now (the statement's clock), a given time, or an expression."""
    if at is None:
        return sa.func.now()
    if isinstance(at, datetime):
        return sa.literal(_aware(at), sa.DateTime(timezone=True))
    return at


def money_text(amount: Decimal) -> str:
    return f"{amount:,.2f}"


# ---- price lists: reads --------------------------------------------------------------------


def price_list_select(p: Principal) -> sa.Select[Any]:
    return sa.select(price_lists).where(access.price_list_scope(p, price_lists, dealers, regions))


@dataclass(frozen=True)
class PriceListFilter:
    kind: str | None = None
    status: str | None = None
    search: str | None = None
    # Contracts with this dealer and the downstream lists it publishes.
    dealer_id: int | None = None
    # The lists this dealer is offered (what price resolution weighs for it).
    offered_to: int | None = None


def price_list_filter_clauses(p: Principal, f: PriceListFilter) -> list[sa.ColumnElement[bool]]:
    c = price_lists.c
    clauses = search_clauses(f.search, c.code, c.name)
    clauses += equal_to((c.kind, f.kind), (c.status, f.status))
    if f.dealer_id is not None:
        clauses.append(sa.or_(c.dealer_id == f.dealer_id, c.owner_dealer_id == f.dealer_id))
    if f.offered_to is not None:
        buyer, buyer_region = _filter_buyer, _filter_buyer_region
        clauses.append(
            sa.exists().where(
                buyer.c.id == f.offered_to,
                buyer_region.c.id == buyer.c.region_id,
                # What a dealer is offered is its business: only for dealers whose prices you see.
                access.dealer_price_scope(p, buyer.c.id, dealers, regions),
                access.price_list_offered_to(price_lists, buyer, buyer_region),
            )
        )
    return clauses


async def price_lists_page(
    db: Executor, p: Principal, f: PriceListFilter, first: int, after: str | None, want_total: bool
) -> Page:
    base = price_list_select(p).where(*price_list_filter_clauses(p, f))
    return await page(db, base, PRICE_LIST_ORDER, first, after, want_total)


async def price_lists_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    rows = (await db.execute(price_list_select(p).where(price_lists.c.id.in_(ids)))).all()
    return {r.id: r for r in rows}


async def price_lists_by_codes(db: Executor, p: Principal, codes: Sequence[str]) -> dict[str, Row[Any]]:
    rows = (await db.execute(price_list_select(p).where(price_lists.c.code.in_(codes)))).all()
    return {r.code: r for r in rows}


@dataclass(frozen=True)
class LineFilter:
    sku_id: int | None = None
    # Only the lines valid at this instant.
    valid_at: datetime | None = None
    # Without valid_at: also lines that ended (the list's price history). Default: now and future.
    include_expired: bool = False


def line_select(p: Principal, f: LineFilter) -> sa.Select[Any]:
    ln = price_list_lines
    stmt = (
        sa.select(ln, skus.c.code.label("sku_code"))
        .select_from(
            ln.join(skus, skus.c.id == ln.c.sku_id).join(price_lists, price_lists.c.id == ln.c.price_list_id)
        )
        .where(access.price_list_scope(p, price_lists, dealers, regions))
        .where(*equal_to((ln.c.sku_id, f.sku_id)))
    )
    if f.valid_at is not None:
        return stmt.where(_valid_at(ln, _instant(f.valid_at)))
    if not f.include_expired:
        return stmt.where(sa.or_(ln.c.valid_to.is_(None), ln.c.valid_to > sa.func.now()))
    return stmt


async def line_pages(
    db: Executor, p: Principal, list_ids: Sequence[int], first: int, after: str | None, f: LineFilter
) -> Sequence[Row[Any]]:
    base = line_select(p, f).where(price_list_lines.c.price_list_id.in_(list_ids))
    stmt = partitioned_page_query(base, price_list_lines.c.price_list_id, LINE_ORDER, first, after)
    return (await db.execute(stmt)).all()


async def lines_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    rows = (await db.execute(line_select(p, LineFilter(include_expired=True)).where(
        price_list_lines.c.id.in_(ids)
    ))).all()
    return {r.id: r for r in rows}


# ---- guide retail prices and price limits: reads ---------------------------------------------


async def guide_retail_prices_of(db: Executor, p: Principal, sku_ids: Sequence[int]) -> dict[int, Decimal]:
    """The national consumer price per SKU (public: it is printed on the price tag)."""
    if not access.catalog_readable(p):
        return {}
    g = guide_retail_prices.c
    stmt = sa.select(g.sku_id, g.amount).where(g.tenant_id == p.tenant_id, g.sku_id.in_(sku_ids))
    return {r.sku_id: r.amount for r in (await db.execute(stmt)).all()}


@dataclass(frozen=True)
class Band:
    """The price band (限价) applying to a SKU somewhere; a null bound is unbounded."""

    sku_id: int
    floor: Decimal | None
    ceiling: Decimal | None
    region_id: int | None  # None: the national band
    region_code: str | None

    def contains(self, amount: Decimal) -> bool:
        return (self.floor is None or amount >= self.floor) and (self.ceiling is None or amount <= self.ceiling)

    def describe(self) -> str:
        if self.floor is not None and self.ceiling is not None:
            span = f"{money_text(self.floor)}–{money_text(self.ceiling)}"
        elif self.floor is not None:
            span = f"at least {money_text(self.floor)}"
        else:
            span = f"at most {money_text(self.ceiling or Decimal(0))}"
        where = f"region {self.region_code}" if self.region_code else "national"
        return f"{span} ({where})"

    @classmethod
    def from_row(cls, row: Row[Any]) -> Band:
        return cls(row.sku_id, row.floor, row.ceiling, row.region_id, row.region_code)


def band_query(tenant_id: int, sku_ids: Sequence[int], region_path: Any) -> sa.Select[Any]:
    """Per SKU, the band applying in the region whose path is ``region_path`` (a value or a
    SQL expression; None = nationally): the deepest regional band whose region contains it,
    else the national band. Rows carry the band's region (``region_code``, ``region_name``…)."""
    lim, lim_region = price_limits, _limit_region
    stmt = (
        sa.select(
            lim,
            lim_region.c.code.label("region_code"),
            lim_region.c.name.label("region_name"),
            lim_region.c.kind.label("region_kind"),
            lim_region.c.parent_id.label("region_parent_id"),
        )
        .select_from(lim.outerjoin(lim_region, lim_region.c.id == lim.c.region_id))
        .where(lim.c.tenant_id == tenant_id, lim.c.sku_id.in_(sku_ids))
    )
    if region_path is None:
        stmt = stmt.where(lim.c.region_id.is_(None))
    else:
        path = sa.literal(region_path, sa.String) if isinstance(region_path, str) else region_path
        stmt = stmt.where(sa.or_(lim.c.region_id.is_(None), path.like(sa.func.concat(lim_region.c.path, "%"))))
    deepest_first = sa.func.length(lim_region.c.path).desc().nulls_last()
    return stmt.ext(distinct_on(lim.c.sku_id)).order_by(lim.c.sku_id, deepest_first)


async def price_limits_of(
    db: Executor, p: Principal, sku_ids: Sequence[int], region_code: str | None
) -> dict[int, Row[Any]]:
    """The band per SKU in a region given by code (national when none is given, or when the
    region has no band of its own; an unknown code has none). Bands are public: dealers must
    know them to comply."""
    if not access.catalog_readable(p):
        return {}
    path = None
    if region_code is not None:
        target = _target_region
        path = (
            sa.select(target.c.path)
            .where(target.c.tenant_id == p.tenant_id, target.c.code == region_code)
            .scalar_subquery()
        )
    rows = (await db.execute(band_query(p.tenant_id, sku_ids, path))).all()
    return {r.sku_id: r for r in rows}


async def bands_for_dealer(db: Executor, tenant_id: int, dealer_id: int, sku_ids: Sequence[int]) -> dict[int, Band]:
    """The bands applying to what a dealer charges: those of its own region."""
    d, r = _band_dealer, _band_dealer_region
    path = sa.select(r.c.path).select_from(d.join(r, r.c.id == d.c.region_id)).where(d.c.id == dealer_id)
    rows = (await db.execute(band_query(tenant_id, sku_ids, path.scalar_subquery()))).all()
    return {row.sku_id: Band.from_row(row) for row in rows}


# ---- resolution: the price rule ---------------------------------------------------------------


def ranked_offers(
    tenant_id: int, buyer_id: Any, sku_ids: Any, quantity: Any, at: datetime | sa.ColumnElement[Any] | None = None
) -> sa.Select[Any]:
    """THE price rule, as one SQL statement (the catalog compiler embeds this; the resolver
    path runs it). For a buying dealer, per SKU, every list offering it a price at ``at``
    for ``quantity`` units, ranked; rank 1 is the price. Arguments are values or SQL
    expressions (bind parameters, columns of an enclosing query).

    - Offered lists: ``access.price_list_offered_to`` — HQ's lists whose conditions match
      the buyer, and its seller's (parent's) DOWNSTREAM lists. A level-1 dealer buys from
      HQ; a level-2 dealer from its distributor, falling back to HQ's lists for a SKU its
      distributor has no price for (so there is an answer whenever HQ has one).
    - A list and a line count when valid at ``at`` (half-open windows) and the line's
      quantity break ``min_quantity`` ≤ ``quantity``; each list offers its largest such break.
    - Rank: the seller's own lists before HQ's fallback, then priority (high first), then
      the newer list (higher id) on a tie.
    """
    buyer, buyer_region = _buyer, _buyer_region
    pl = price_lists
    return _ranked(
        buyer.join(buyer_region, buyer_region.c.id == buyer.c.region_id)
        .join(pl, access.price_list_offered_to(pl, buyer, buyer_region)),
        sa.and_(buyer.c.tenant_id == tenant_id, buyer.c.id == buyer_id),
        buyer.c.id, buyer.c.parent_id, sku_ids, quantity, at,
    )


def ranked_store_offers(
    tenant_id: int, store_id: Any, sku_ids: Any, quantity: Any, at: datetime | sa.ColumnElement[Any] | None = None
) -> sa.Select[Any]:
    """The price rule for a store buying from its dealer: the same ranking as ``ranked_offers``
    over the lists offered to the store (``access.price_list_offered_to_store``: its dealer's
    DOWNSTREAM lists for all its buyers). No HQ fallback — HQ does not sell to stores, and its
    prices to the dealer are the dealer's secret — so a SKU its dealer has not priced has none."""
    store, store_region = _buying_store, _buying_store_region
    pl = price_lists
    return _ranked(
        store.join(store_region, store_region.c.id == store.c.region_id)
        .join(pl, access.price_list_offered_to_store(pl, store, store_region)),
        sa.and_(store.c.tenant_id == tenant_id, store.c.id == store_id),
        store.c.id, store.c.dealer_id, sku_ids, quantity, at,
    )


def _ranked(
    offered: sa.FromClause, buyer_is: sa.ColumnElement[bool], buyer_id: Any, seller_id: Any, sku_ids: Any,
    quantity: Any, at: datetime | sa.ColumnElement[Any] | None,
) -> sa.Select[Any]:
    """Rank the lines of the lists in ``offered`` (the buyer joined to the lists offered to it)."""
    pl, ln = price_lists, price_list_lines
    instant = _instant(at)
    from_hq = pl.c.owner_dealer_id.is_(None)
    # Each list's best break: DISTINCT ON (SKU, list), the largest min_quantity first.
    per_list = (
        sa.select(
            ln.c.sku_id,
            ln.c.id.label("line_id"),
            ln.c.min_quantity,
            ln.c.amount,
            ln.c.valid_from.label("line_valid_from"),
            ln.c.valid_to.label("line_valid_to"),
            pl.c.id.label("list_id"),
            pl.c.priority,
            from_hq.label("from_hq"),
            buyer_id.label("buyer_id"),
            seller_id.label("seller_id"),
            *(pl.c[k].label(f"pl_{k}") for k in _LIST_COLUMNS),
        )
        .select_from(offered.join(ln, ln.c.price_list_id == pl.c.id))
        .where(
            buyer_is,
            _valid_at(pl, instant),
            ln.c.sku_id.in_(sku_ids),
            ln.c.min_quantity <= quantity,
            _valid_at(ln, instant),
        )
        .ext(distinct_on(ln.c.sku_id, pl.c.id))
        .order_by(ln.c.sku_id, pl.c.id, ln.c.min_quantity.desc())
        .subquery("per_list")
    )
    ranking: dict[str, Any] = {
        "partition_by": per_list.c.sku_id,
        "order_by": (per_list.c.from_hq, per_list.c.priority.desc(), per_list.c.list_id.desc()),
    }
    # The runner-up's list beside each offer, from the same window (one sort for both): it
    # only explains the answer (``explain``, ``explain_sql``).
    runner_up = (sa.func.lead(per_list.c[n]).over(**ranking).label(f"next_{n}") for n in RUNNER_UP)
    return sa.select(per_list, sa.func.row_number().over(**ranking).label("rank"), *runner_up)


@dataclass(frozen=True)
class ResolvedPriceRow:
    sku_id: int
    amount: Decimal
    min_quantity: int
    line_id: int
    line_valid_from: datetime
    line_valid_to: datetime | None
    price_list: Mapping[str, Any]  # the winning list's row
    why: str


_LIST_COLUMNS = tuple(c.key for c in price_lists.c)
# An offer's columns that its runner-up's are given beside it as next_<name> (``_ranked``). The
# seller is the buyer's, the same for both.
RUNNER_UP = ("pl_kind", "pl_code", "pl_priority", "from_hq")
KIND_WORDS = {
    "BASE": "base list",
    "TIER": "tier list",
    "CONTRACT": "contract list",
    "PROMOTION": "promotion list",
    "DOWNSTREAM": "downstream list",
}


@functools.lru_cache(maxsize=512)
def _resolution_statement(p: Principal, dated: bool, store: bool = False) -> sa.Select[Any]:
    """``resolution_rows`` with the principal's rights, built once per principal: building it
    costs more Python than PostgreSQL spends running it. Buyer, SKUs, quantity and instant
    are bind parameters."""
    at = sa.bindparam("at", type_=sa.DateTime(timezone=True)) if dated else None
    rows = resolution_rows(
        p, store, sa.bindparam("buyer_id"), sa.bindparam("sku_ids", expanding=True), sa.bindparam("quantity"), at
    ).subquery("resolved")
    return sa.select(rows).order_by(rows.c.sku_id, rows.c.rank)


async def resolve_store_prices(
    db: Executor, p: Principal, store_id: int, sku_ids: Sequence[int], quantity: int, at: datetime | None = None
) -> dict[int, ResolvedPriceRow]:
    """``resolve_prices`` for a store buying from its dealer (``ranked_store_offers``); asked by
    those who see the store."""
    return await resolve_prices(db, p, store_id, sku_ids, quantity, at, store=True)


async def resolve_prices(
    db: Executor, p: Principal, dealer_id: int, sku_ids: Sequence[int], quantity: int, at: datetime | None = None,
    *, store: bool = False,
) -> dict[int, ResolvedPriceRow]:
    """The supply price per SKU for ``dealer_id`` buying ``quantity`` units at ``at`` (now),
    in one statement for the whole page. A SKU is absent when no price applies, when the
    principal may not see the dealer's prices, or when the winning list is not one it may
    see (the next list down would be a wrong answer, and the right one a leak)."""
    if quantity < 1:
        raise BadInput("Quantity must be at least 1.", field="quantity")
    if not sku_ids:
        return {}
    params: dict[str, Any] = {"buyer_id": dealer_id, "sku_ids": list(sku_ids), "quantity": quantity}
    if at is not None:
        params["at"] = _aware(at)
    ranked: dict[int, list[Row[Any]]] = {}
    for row in (await db.execute(_resolution_statement(p, at is not None, store), params)).all():
        ranked.setdefault(row.sku_id, []).append(row)
    out: dict[int, ResolvedPriceRow] = {}
    for sku_id, (win, *rest) in ranked.items():
        if not win.visible:
            continue
        out[sku_id] = ResolvedPriceRow(
            sku_id=sku_id,
            amount=win.amount,
            min_quantity=win.min_quantity,
            line_id=win.line_id,
            line_valid_from=win.line_valid_from,
            line_valid_to=win.line_valid_to,
            price_list={k: win._mapping[f"pl_{k}"] for k in _LIST_COLUMNS},
            why=explain(win, rest[0] if rest else None, quantity),
        )
    return out


def _list_words(row: Row[Any]) -> str:
    owner = f" of {row.seller_code}" if not row.from_hq and row.seller_code else ""
    return f"{KIND_WORDS[row.pl_kind]} {row.pl_code}{owner} (priority {row.pl_priority})"


def explain(win: Row[Any], runner_up: Row[Any] | None, quantity: int) -> str:
    """Why this price, in words anyone can check against the lists, e.g. "contract list HT-D0001
    (priority 400) beats promotion list PROMO-NOW (priority 300); break ≥ 10 (quantity 12)"."""
    fallback = win.from_hq and win.seller_code is not None
    text = f"{win.seller_code} has no downstream price for this SKU, so HQ's lists apply: " if fallback else ""
    text += _list_words(win)
    if runner_up is None:
        text += " is the only list with a price for it"
    elif not win.from_hq and runner_up.from_hq:
        text += f" is the seller's own price and comes before HQ's {_list_words(runner_up)}"
    elif runner_up.pl_priority == win.pl_priority:
        text += f" beats {_list_words(runner_up)} (same priority: the newer list wins)"
    else:
        text += f" beats {_list_words(runner_up)}"
    return f"{text}; break ≥ {win.min_quantity} (quantity {quantity})"


def explain_sql(win: Any, runner_up: Any, quantity: Any) -> sa.ColumnElement[str]:
    """``explain`` in SQL, for the compiled read path: ``win`` and ``runner_up`` give the same
    names as the rows ``explain`` reads (``pl_kind``, ``pl_code``, ``pl_priority``, ``from_hq``,
    ``seller_code``, ``min_quantity``) as SQL; the runner-up's are NULL when there is none.
    ``tests/compiled`` proves the two write the same text."""

    def words(row: Any) -> Any:
        owner = sa.case((sa.and_(sa.not_(row.from_hq), row.seller_code.isnot(None)),
                         _joined(" of ", row.seller_code)), else_="")
        kind = sa.case(*((row.pl_kind == k, v) for k, v in KIND_WORDS.items()), else_=row.pl_kind)
        return _joined(kind, " ", row.pl_code, owner, " (priority ", row.pl_priority, ")")

    fallback = sa.case(
        (sa.and_(win.from_hq, win.seller_code.isnot(None)),
         _joined(win.seller_code, " has no downstream price for this SKU, so HQ's lists apply: ")),
        else_="",
    )
    against = sa.case(
        (runner_up.pl_code.is_(None), " is the only list with a price for it"),
        (sa.and_(sa.not_(win.from_hq), runner_up.from_hq),
         _joined(" is the seller's own price and comes before HQ's ", words(runner_up))),
        (runner_up.pl_priority == win.pl_priority,
         _joined(" beats ", words(runner_up), " (same priority: the newer list wins)")),
        else_=_joined(" beats ", words(runner_up)),
    )
    return _joined(fallback, words(win), against, "; break ≥ ", win.min_quantity, " (quantity ", quantity, ")")


def _joined(*parts: Any) -> Any:
    """``a || b || …`` as text, each part non-NULL. Not ``concat()``: PostgreSQL 15 looks up
    the output function of each of its arguments on every call (a page of 100 prices paid
    for it in the catalog caches)."""
    out: Any = None
    for part in parts:
        # A Python value (a quantity given as a number) is written as its text.
        piece = sa.cast(part, sa.Text) if isinstance(part, sa.ColumnElement) else sa.literal(str(part), sa.Text)
        out = piece if out is None else out + piece
    return out


def resolution_rows(
    p: Principal, store: bool, buyer_id: Any, sku_ids: Any, quantity: Any,
    at: datetime | sa.ColumnElement[Any] | None = None,
) -> sa.Select[Any]:
    """``_resolution_statement`` over SQL arguments (the compiled path correlates it with a SKU
    row): the two best offers per SKU with their lists, the seller's code, whether the principal
    may see the winning list, and only for buyers whose prices it may ask for."""
    rule = ranked_store_offers if store else ranked_offers
    offer = rule(p.tenant_id, buyer_id, sku_ids, quantity, at).subquery("offer")
    # Which lists the principal sees, as one set: PostgreSQL hashes it once, where the scope
    # as a row condition re-ran its correlated EXISTS for every offer.
    seen: Any = price_lists.alias("seen_list")
    visible_lists = sa.select(seen.c.id).where(access.price_list_scope(p, seen, dealers, regions))
    # Asked of the buyer argument, not of each offer's buyer column (the same value): a condition
    # on a value PostgreSQL checks once, where one on the column was a dealer lookup per offer.
    buyer = buyer_id if isinstance(buyer_id, sa.ColumnElement) else sa.literal(buyer_id, sa.BigInteger)
    may_ask = (access.store_price_scope(p, buyer, stores, dealers, regions) if store
               else access.dealer_price_scope(p, buyer, dealers, regions))
    return (
        sa.select(
            offer,
            _seller.c.code.label("seller_code"),
            offer.c.list_id.in_(visible_lists).label("visible"),
        )
        .select_from(offer.outerjoin(_seller, _seller.c.id == offer.c.seller_id))
        # The runner-up only explains the answer.
        .where(offer.c.rank <= 2, may_ask)
    )


# ---- price violations: reads -------------------------------------------------------------------


@dataclass(frozen=True)
class ViolationFilter:
    dealer_id: int | None = None
    sku_id: int | None = None
    sold_from: datetime | None = None  # inclusive
    sold_to: datetime | None = None  # exclusive


def violation_select(p: Principal) -> sa.Select[Any]:
    return sa.select(price_violations).where(access.price_violation_scope(p, price_violations, dealers, regions))


async def violations_page(
    db: Executor, p: Principal, f: ViolationFilter, first: int, after: str | None, want_total: bool
) -> Page:
    v = price_violations.c
    clauses = equal_to((v.dealer_id, f.dealer_id), (v.sku_id, f.sku_id))
    if f.sold_from is not None:
        clauses.append(v.sold_at >= _aware(f.sold_from))
    if f.sold_to is not None:
        clauses.append(v.sold_at < _aware(f.sold_to))
    return await page(db, violation_select(p).where(*clauses), VIOLATION_ORDER, first, after, want_total)


async def violations_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    rows = (await db.execute(violation_select(p).where(price_violations.c.id.in_(ids)))).all()
    return {r.id: r for r in rows}


# ---- audit ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    entity: str  # PRICE_LIST | PRICE_LIST_LINE | PRICE_LIMIT | GUIDE_RETAIL_PRICE
    entity_id: int
    action: str  # CREATE | UPDATE | DELETE
    old: Mapping[str, Any] | None = None
    new: Mapping[str, Any] | None = None
    price_list_id: int | None = None
    sku_id: int | None = None


def _jsonable(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, Decimal):
            v = str(v)
        elif isinstance(v, datetime):
            v = v.isoformat()
        out[k] = v
    return out


async def _audit(conn: Executor, p: Principal, changes: Sequence[Change]) -> None:
    if not changes:
        return
    await conn.execute(
        sa.insert(price_audit),
        [
            {
                "tenant_id": p.tenant_id,
                "entity": c.entity,
                "entity_id": c.entity_id,
                "action": c.action,
                "price_list_id": c.price_list_id,
                "sku_id": c.sku_id,
                "actor_user_id": p.user_id,
                "actor_api_key_id": p.api_key_id,
                "old_values": _jsonable(c.old),
                "new_values": _jsonable(c.new),
            }
            for c in changes
        ],
    )


async def _db_now(conn: Executor) -> datetime:
    """The transaction's clock: the same instant server defaults use."""
    now: datetime = (await conn.execute(sa.select(sa.func.now()))).scalar_one()
    return now


# ---- price lists: writes ----------------------------------------------------------------------


@dataclass(frozen=True)
class PriceListCreate:
    code: str
    name: str
    kind: str
    priority: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    dealer_level: int | None = None
    dealer_tier: str | None = None
    region_code: str | None = None
    dealer_id: int | None = None  # CONTRACT
    owner_dealer_id: int | None = None  # DOWNSTREAM


@dataclass(frozen=True)
class PriceListChanges:
    """Only the fields that are set change."""

    name: str | None = None
    priority: int | None = None
    status: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


def _check_amount(amount: Decimal, *field: str) -> DomainError | None:
    try:
        exact = amount.is_finite() and amount == amount.quantize(CENT)
    except InvalidOperation:
        exact = False
    if not exact:
        return _err(PricingErrorCode.AMOUNT_INVALID, "An amount has at most 2 decimals.", *field)
    if not Decimal(0) < amount <= MAX_AMOUNT:
        return _err(PricingErrorCode.AMOUNT_INVALID, "An amount must be more than 0.", *field)
    return None


def _check_priority(priority: int | None) -> None:
    if priority is not None and not 0 <= priority <= MAX_PRIORITY:
        raise _err(PricingErrorCode.PRIORITY_INVALID, f"Priority must be 0 to {MAX_PRIORITY:,}.", "priority")


def _check_window(valid_from: datetime, valid_to: datetime | None, *field: str) -> DomainError | None:
    if valid_to is not None and valid_to <= valid_from:
        return _err(PricingErrorCode.WINDOW_INVALID, "validTo must be after validFrom.", *field)
    return None


def _check_conditions(data: PriceListCreate) -> None:
    """What each kind may name: a BASE list is for everyone, a CONTRACT for its one dealer;
    TIER, PROMOTION and DOWNSTREAM lists may narrow their buyers by level, tier, region."""
    conditions = data.dealer_level is not None or data.dealer_tier is not None or data.region_code is not None
    if data.kind in ("BASE", "CONTRACT") and conditions:
        raise _err(PricingErrorCode.CONDITION_INVALID,
                   f"A {data.kind} list takes no dealer level, tier or region.", "kind")
    if (data.kind == "CONTRACT") != (data.dealer_id is not None):
        raise _err(PricingErrorCode.CONDITION_INVALID, "A CONTRACT list, and only it, names its dealer (dealerId).",
                   "dealerId")
    if (data.kind == "DOWNSTREAM") != (data.owner_dealer_id is not None):
        raise _err(PricingErrorCode.CONDITION_INVALID,
                   "A DOWNSTREAM list, and only it, names the dealer publishing it (ownerDealerId).", "ownerDealerId")
    if data.kind == "PROMOTION" and data.valid_to is None:
        raise _err(PricingErrorCode.WINDOW_INVALID, "A promotion is time-boxed: give validTo.", "validTo")
    if data.dealer_level is not None and data.dealer_level not in (1, 2):
        raise _err(PricingErrorCode.CONDITION_INVALID, "Dealer level is 1 or 2.", "dealerLevel")
    if data.dealer_tier is not None and data.dealer_tier not in org_service.TIERS:
        raise _err(PricingErrorCode.CONDITION_INVALID, "Dealer tier is A, B or C.", "dealerTier")


async def _region_id(conn: Executor, tenant_id: int, code: str) -> int:
    stmt = sa.select(regions.c.id).where(regions.c.tenant_id == tenant_id, regions.c.code == code)
    found = (await conn.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise _err(PricingErrorCode.REGION_NOT_FOUND, f"No region with code {code!r}.", "regionCode")
    return int(found)


async def _visible_dealer(conn: Executor, p: Principal, dealer_id: int, field: str) -> Row[Any]:
    row = (await org_service.dealers_by_ids(conn, p, [dealer_id])).get(dealer_id)
    if row is None:
        raise _err(PricingErrorCode.DEALER_NOT_FOUND, "Dealer not found.", field)
    return row


async def create_price_list(conn: Executor, p: Principal, data: PriceListCreate) -> int:
    if not org_service.CODE_RE.match(data.code):
        raise _err(PricingErrorCode.CODE_INVALID,
                   "Code must be 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit.", "code")
    if not data.name.strip():
        raise _err(PricingErrorCode.NAME_BLANK, "Name must not be blank.", "name")
    if data.kind not in KINDS:
        raise _err(PricingErrorCode.KIND_INVALID, f"Kind must be one of {', '.join(KINDS)}.", "kind")
    _check_priority(data.priority)
    _check_conditions(data)
    now = await _db_now(conn)
    valid_from = _aware(data.valid_from) or now
    window_error = _check_window(valid_from, _aware(data.valid_to), "validTo")
    if window_error:
        raise window_error
    region_id = await _region_id(conn, p.tenant_id, data.region_code) if data.region_code is not None else None
    if data.dealer_id is not None:
        await _visible_dealer(conn, p, data.dealer_id, "dealerId")
    if data.owner_dealer_id is not None:
        await _visible_dealer(conn, p, data.owner_dealer_id, "ownerDealerId")
    if not access.may_write_price_list(p, data.owner_dealer_id):
        raise Forbidden(
            "HQ's price lists are HQ_ADMIN's; a dealer admin publishes DOWNSTREAM lists of its own dealer only."
        )
    taken = sa.select(sa.literal(1)).where(price_lists.c.tenant_id == p.tenant_id, price_lists.c.code == data.code)
    if (await conn.execute(taken)).first() is not None:
        raise _err(PricingErrorCode.CODE_TAKEN, f"Price list code {data.code!r} is already taken.", "code")
    values = {
        "code": data.code,
        "name": data.name.strip(),
        "kind": data.kind,
        "priority": data.priority if data.priority is not None else DEFAULT_PRIORITY[data.kind],
        "status": "ACTIVE",
        "valid_from": valid_from,
        "valid_to": _aware(data.valid_to),
        "dealer_level": data.dealer_level,
        "dealer_tier": data.dealer_tier,
        "region_id": region_id,
        "dealer_id": data.dealer_id,
        "owner_dealer_id": data.owner_dealer_id,
    }
    try:
        result = await conn.execute(
            sa.insert(price_lists).values(tenant_id=p.tenant_id, **values).returning(price_lists.c.id)
        )
    except IntegrityError as exc:
        raise _err(PricingErrorCode.CODE_TAKEN, f"Price list code {data.code!r} is already taken.", "code") from exc
    list_id = int(result.scalar_one())
    await _audit(conn, p, [Change("PRICE_LIST", list_id, "CREATE", new=values, price_list_id=list_id)])
    return list_id


async def _lock_list(conn: Executor, p: Principal, list_id: int) -> Row[Any]:
    """The list as the principal sees it, locked: its line changes are serialised, so two
    uploads never interleave their windows."""
    stmt = price_list_select(p).where(price_lists.c.id == list_id).with_for_update(of=price_lists)
    row = (await conn.execute(stmt)).first()
    if row is None:
        raise _err(PricingErrorCode.PRICE_LIST_NOT_FOUND, "Price list not found.", "priceListId")
    if not access.may_write_price_list(p, row.owner_dealer_id):
        raise Forbidden("You may not change this price list.")
    return row


async def update_price_list(conn: Executor, p: Principal, list_id: int, changes: PriceListChanges) -> None:
    current = await _lock_list(conn, p, list_id)
    if changes.name is not None and not changes.name.strip():
        raise _err(PricingErrorCode.NAME_BLANK, "Name must not be blank.", "name")
    _check_priority(changes.priority)
    if changes.status is not None and changes.status not in LIST_STATUSES:
        raise _err(PricingErrorCode.STATUS_INVALID, f"Status must be one of {', '.join(LIST_STATUSES)}.", "status")
    valid_from = _aware(changes.valid_from) or current.valid_from
    valid_to = _aware(changes.valid_to) or current.valid_to
    window_error = _check_window(valid_from, valid_to, "validTo")
    if window_error:
        raise window_error
    values: dict[str, Any] = {
        k: v
        for k, v in {
            "name": changes.name.strip() if changes.name else None,
            "priority": changes.priority,
            "status": changes.status,
            "valid_from": _aware(changes.valid_from),
            "valid_to": _aware(changes.valid_to),
        }.items()
        if v is not None and v != current._mapping[k]
    }
    if not values:
        return
    await conn.execute(sa.update(price_lists).where(price_lists.c.id == list_id).values(**values,
                                                                                       updated_at=sa.func.now()))
    old = {k: current._mapping[k] for k in values}
    await _audit(conn, p, [Change("PRICE_LIST", list_id, "UPDATE", old=old, new=values, price_list_id=list_id)])


@dataclass(frozen=True)
class LineInput:
    sku_id: int
    min_quantity: int
    amount: Decimal
    valid_from: datetime | None = None  # now
    valid_to: datetime | None = None  # open


@dataclass
class _Window:
    """A line's validity as the upload reshapes it."""

    valid_from: datetime
    valid_to: datetime | None

    def overlaps(self, start: datetime, end: datetime | None) -> bool:
        return (self.valid_to is None or self.valid_to > start) and (end is None or self.valid_from < end)

    def within(self, valid_to: datetime | None) -> bool:
        """Whether this window ends no later than ``valid_to`` (None: never ends)."""
        return valid_to is None or (self.valid_to is not None and self.valid_to <= valid_to)


def _line_values(row: Row[Any]) -> dict[str, Any]:
    return {k: row._mapping[k] for k in ("sku_id", "min_quantity", "amount", "valid_from", "valid_to")}


async def _check_lines(
    conn: Executor, p: Principal, price_list: Row[Any], lines: Sequence[LineInput], now: datetime
) -> list[DomainError]:
    errors: list[DomainError] = []
    seen: set[tuple[int, int]] = set()
    for i, line in enumerate(lines):
        at = ("lines", str(i))
        if line.min_quantity < 1:
            errors.append(_err(PricingErrorCode.MIN_QUANTITY_INVALID, "minQuantity must be at least 1.",
                               *at, "minQuantity"))
        amount_error = _check_amount(line.amount, *at, "amount")
        if amount_error:
            errors.append(amount_error)
        window_error = _check_window(_aware(line.valid_from) or now, _aware(line.valid_to), *at, "validTo")
        if window_error:
            errors.append(window_error)
        key = (line.sku_id, line.min_quantity)
        if key in seen:
            errors.append(_err(PricingErrorCode.LINE_DUPLICATE,
                               "The same SKU and minQuantity appear twice in this call.", *at, "skuId"))
        seen.add(key)
    sku_ids = sorted({line.sku_id for line in lines})
    found = await catalog_service.skus_by_ids(conn, p, sku_ids) if sku_ids else {}
    for i, line in enumerate(lines):
        if line.sku_id not in found:
            errors.append(_err(PricingErrorCode.SKU_NOT_FOUND, "SKU not found.", "lines", str(i), "skuId"))
    if price_list.kind == "DOWNSTREAM" and found:
        # 限价: what a dealer charges its buyers must stay inside the band of its region.
        owner = price_list.owner_dealer_id
        bands = await bands_for_dealer(conn, p.tenant_id, owner, list(found))
        for i, line in enumerate(lines):
            band = bands.get(line.sku_id)
            if band is None or line.sku_id not in found or band.contains(line.amount):
                continue
            code = found[line.sku_id].code
            errors.append(_err(
                PricingErrorCode.PRICE_OUTSIDE_LIMIT,
                f"SKU {code}: price {money_text(line.amount)} is outside its price limit {band.describe()}.",
                "lines", str(i), "amount",
            ))
    return errors


async def set_price_list_lines(
    conn: Executor, p: Principal, list_id: int, lines: Sequence[LineInput], replace: bool = False
) -> int:
    """Set prices on a list. Each line's window [validFrom (now), validTo) overrides, for its
    (SKU, minQuantity), whatever the list said in that window: earlier prices end where it
    starts, later ones start where it ends (a future-dated change leaves today's price alone
    until then). With ``replace`` the list keeps only these lines from now on: lines running
    now end now, future ones are dropped; history stays. All or nothing, audited."""
    if len(lines) > MAX_LINES:
        raise _err(PricingErrorCode.LINES_TOO_MANY, f"At most {MAX_LINES:,} lines per call.", "lines")
    price_list = await _lock_list(conn, p, list_id)
    now = await _db_now(conn)
    errors = await _check_lines(conn, p, price_list, lines, now)
    if errors:
        raise PricingErrors(errors)

    ln = price_list_lines
    wanted = [
        (line, _aware(line.valid_from) or now, _aware(line.valid_to), line.amount.quantize(CENT)) for line in lines
    ]
    earliest = min([now, *(start for _, start, _, _ in wanted)])
    stmt = sa.select(ln).where(ln.c.price_list_id == list_id, sa.or_(ln.c.valid_to.is_(None), ln.c.valid_to > earliest))
    if not replace:
        stmt = stmt.where(ln.c.sku_id.in_(sorted({line.sku_id for line in lines})))
    existing = {r.id: r for r in (await conn.execute(stmt)).all()}
    by_key: dict[tuple[int, int], list[int]] = {}
    for line_id, r in existing.items():
        by_key.setdefault((r.sku_id, r.min_quantity), []).append(line_id)

    # A line already saying this price over this window (for replace: up to the same end)
    # stays as it is: setting a price to what it is changes nothing.
    kept: set[int] = set()
    todo = []
    for line, start, end, amount in wanted:
        same = next((
            i for i in by_key.get((line.sku_id, line.min_quantity), [])
            if existing[i].amount == amount and existing[i].valid_from <= start
            and (existing[i].valid_to == end if replace else _Window(start, end).within(existing[i].valid_to))
        ), None)
        if same is None:
            todo.append((line, start, end, amount))
        else:
            kept.add(same)

    windows = {i: _Window(r.valid_from, r.valid_to) for i, r in existing.items()}
    if replace:
        for line_id, w in list(windows.items()):
            if line_id in kept or (w.valid_to is not None and w.valid_to <= now):
                continue  # kept, or history
            if w.valid_from < now:
                w.valid_to = now
            else:
                del windows[line_id]

    inserts: list[dict[str, Any]] = []
    for line, start, end, amount in todo:
        for line_id in by_key.get((line.sku_id, line.min_quantity), []):
            if line_id not in windows or not windows[line_id].overlaps(start, end):
                continue
            w = windows[line_id]
            if w.valid_from < start:
                if end is not None and (w.valid_to is None or w.valid_to > end):
                    # The new price sits inside the old one's window: the old price resumes after it.
                    inserts.append({"sku_id": line.sku_id, "min_quantity": line.min_quantity,
                                    "amount": existing[line_id].amount, "valid_from": end, "valid_to": w.valid_to})
                w.valid_to = start
            elif end is not None and (w.valid_to is None or w.valid_to > end):
                w.valid_from = end
            else:
                del windows[line_id]
        inserts.append({"sku_id": line.sku_id, "min_quantity": line.min_quantity, "amount": amount,
                        "valid_from": start, "valid_to": end})

    changes: list[Change] = []
    deleted = [i for i in existing if i not in windows]
    reshaped = [i for i, w in windows.items() if (w.valid_from, w.valid_to) != (existing[i].valid_from,
                                                                                  existing[i].valid_to)]
    if deleted:
        await conn.execute(sa.delete(ln).where(ln.c.id.in_(deleted)))
        changes += [Change("PRICE_LIST_LINE", i, "DELETE", old=_line_values(existing[i]),
                           price_list_id=list_id, sku_id=existing[i].sku_id) for i in deleted]
    if reshaped:
        await conn.execute(
            sa.update(ln)
            .where(ln.c.id == sa.bindparam("b_id"))
            .values(valid_from=sa.bindparam("b_from"), valid_to=sa.bindparam("b_to")),
            [{"b_id": i, "b_from": windows[i].valid_from, "b_to": windows[i].valid_to} for i in reshaped],
        )
        for i in reshaped:
            old = _line_values(existing[i])
            new = {**old, "valid_from": windows[i].valid_from, "valid_to": windows[i].valid_to}
            changes.append(Change("PRICE_LIST_LINE", i, "UPDATE", old=old, new=new, price_list_id=list_id,
                                  sku_id=existing[i].sku_id))
    if inserts:
        rows = [{"tenant_id": p.tenant_id, "price_list_id": list_id, **values} for values in inserts]
        result = await conn.execute(sa.insert(ln).returning(ln.c.id, sort_by_parameter_order=True), rows)
        for new_id, values in zip(result.scalars().all(), inserts, strict=True):
            changes.append(Change("PRICE_LIST_LINE", int(new_id), "CREATE", new=values, price_list_id=list_id,
                                  sku_id=values["sku_id"]))
    if changes:
        await conn.execute(sa.update(price_lists).where(price_lists.c.id == list_id).values(updated_at=sa.func.now()))
        await _audit(conn, p, changes)
    return list_id


# ---- price limits and guide retail prices: writes -----------------------------------------------


@dataclass(frozen=True)
class PriceLimitInput:
    sku_id: int
    region_code: str | None = None  # None: the national band
    floor: Decimal | None = None  # None: no floor
    ceiling: Decimal | None = None  # None: no ceiling


async def _sku_for_price(conn: Executor, p: Principal, sku_id: int, topic: str) -> Row[Any]:
    """The SKU whose national price or band changes, with that change serialised: two
    concurrent first-time settings would otherwise both insert (transaction-scoped lock)."""
    sku = (await catalog_service.skus_by_ids(conn, p, [sku_id])).get(sku_id)
    if sku is None:
        raise _err(PricingErrorCode.SKU_NOT_FOUND, "SKU not found.", "skuId")
    key = sa.func.hashtextextended(sa.literal(f"{topic}:{sku_id}"), 0)
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
    return sku


async def set_price_limit(conn: Executor, p: Principal, data: PriceLimitInput) -> None:
    """Set the band of a SKU, nationally or for a region subtree; no floor and no ceiling
    removes it (a region then follows the national band again). Audited."""
    if not access.may_set_national_prices(p):
        raise Forbidden("Price limits are HQ's to set.")
    for name, bound in (("floor", data.floor), ("ceiling", data.ceiling)):
        bound_error = _check_amount(bound, name) if bound is not None else None
        if bound_error:
            raise bound_error
    floor = data.floor.quantize(CENT) if data.floor is not None else None
    ceiling = data.ceiling.quantize(CENT) if data.ceiling is not None else None
    if floor is not None and ceiling is not None and floor > ceiling:
        raise _err(PricingErrorCode.LIMIT_INVALID, "The floor must not be above the ceiling.", "floor")
    await _sku_for_price(conn, p, data.sku_id, "price_limit")
    region_id = await _region_id(conn, p.tenant_id, data.region_code) if data.region_code is not None else None
    lim = price_limits.c
    current = (
        await conn.execute(
            sa.select(price_limits)
            .where(lim.tenant_id == p.tenant_id, lim.sku_id == data.sku_id)
            .where(lim.region_id.is_not_distinct_from(region_id))
            .with_for_update()
        )
    ).first()
    new = {"sku_id": data.sku_id, "region_id": region_id, "floor": floor, "ceiling": ceiling}
    if current is not None:
        old = {k: current._mapping[k] for k in new}
        if floor is None and ceiling is None:
            await conn.execute(sa.delete(price_limits).where(lim.id == current.id))
            change = Change("PRICE_LIMIT", current.id, "DELETE", old=old, sku_id=data.sku_id)
        elif old == new:
            return
        else:
            await conn.execute(sa.update(price_limits).where(lim.id == current.id).values(
                floor=floor, ceiling=ceiling, updated_at=sa.func.now()))
            change = Change("PRICE_LIMIT", current.id, "UPDATE", old=old, new=new, sku_id=data.sku_id)
    elif floor is None and ceiling is None:
        return
    else:
        result = await conn.execute(
            sa.insert(price_limits).values(tenant_id=p.tenant_id, **new).returning(price_limits.c.id)
        )
        change = Change("PRICE_LIMIT", int(result.scalar_one()), "CREATE", new=new, sku_id=data.sku_id)
    await _audit(conn, p, [change])


async def set_guide_retail_price(conn: Executor, p: Principal, sku_id: int, amount: Decimal) -> Decimal:
    """Set the national consumer price of a SKU; returns it as stored. Audited."""
    if not access.may_set_national_prices(p):
        raise Forbidden("Guide retail prices are HQ's to set.")
    amount_error = _check_amount(amount, "amount")
    if amount_error:
        raise amount_error
    amount = amount.quantize(CENT)
    await _sku_for_price(conn, p, sku_id, "guide_retail_price")
    g = guide_retail_prices.c
    current = (
        await conn.execute(
            sa.select(guide_retail_prices).where(g.tenant_id == p.tenant_id, g.sku_id == sku_id).with_for_update()
        )
    ).first()
    if current is None:
        result = await conn.execute(
            sa.insert(guide_retail_prices).values(tenant_id=p.tenant_id, sku_id=sku_id, amount=amount).returning(g.id)
        )
        change = Change("GUIDE_RETAIL_PRICE", int(result.scalar_one()), "CREATE", new={"amount": amount},
                        sku_id=sku_id)
    elif current.amount == amount:
        return amount
    else:
        await conn.execute(sa.update(guide_retail_prices).where(g.id == current.id).values(
            amount=amount, updated_at=sa.func.now()))
        change = Change("GUIDE_RETAIL_PRICE", current.id, "UPDATE", old={"amount": current.amount},
                        new={"amount": amount}, sku_id=sku_id)
    await _audit(conn, p, [change])
    return amount


# ---- price violations: the sales centre reports sales here --------------------------------------


@dataclass(frozen=True)
class ReportedSale:
    """A sell-out line as the sales centre records it: who sold (the dealer; the store when a
    store sold it), what, at which unit price, when."""

    dealer_id: int
    store_id: int | None
    sku_id: int
    unit_price: Decimal
    sold_at: datetime


async def record_sale_prices(conn: Executor, tenant_id: int, sales: Sequence[ReportedSale]) -> list[Row[Any]]:
    """Check reported sales against the price band of where they were sold (the store's
    region, else the dealer's) and record a violation for each sale below the floor or above
    the ceiling; returns the violations. The caller (the sales centre) has authorized the
    report; this runs in its transaction. One statement reads every sale's band."""
    if not sales:
        return []
    sale = sa.values(
        sa.column("idx", sa.Integer),
        sa.column("dealer_id", sa.BigInteger),
        sa.column("store_id", sa.BigInteger),
        sa.column("sku_id", sa.BigInteger),
        name="sale",
    ).data([(i, s.dealer_id, s.store_id, s.sku_id) for i, s in enumerate(sales)])
    seller, shop, where_sold, lim_region = _seller, _shop, _where_sold, _limit_region
    lim = price_limits
    stmt = (
        sa.select(sale.c.idx, lim.c.floor, lim.c.ceiling, lim.c.region_id)
        .select_from(
            sale.join(seller, sa.and_(seller.c.id == sale.c.dealer_id, seller.c.tenant_id == tenant_id))
            .outerjoin(shop, sa.and_(shop.c.id == sale.c.store_id, shop.c.tenant_id == tenant_id))
            .join(where_sold, where_sold.c.id == sa.func.coalesce(shop.c.region_id, seller.c.region_id))
            .join(lim, sa.and_(lim.c.tenant_id == tenant_id, lim.c.sku_id == sale.c.sku_id))
            .outerjoin(lim_region, lim_region.c.id == lim.c.region_id)
        )
        .where(sa.or_(lim.c.region_id.is_(None), where_sold.c.path.like(sa.func.concat(lim_region.c.path, "%"))))
        .ext(distinct_on(sale.c.idx))
        .order_by(sale.c.idx, sa.func.length(lim_region.c.path).desc().nulls_last())
    )
    found: list[dict[str, Any]] = []
    for band in (await conn.execute(stmt)).all():
        s = sales[band.idx]
        if band.floor is not None and s.unit_price < band.floor:
            kind = "BELOW_FLOOR"
        elif band.ceiling is not None and s.unit_price > band.ceiling:
            kind = "ABOVE_CEILING"
        else:
            continue
        found.append({
            "tenant_id": tenant_id, "dealer_id": s.dealer_id, "store_id": s.store_id, "sku_id": s.sku_id,
            "kind": kind, "unit_price": s.unit_price, "floor": band.floor, "ceiling": band.ceiling,
            "region_id": band.region_id, "sold_at": _aware(s.sold_at),
        })
    if not found:
        return []
    result = await conn.execute(sa.insert(price_violations).values(found).returning(*price_violations.c))
    return list(result.all())
