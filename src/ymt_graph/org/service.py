"""Organization rules: the dealer tree, stores, warehouses, regions.

Reads take the principal and apply ``access`` scopes in SQL; writes check
``access.may_*`` on the loaded target and raise ``DomainError`` for business
failures, ``access.Forbidden`` for missing rights.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from ymt_graph import access
from ymt_graph.access import Forbidden, Principal
from ymt_graph.db import table
from ymt_graph.errors import DomainError, Executor
from ymt_graph.org import models
from ymt_graph.org.identity import hash_password
from ymt_graph.paging import Order, Page, equal_to, order_by, page, partitioned_page_query, search_clauses

tenants = table(models.Tenant)
regions = table(models.Region)
dealers = table(models.Dealer)
stores = table(models.Store)
warehouses = table(models.Warehouse)
users = table(models.User)
api_keys = table(models.ApiKey)

DEALER_ORDER: Order = order_by(dealers.c.code, dealers.c.id)
STORE_ORDER: Order = order_by(stores.c.code, stores.c.id)
WAREHOUSE_ORDER: Order = order_by(warehouses.c.code, warehouses.c.id)

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
TIERS = ("A", "B", "C")
DEALER_STATUSES = ("ACTIVE", "SUSPENDED", "CLOSED")
STORE_STATUSES = ("ACTIVE", "SUSPENDED", "CLOSED")
STORE_FORMATS = ("FLAGSHIP", "STANDARD", "KIOSK", "SERVICE_POINT")
MAX_DEALER_LEVEL = 2


class OrgErrorCode(enum.Enum):
    CODE_INVALID = "CODE_INVALID"
    CODE_TAKEN = "CODE_TAKEN"
    NAME_BLANK = "NAME_BLANK"
    PARENT_NOT_FOUND = "PARENT_NOT_FOUND"
    PARENT_TOO_DEEP = "PARENT_TOO_DEEP"
    REGION_NOT_FOUND = "REGION_NOT_FOUND"
    DEALER_NOT_FOUND = "DEALER_NOT_FOUND"
    STORE_NOT_FOUND = "STORE_NOT_FOUND"
    TIER_INVALID = "TIER_INVALID"
    STATUS_INVALID = "STATUS_INVALID"
    FORMAT_INVALID = "FORMAT_INVALID"
    CREDIT_LIMIT_NEGATIVE = "CREDIT_LIMIT_NEGATIVE"
    PAYMENT_TERMS_INVALID = "PAYMENT_TERMS_INVALID"
    LOCATION_INVALID = "LOCATION_INVALID"
    EMAIL_INVALID = "EMAIL_INVALID"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    PASSWORD_TOO_SHORT = "PASSWORD_TOO_SHORT"
    ROLE_INVALID = "ROLE_INVALID"
    USER_NOT_FOUND = "USER_NOT_FOUND"


# ---- reads --------------------------------------------------------------------------------

# Dealer rows always come with their region's path: the confidential-field check needs it.
# Dealer and store rows always come with their region (one join; the region is shown
# with nearly every dealer or store, and the path decides confidential fields).
REGION_COLUMNS = (
    regions.c.path.label("region_path"),
    regions.c.code.label("region_code"),
    regions.c.name.label("region_name"),
    regions.c.kind.label("region_kind"),
    regions.c.parent_id.label("region_parent_id"),
)
DEALER_COLUMNS = (dealers, *REGION_COLUMNS)
_DEALERS_FROM = dealers.join(regions, regions.c.id == dealers.c.region_id)
_STORES_FROM = stores.join(regions, regions.c.id == stores.c.region_id)


def dealer_select(p: Principal) -> sa.Select[Any]:
    return sa.select(*DEALER_COLUMNS).select_from(_DEALERS_FROM).where(
        access.dealer_scope(p, dealers, regions)
    )


def store_select(p: Principal) -> sa.Select[Any]:
    return sa.select(stores, *REGION_COLUMNS).select_from(_STORES_FROM).where(
        access.store_scope(p, stores, dealers, regions)
    )


def warehouse_select(p: Principal) -> sa.Select[Any]:
    return sa.select(warehouses).where(access.warehouse_scope(p, warehouses, dealers, stores, regions))


@dataclass(frozen=True)
class DealerFilter:
    search: str | None = None
    level: int | None = None
    region_code: str | None = None
    tier: str | None = None
    parent_id: int | None = None
    status: str | None = None


@dataclass(frozen=True)
class StoreFilter:
    search: str | None = None
    dealer_id: int | None = None
    region_code: str | None = None
    status: str | None = None
    format: str | None = None


@dataclass(frozen=True)
class WarehouseFilter:
    owner_kind: str | None = None
    dealer_id: int | None = None
    store_id: int | None = None


def in_region_subtree(region_id_col: Any, tenant_id: int, region_code: Any) -> sa.ColumnElement[bool]:
    # Aliases, so the enclosing query's own join to regions never correlates with these.
    root_r, inside_r = regions.alias("filter_root"), regions.alias("filter_inside")
    root = sa.select(root_r.c.path).where(root_r.c.tenant_id == tenant_id, root_r.c.code == region_code)
    inside = sa.select(inside_r.c.id).where(
        inside_r.c.tenant_id == tenant_id,
        inside_r.c.path.startswith(root.scalar_subquery()),
    )
    return sa.cast(region_id_col.in_(inside), sa.Boolean)


def dealer_filter_clauses(p: Principal, f: DealerFilter) -> list[sa.ColumnElement[bool]]:
    c = dealers.c
    clauses = search_clauses(f.search, c.code, c.name)
    clauses += equal_to((c.level, f.level), (c.tier, f.tier), (c.status, f.status), (c.parent_id, f.parent_id))
    if f.region_code:
        clauses.append(in_region_subtree(c.region_id, p.tenant_id, f.region_code))
    return clauses


def store_filter_clauses(p: Principal, f: StoreFilter) -> list[sa.ColumnElement[bool]]:
    c = stores.c
    clauses = search_clauses(f.search, c.code, c.name)
    clauses += equal_to((c.dealer_id, f.dealer_id), (c.status, f.status), (c.format, f.format))
    if f.region_code:
        clauses.append(in_region_subtree(c.region_id, p.tenant_id, f.region_code))
    return clauses


def warehouse_filter_clauses(f: WarehouseFilter) -> list[sa.ColumnElement[bool]]:
    c = warehouses.c
    return equal_to((c.owner_kind, f.owner_kind), (c.dealer_id, f.dealer_id), (c.store_id, f.store_id))


async def dealers_page(
    db: Executor, p: Principal, f: DealerFilter, first: int, after: str | None, want_total: bool
) -> Page:
    return await page(db, dealer_select(p).where(*dealer_filter_clauses(p, f)), DEALER_ORDER, first, after, want_total)


async def stores_page(
    db: Executor, p: Principal, f: StoreFilter, first: int, after: str | None, want_total: bool
) -> Page:
    return await page(db, store_select(p).where(*store_filter_clauses(p, f)), STORE_ORDER, first, after, want_total)


async def warehouses_page(
    db: Executor, p: Principal, f: WarehouseFilter, first: int, after: str | None, want_total: bool
) -> Page:
    base = warehouse_select(p).where(*warehouse_filter_clauses(f))
    return await page(db, base, WAREHOUSE_ORDER, first, after, want_total)


async def dealers_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    rows = (await db.execute(dealer_select(p).where(dealers.c.id.in_(ids)))).all()
    return {r.id: r for r in rows}


async def dealers_by_codes(db: Executor, p: Principal, codes: Sequence[str]) -> dict[str, Row[Any]]:
    rows = (await db.execute(dealer_select(p).where(dealers.c.code.in_(codes)))).all()
    return {r.code: r for r in rows}


async def stores_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    rows = (await db.execute(store_select(p).where(stores.c.id.in_(ids)))).all()
    return {r.id: r for r in rows}


async def stores_by_codes(db: Executor, p: Principal, codes: Sequence[str]) -> dict[str, Row[Any]]:
    rows = (await db.execute(store_select(p).where(stores.c.code.in_(codes)))).all()
    return {r.code: r for r in rows}


async def warehouses_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    rows = (await db.execute(warehouse_select(p).where(warehouses.c.id.in_(ids)))).all()
    return {r.id: r for r in rows}


async def regions_by_ids(db: Executor, tenant_id: int, ids: Sequence[int]) -> dict[int, Row[Any]]:
    """Regions are reference data: every principal of the tenant may read them."""
    stmt = sa.select(regions).where(regions.c.tenant_id == tenant_id, regions.c.id.in_(ids))
    return {r.id: r for r in (await db.execute(stmt)).all()}


async def tenants_by_ids(db: Executor, ids: Sequence[int]) -> dict[int, Row[Any]]:
    return {r.id: r for r in (await db.execute(sa.select(tenants).where(tenants.c.id.in_(ids)))).all()}


USER_ORDER: Order = order_by(users.c.email, users.c.id)
# What may be read of an account: never its password hash.
USER_COLUMNS = tuple(c for c in users.c if c.key != "password_hash")


def user_select(p: Principal) -> sa.Select[Any]:
    return sa.select(*USER_COLUMNS).where(access.user_scope(p, users, dealers, stores, regions))


@dataclass(frozen=True)
class UserFilter:
    search: str | None = None
    role: str | None = None
    dealer_id: int | None = None
    status: str | None = None


async def users_page(
    db: Executor, p: Principal, f: UserFilter, first: int, after: str | None, want_total: bool
) -> Page:
    c = users.c
    clauses = search_clauses(f.search, c.email, c.name)
    clauses += equal_to((c.role, f.role), (c.dealer_id, f.dealer_id), (c.status, f.status))
    return await page(db, user_select(p).where(*clauses), USER_ORDER, first, after, want_total)


async def users_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    rows = (await db.execute(user_select(p).where(users.c.id.in_(ids)))).all()
    return {r.id: r for r in rows}


async def children_pages(
    db: Executor, p: Principal, parent_ids: Sequence[int], first: int, after: str | None
) -> Sequence[Row[Any]]:
    base = dealer_select(p).where(dealers.c.parent_id.in_(parent_ids))
    return (await db.execute(partitioned_page_query(base, dealers.c.parent_id, DEALER_ORDER, first, after))).all()


async def dealer_store_pages(
    db: Executor, p: Principal, dealer_ids: Sequence[int], first: int, after: str | None
) -> Sequence[Row[Any]]:
    base = store_select(p).where(stores.c.dealer_id.in_(dealer_ids))
    return (await db.execute(partitioned_page_query(base, stores.c.dealer_id, STORE_ORDER, first, after))).all()


async def dealer_warehouse_pages(
    db: Executor, p: Principal, dealer_ids: Sequence[int], first: int, after: str | None
) -> Sequence[Row[Any]]:
    base = warehouse_select(p).where(warehouses.c.dealer_id.in_(dealer_ids), warehouses.c.owner_kind == "DEALER")
    stmt = partitioned_page_query(base, warehouses.c.dealer_id, WAREHOUSE_ORDER, first, after)
    return (await db.execute(stmt)).all()


async def store_warehouse_pages(
    db: Executor, p: Principal, store_ids: Sequence[int], first: int, after: str | None
) -> Sequence[Row[Any]]:
    base = warehouse_select(p).where(warehouses.c.store_id.in_(store_ids))
    stmt = partitioned_page_query(base, warehouses.c.store_id, WAREHOUSE_ORDER, first, after)
    return (await db.execute(stmt)).all()


# ---- writes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DealerCreate:
    code: str
    name: str
    region_code: str
    tier: str = "C"
    parent_id: int | None = None
    credit_limit: Decimal = Decimal("0")
    payment_terms_days: int = 30
    contact_name: str | None = None
    contact_phone: str | None = None


@dataclass(frozen=True)
class DealerChanges:
    """Only the fields that are set change."""

    name: str | None = None
    region_code: str | None = None
    tier: str | None = None
    status: str | None = None
    credit_limit: Decimal | None = None
    payment_terms_days: int | None = None
    contact_name: str | None = None
    contact_phone: str | None = None


@dataclass(frozen=True)
class StoreCreate:
    code: str
    name: str
    dealer_id: int
    region_code: str
    address: str = ""
    lat: float | None = None
    lng: float | None = None
    format: str = "STANDARD"


@dataclass(frozen=True)
class StoreChanges:
    name: str | None = None
    region_code: str | None = None
    address: str | None = None
    lat: float | None = None
    lng: float | None = None
    format: str | None = None
    status: str | None = None


def _check_code(code: str) -> None:
    if not CODE_RE.match(code):
        raise DomainError(
            OrgErrorCode.CODE_INVALID,
            "Code must be 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit.",
            ["code"],
        )


def _check_name(name: str | None) -> None:
    if name is not None and not name.strip():
        raise DomainError(OrgErrorCode.NAME_BLANK, "Name must not be blank.", ["name"])


def _check_choice(value: str | None, allowed: Sequence[str], code: OrgErrorCode, field: str) -> None:
    if value is not None and value not in allowed:
        raise DomainError(code, f"{field} must be one of {', '.join(allowed)}.", [field])


def _check_dealer_terms(credit_limit: Decimal | None, payment_terms_days: int | None) -> None:
    if credit_limit is not None and credit_limit < 0:
        raise DomainError(OrgErrorCode.CREDIT_LIMIT_NEGATIVE, "Credit limit must not be negative.", ["creditLimit"])
    if payment_terms_days is not None and not 0 <= payment_terms_days <= 365:
        raise DomainError(
            OrgErrorCode.PAYMENT_TERMS_INVALID, "Payment terms must be 0 to 365 days.", ["paymentTermsDays"]
        )


def _check_location(lat: float | None, lng: float | None) -> None:
    if (lat is None) != (lng is None):
        raise DomainError(OrgErrorCode.LOCATION_INVALID, "Give both latitude and longitude, or neither.", ["location"])
    if lat is not None and lng is not None and not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise DomainError(OrgErrorCode.LOCATION_INVALID, "Latitude or longitude out of range.", ["location"])


async def _region_by_code(conn: Executor, tenant_id: int, code: str) -> Row[Any]:
    row = (
        await conn.execute(sa.select(regions).where(regions.c.tenant_id == tenant_id, regions.c.code == code))
    ).first()
    if row is None:
        raise DomainError(OrgErrorCode.REGION_NOT_FOUND, f"No region with code {code!r}.", ["regionCode"])
    return row


async def _code_taken(conn: Executor, tbl: sa.Table, tenant_id: int, code: str) -> bool:
    stmt = sa.select(sa.literal(1)).where(tbl.c.tenant_id == tenant_id, tbl.c.code == code)
    return (await conn.execute(stmt)).first() is not None


async def _insert_unique(conn: Executor, stmt: sa.Insert, what: str, code: str) -> int:
    """Insert a row with a unique code; a lost race on the code is a user error, not a 500."""
    try:
        return int((await conn.execute(stmt.returning(sa.literal_column("id")))).scalar_one())
    except IntegrityError as exc:
        if "unique" in str(exc.orig).lower() or "duplicate" in str(exc.orig).lower():
            raise DomainError(OrgErrorCode.CODE_TAKEN, f"{what} code {code!r} is already taken.", ["code"]) from exc
        raise


async def _visible_dealer(conn: Executor, p: Principal, dealer_id: int, field: str) -> Row[Any]:
    row = (await dealers_by_ids(conn, p, [dealer_id])).get(dealer_id)
    if row is None:
        code = OrgErrorCode.PARENT_NOT_FOUND if field == "parentId" else OrgErrorCode.DEALER_NOT_FOUND
        raise DomainError(code, "Dealer not found.", [field])
    return row


async def create_dealer(conn: Executor, p: Principal, data: DealerCreate) -> int:
    _check_code(data.code)
    _check_name(data.name)
    _check_choice(data.tier, TIERS, OrgErrorCode.TIER_INVALID, "tier")
    _check_dealer_terms(data.credit_limit, data.payment_terms_days)
    region = await _region_by_code(conn, p.tenant_id, data.region_code)
    parent = None
    if data.parent_id is not None:
        parent = await _visible_dealer(conn, p, data.parent_id, "parentId")
        if parent.level >= MAX_DEALER_LEVEL:
            raise DomainError(
                OrgErrorCode.PARENT_TOO_DEEP, "Sub-dealers cannot have sub-dealers of their own.", ["parentId"]
            )
    if not access.may_create_dealer(p, parent.path if parent else None, region.path):
        raise Forbidden("You may not create a dealer here.")
    if await _code_taken(conn, dealers, p.tenant_id, data.code):
        raise DomainError(OrgErrorCode.CODE_TAKEN, f"Dealer code {data.code!r} is already taken.", ["code"])
    new_id = await _insert_unique(
        conn,
        sa.insert(dealers).values(
            tenant_id=p.tenant_id,
            code=data.code,
            name=data.name.strip(),
            level=(parent.level + 1) if parent else 1,
            parent_id=parent.id if parent else None,
            path="",
            region_id=region.id,
            tier=data.tier,
            credit_limit=data.credit_limit,
            payment_terms_days=data.payment_terms_days,
            contact_name=data.contact_name,
            contact_phone=data.contact_phone,
        ),
        "Dealer",
        data.code,
    )
    path = f"{parent.path if parent else '/'}{new_id}/"
    await conn.execute(sa.update(dealers).where(dealers.c.id == new_id).values(path=path))
    # Every dealer holds stock somewhere: its main warehouse comes with it.
    await conn.execute(
        sa.insert(warehouses).values(
            tenant_id=p.tenant_id,
            code=f"W-{data.code}",
            name=f"{data.name.strip()} 仓库",
            owner_kind="DEALER",
            dealer_id=new_id,
            region_id=region.id,
        )
    )
    return new_id


async def update_dealer(conn: Executor, p: Principal, dealer_id: int, changes: DealerChanges) -> None:
    current = await _visible_dealer(conn, p, dealer_id, "id")
    _check_name(changes.name)
    _check_choice(changes.tier, TIERS, OrgErrorCode.TIER_INVALID, "tier")
    _check_choice(changes.status, DEALER_STATUSES, OrgErrorCode.STATUS_INVALID, "status")
    _check_dealer_terms(changes.credit_limit, changes.payment_terms_days)
    if not access.may_write_dealer(p, current.path, current.region_path):
        raise Forbidden("You may not change this dealer.")
    values: dict[str, Any] = {
        k: v
        for k, v in {
            "name": changes.name.strip() if changes.name else None,
            "tier": changes.tier,
            "status": changes.status,
            "credit_limit": changes.credit_limit,
            "payment_terms_days": changes.payment_terms_days,
            "contact_name": changes.contact_name,
            "contact_phone": changes.contact_phone,
        }.items()
        if v is not None
    }
    if changes.region_code is not None:
        region = await _region_by_code(conn, p.tenant_id, changes.region_code)
        # Moving a dealer into a region must be allowed there too (HQ_SALES of another area may not).
        if not access.may_write_dealer(p, current.path, region.path):
            raise Forbidden("You may not move this dealer into that region.")
        values["region_id"] = region.id
    if values:
        values["updated_at"] = sa.func.now()
        await conn.execute(sa.update(dealers).where(dealers.c.id == dealer_id).values(**values))


async def create_store(conn: Executor, p: Principal, data: StoreCreate) -> int:
    _check_code(data.code)
    _check_name(data.name)
    _check_choice(data.format, STORE_FORMATS, OrgErrorCode.FORMAT_INVALID, "format")
    _check_location(data.lat, data.lng)
    dealer = await _visible_dealer(conn, p, data.dealer_id, "dealerId")
    region = await _region_by_code(conn, p.tenant_id, data.region_code)
    if not access.may_write_store(p, dealer.path, region.path):
        raise Forbidden("You may not open a store for this dealer.")
    if await _code_taken(conn, stores, p.tenant_id, data.code):
        raise DomainError(OrgErrorCode.CODE_TAKEN, f"Store code {data.code!r} is already taken.", ["code"])
    new_id = await _insert_unique(
        conn,
        sa.insert(stores).values(
            tenant_id=p.tenant_id,
            code=data.code,
            name=data.name.strip(),
            dealer_id=dealer.id,
            region_id=region.id,
            address=data.address,
            lat=data.lat,
            lng=data.lng,
            format=data.format,
        ),
        "Store",
        data.code,
    )
    await conn.execute(
        sa.insert(warehouses).values(
            tenant_id=p.tenant_id,
            code=f"W-{data.code}",
            name=f"{data.name.strip()} 库存",
            owner_kind="STORE",
            dealer_id=dealer.id,
            store_id=new_id,
            region_id=region.id,
        )
    )
    return new_id


async def update_store(conn: Executor, p: Principal, store_id: int, changes: StoreChanges) -> None:
    current = (await stores_by_ids(conn, p, [store_id])).get(store_id)
    if current is None:
        raise DomainError(OrgErrorCode.STORE_NOT_FOUND, "Store not found.", ["id"])
    _check_name(changes.name)
    _check_choice(changes.format, STORE_FORMATS, OrgErrorCode.FORMAT_INVALID, "format")
    _check_choice(changes.status, STORE_STATUSES, OrgErrorCode.STATUS_INVALID, "status")
    lat = changes.lat if changes.lat is not None else current.lat
    lng = changes.lng if changes.lng is not None else current.lng
    _check_location(lat, lng)
    owner = (await conn.execute(sa.select(dealers.c.path).where(dealers.c.id == current.dealer_id))).scalar_one()
    region_path = (
        await conn.execute(sa.select(regions.c.path).where(regions.c.id == current.region_id))
    ).scalar_one()
    if not access.may_write_store(p, owner, region_path):
        raise Forbidden("You may not change this store.")
    values: dict[str, Any] = {
        k: v
        for k, v in {
            "name": changes.name.strip() if changes.name else None,
            "address": changes.address,
            "lat": changes.lat,
            "lng": changes.lng,
            "format": changes.format,
            "status": changes.status,
        }.items()
        if v is not None
    }
    if changes.region_code is not None:
        region = await _region_by_code(conn, p.tenant_id, changes.region_code)
        if not access.may_write_store(p, owner, region.path):
            raise Forbidden("You may not move this store into that region.")
        values["region_id"] = region.id
    if values:
        values["updated_at"] = sa.func.now()
        await conn.execute(sa.update(stores).where(stores.c.id == store_id).values(**values))


# ---- users --------------------------------------------------------------------------------

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USER_STATUSES = ("ACTIVE", "DISABLED")
MIN_PASSWORD = 10
USER_ROLES = tuple(r.value for r in access.Role if r is not access.Role.INTEGRATION)


@dataclass(frozen=True)
class UserCreate:
    email: str
    name: str
    password: str
    role: str
    dealer_id: int | None = None
    store_id: int | None = None
    region_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserChanges:
    name: str | None = None
    password: str | None = None
    status: str | None = None
    region_codes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class _Attachment:
    """Where an account stands: its dealer or store, and the dealer path its rights hang off."""

    dealer_id: int | None
    store_id: int | None
    dealer_path: str | None
    region_path: str | None


def _check_role_fits(data: UserCreate) -> None:
    """A dealer role hangs off a dealer, store staff off a store, HQ roles off neither."""
    role = data.role
    dealer_roles = (access.Role.DEALER_ADMIN.value, access.Role.DEALER_STAFF.value)
    if role in dealer_roles and (data.dealer_id is None or data.store_id is not None):
        raise DomainError(OrgErrorCode.ROLE_INVALID, f"{role} needs a dealerId and no storeId.", ["dealerId"])
    if role == access.Role.STORE_STAFF.value and (data.store_id is None or data.dealer_id is not None):
        raise DomainError(OrgErrorCode.ROLE_INVALID, "STORE_STAFF needs a storeId and no dealerId.", ["storeId"])
    if role not in (*dealer_roles, access.Role.STORE_STAFF.value) and (data.dealer_id or data.store_id):
        raise DomainError(OrgErrorCode.ROLE_INVALID, f"{role} is an HQ role: no dealer or store.", ["role"])
    if role == access.Role.HQ_SALES.value and not data.region_codes:
        raise DomainError(OrgErrorCode.ROLE_INVALID, "HQ_SALES needs the regions it covers.", ["regionCodes"])


async def _locate(conn: Executor, p: Principal, dealer_id: int | None, store_id: int | None) -> _Attachment:
    """Load the dealer or store an account hangs off, as the principal sees it."""
    if dealer_id is not None:
        dealer = (await dealers_by_ids(conn, p, [dealer_id])).get(dealer_id)
        if dealer is None:
            raise DomainError(OrgErrorCode.DEALER_NOT_FOUND, "Dealer not found.", ["dealerId"])
        return _Attachment(dealer.id, None, dealer.path, dealer.region_path)
    if store_id is not None:
        store = (await stores_by_ids(conn, p, [store_id])).get(store_id)
        if store is None:
            raise DomainError(OrgErrorCode.STORE_NOT_FOUND, "Store not found.", ["storeId"])
        path = (await conn.execute(sa.select(dealers.c.path).where(dealers.c.id == store.dealer_id))).scalar_one()
        return _Attachment(None, store.id, path, None)
    return _Attachment(None, None, None, None)


async def _region_ids(conn: Executor, p: Principal, codes: Sequence[str]) -> list[int]:
    return [(await _region_by_code(conn, p.tenant_id, code)).id for code in codes]


def _check_password(password: str | None) -> None:
    if password is not None and len(password) < MIN_PASSWORD:
        raise DomainError(
            OrgErrorCode.PASSWORD_TOO_SHORT, f"Password must have at least {MIN_PASSWORD} characters.", ["password"]
        )


async def create_user(conn: Executor, p: Principal, data: UserCreate) -> int:
    email = data.email.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise DomainError(OrgErrorCode.EMAIL_INVALID, "Not an email address.", ["email"])
    _check_name(data.name)
    _check_password(data.password)
    _check_choice(data.role, USER_ROLES, OrgErrorCode.ROLE_INVALID, "role")
    _check_role_fits(data)
    region_ids = await _region_ids(conn, p, data.region_codes)
    where = await _locate(conn, p, data.dealer_id, data.store_id)
    if not access.may_manage_user(p, access.Role(data.role), where.dealer_path, where.region_path):
        raise Forbidden("You may not create this account.")
    # Emails log in without naming a tenant, so they are unique across tenants.
    if (await conn.execute(sa.select(users.c.id).where(users.c.email == email))).first() is not None:
        raise DomainError(OrgErrorCode.EMAIL_TAKEN, "An account with this email exists.", ["email"])
    try:
        result = await conn.execute(
            sa.insert(users)
            .values(
                tenant_id=p.tenant_id,
                email=email,
                name=data.name.strip(),
                password_hash=hash_password(data.password),
                role=data.role,
                dealer_id=where.dealer_id,
                store_id=where.store_id,
                region_ids=region_ids,
            )
            .returning(users.c.id)
        )
    except IntegrityError as exc:
        raise DomainError(OrgErrorCode.EMAIL_TAKEN, "An account with this email exists.", ["email"]) from exc
    return int(result.scalar_one())


async def update_user(conn: Executor, p: Principal, user_id: int, changes: UserChanges) -> None:
    current = (await users_by_ids(conn, p, [user_id])).get(user_id)
    if current is None:
        raise DomainError(OrgErrorCode.USER_NOT_FOUND, "User not found.", ["id"])
    _check_name(changes.name)
    _check_password(changes.password)
    _check_choice(changes.status, USER_STATUSES, OrgErrorCode.STATUS_INVALID, "status")
    is_self = current.id == p.user_id
    if not (is_self and changes.status is None and changes.region_codes is None):
        # Anything beyond your own name and password is your manager's to change.
        where = await _locate(conn, p, current.dealer_id, current.store_id)
        if is_self or not access.may_manage_user(p, access.Role(current.role), where.dealer_path, where.region_path):
            raise Forbidden("You may not change this account.")
    values: dict[str, Any] = {}
    if changes.name is not None:
        values["name"] = changes.name.strip()
    if changes.password is not None:
        values["password_hash"] = hash_password(changes.password)
    if changes.status is not None:
        values["status"] = changes.status
    if changes.region_codes is not None:
        if current.role != access.Role.HQ_SALES.value:
            raise DomainError(OrgErrorCode.ROLE_INVALID, "Only HQ_SALES accounts cover regions.", ["regionCodes"])
        values["region_ids"] = await _region_ids(conn, p, changes.region_codes)
    if values:
        await conn.execute(sa.update(users).where(users.c.id == user_id).values(**values))
