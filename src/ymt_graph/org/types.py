"""GraphQL types of the organization."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy.engine import Row

from ymt_graph import access
from ymt_graph.graph.connection import Connection, check_first, connection_of
from ymt_graph.graph.context import Context, Info
from ymt_graph.graph.errors import UserError
from ymt_graph.graph.ids import encode_gid
from ymt_graph.graph.node import Node
from ymt_graph.graph.scalars import Money
from ymt_graph.org import service
from ymt_graph.org.identity import AuthErrorCode
from ymt_graph.org.loaders import OrgLoaders
from ymt_graph.org.service import OrgErrorCode

Role = strawberry.enum(access.Role, name="Role", description="What a principal is allowed to do (DOMAIN.md).")
OrgErrorCodeEnum = strawberry.enum(OrgErrorCode, name="OrgErrorCode")
AuthErrorCodeEnum = strawberry.enum(AuthErrorCode, name="AuthErrorCode")


@strawberry.enum(description="Commercial tier of a dealer.")
class DealerTier(enum.Enum):
    A = "A"
    B = "B"
    C = "C"


@strawberry.enum
class DealerStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    CLOSED = "CLOSED"


@strawberry.enum
class StoreStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    CLOSED = "CLOSED"


@strawberry.enum
class StoreFormat(enum.Enum):
    FLAGSHIP = "FLAGSHIP"
    STANDARD = "STANDARD"
    KIOSK = "KIOSK"
    SERVICE_POINT = "SERVICE_POINT"


@strawberry.enum
class WarehouseOwnerKind(enum.Enum):
    HQ = "HQ"
    DEALER = "DEALER"
    STORE = "STORE"


@strawberry.enum
class RegionKind(enum.Enum):
    AREA = "AREA"
    PROVINCE = "PROVINCE"
    CITY = "CITY"


def org(info: Info) -> OrgLoaders:
    return info.context.loaders(OrgLoaders)


async def load_dealer(info: Info, pk: int | None) -> Dealer | None:
    """A related dealer through the request's loader (null if none, or not yours to see)."""
    if pk is None:
        return None
    row = await org(info).dealer.load(pk)
    return Dealer.from_row(row, info.context) if row else None


async def load_store(info: Info, pk: int | None) -> Store | None:
    if pk is None:
        return None
    row = await org(info).store.load(pk)
    return Store.from_row(row) if row else None


@strawberry.type(description="The brand: every object belongs to one tenant.")
class Tenant(Node):
    id: strawberry.ID
    code: str
    name: str
    currency: str

    @classmethod
    def from_row(cls, row: Row[Any]) -> Tenant:
        return cls(id=strawberry.ID(encode_gid("Tenant", row.id)), code=row.code, name=row.name, currency=row.currency)


@strawberry.type(description="A sales area, province or city.")
class Region(Node):
    id: strawberry.ID
    code: str
    name: str
    kind: RegionKind
    parent_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Region:
        return cls(
            id=strawberry.ID(encode_gid("Region", row.id)),
            code=row.code,
            name=row.name,
            kind=RegionKind(row.kind),
            parent_pk=row.parent_id,
        )

    @classmethod
    def joined(cls, row: Row[Any]) -> Region:
        """The region that came joined with a dealer or store row (``region_*`` columns)."""
        m = row._mapping
        return cls(
            id=strawberry.ID(encode_gid("Region", m["region_id"])),
            code=m["region_code"],
            name=m["region_name"],
            kind=RegionKind(m["region_kind"]),
            parent_pk=m["region_parent_id"],
        )

    @strawberry.field
    async def parent(self, info: Info) -> Region | None:
        if self.parent_pk is None:
            return None
        row = await org(info).region.load(self.parent_pk)
        return Region.from_row(row) if row else None


@strawberry.type
class Location:
    lat: float
    lng: float


@strawberry.type(
    description="A distributor (level 1, buys from HQ) or sub-dealer (level 2, buys from its distributor)."
)
class Dealer(Node):
    id: strawberry.ID
    code: str
    name: str
    level: int
    tier: DealerTier
    status: DealerStatus
    credit_limit: Money | None = strawberry.field(
        description="Confidential: null unless you are HQ or in this dealer's own subtree."
    )
    payment_terms_days: int | None
    contact_name: str | None
    contact_phone: str | None
    created_at: datetime
    updated_at: datetime
    region: Region
    pk: strawberry.Private[int]
    parent_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any], ctx: Context) -> Dealer:
        details = access.sees_dealer_details(ctx.require_principal(), row.path, row.region_path)
        return cls(
            id=strawberry.ID(encode_gid("Dealer", row.id)),
            code=row.code,
            name=row.name,
            level=row.level,
            tier=DealerTier(row.tier),
            status=DealerStatus(row.status),
            credit_limit=Money.of(row.credit_limit, ctx.settings.currency) if details else None,
            payment_terms_days=row.payment_terms_days if details else None,
            contact_name=row.contact_name,
            contact_phone=row.contact_phone,
            created_at=row.created_at,
            updated_at=row.updated_at,
            region=Region.joined(row),
            pk=row.id,
            parent_pk=row.parent_id,
        )

    @strawberry.field(description="The distributor above a sub-dealer; null for a level-1 dealer (it buys from HQ).")
    async def parent(self, info: Info) -> Dealer | None:
        return await load_dealer(info, self.parent_pk)

    @strawberry.field(description="Sub-dealers directly below this dealer.")
    async def children(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Dealer]:
        n = check_first(first)
        rp = await org(info).dealer_children.load((self.pk, n, after))
        return connection_of(rp, n, after, service.DEALER_ORDER, lambda r: Dealer.from_row(r, info.context))

    @strawberry.field(description="Stores belonging directly to this dealer.")
    async def stores(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Store]:
        n = check_first(first)
        rp = await org(info).dealer_stores.load((self.pk, n, after))
        return connection_of(rp, n, after, service.STORE_ORDER, Store.from_row)

    @strawberry.field(description="This dealer's own warehouses (not its stores').")
    async def warehouses(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Warehouse]:
        n = check_first(first)
        rp = await org(info).dealer_warehouses.load((self.pk, n, after))
        return connection_of(rp, n, after, service.WAREHOUSE_ORDER, Warehouse.from_row)


@strawberry.type(description="A retail store of a dealer.")
class Store(Node):
    id: strawberry.ID
    code: str
    name: str
    address: str
    location: Location | None
    format: StoreFormat
    status: StoreStatus
    created_at: datetime
    region: Region
    pk: strawberry.Private[int]
    dealer_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Store:
        return cls(
            id=strawberry.ID(encode_gid("Store", row.id)),
            code=row.code,
            name=row.name,
            address=row.address,
            location=Location(lat=row.lat, lng=row.lng) if row.lat is not None else None,
            format=StoreFormat(row.format),
            status=StoreStatus(row.status),
            created_at=row.created_at,
            region=Region.joined(row),
            pk=row.id,
            dealer_pk=row.dealer_id,
        )

    @strawberry.field
    async def dealer(self, info: Info) -> Dealer | None:
        return await load_dealer(info, self.dealer_pk)

    @strawberry.field(description="The store's own stock location.")
    async def warehouse(self, info: Info) -> Warehouse | None:
        # One per store, created with it; looked up through the scoped warehouse list.
        rp = await org(info).store_warehouses.load((self.pk, 1, None))
        return Warehouse.from_row(rp.rows[0]) if rp.rows else None


@strawberry.type(description="A stock location owned by HQ, a dealer or a store.")
class Warehouse(Node):
    id: strawberry.ID
    code: str
    name: str
    owner_kind: WarehouseOwnerKind
    pk: strawberry.Private[int]
    dealer_pk: strawberry.Private[int | None]
    store_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Warehouse:
        return cls(
            id=strawberry.ID(encode_gid("Warehouse", row.id)),
            code=row.code,
            name=row.name,
            owner_kind=WarehouseOwnerKind(row.owner_kind),
            pk=row.id,
            dealer_pk=row.dealer_id,
            store_pk=row.store_id,
        )

    @strawberry.field
    async def dealer(self, info: Info) -> Dealer | None:
        return await load_dealer(info, self.dealer_pk)

    @strawberry.field
    async def store(self, info: Info) -> Store | None:
        return await load_store(info, self.store_pk)


@strawberry.enum
class UserStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@strawberry.type(description="A person's account. Passwords are never readable.")
class User(Node):
    id: strawberry.ID
    email: str
    name: str
    role: Role  # type: ignore[valid-type]
    status: UserStatus
    created_at: datetime
    dealer_pk: strawberry.Private[int | None]
    store_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> User:
        return cls(
            id=strawberry.ID(encode_gid("User", row.id)),
            email=row.email,
            name=row.name,
            role=access.Role(row.role),
            status=UserStatus(row.status),
            created_at=row.created_at,
            dealer_pk=row.dealer_id,
            store_pk=row.store_id,
        )

    @strawberry.field(description="The dealer this account works for (dealer roles).")
    async def dealer(self, info: Info) -> Dealer | None:
        return await load_dealer(info, self.dealer_pk)

    @strawberry.field(description="The store this account works in (store staff).")
    async def store(self, info: Info) -> Store | None:
        return await load_store(info, self.store_pk)


@strawberry.type(description="Who is calling: the user (or API key), its role and where it stands.")
class Me:
    role: Role  # type: ignore[valid-type]
    scopes: list[str]
    user_pk: strawberry.Private[int | None]
    tenant_pk: strawberry.Private[int]
    dealer_pk: strawberry.Private[int | None]
    store_pk: strawberry.Private[int | None]

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        if self.user_pk is None:
            return None
        row = await org(info).user.load(self.user_pk)
        return User.from_row(row) if row else None

    @strawberry.field
    async def tenant(self, info: Info) -> Tenant:
        row = await org(info).tenant.load(self.tenant_pk)
        assert row is not None
        return Tenant.from_row(row)

    @strawberry.field(description="The dealer you act for (a store's staff: the store's dealer).")
    async def dealer(self, info: Info) -> Dealer | None:
        return await load_dealer(info, self.dealer_pk)

    @strawberry.field
    async def store(self, info: Info) -> Store | None:
        return await load_store(info, self.store_pk)


# ---- inputs, filters, payloads ----------------------------------------------------------------


@strawberry.input
class DealerFilter:
    search: str | None = strawberry.UNSET
    level: int | None = strawberry.UNSET
    region_code: str | None = strawberry.UNSET
    tier: DealerTier | None = strawberry.UNSET
    parent_id: strawberry.ID | None = strawberry.UNSET
    status: DealerStatus | None = strawberry.UNSET


@strawberry.input
class StoreFilter:
    search: str | None = strawberry.UNSET
    dealer_id: strawberry.ID | None = strawberry.UNSET
    region_code: str | None = strawberry.UNSET
    status: StoreStatus | None = strawberry.UNSET
    format: StoreFormat | None = strawberry.UNSET


@strawberry.input
class WarehouseFilter:
    owner_kind: WarehouseOwnerKind | None = strawberry.UNSET
    dealer_id: strawberry.ID | None = strawberry.UNSET
    store_id: strawberry.ID | None = strawberry.UNSET


@strawberry.input
class UserFilter:
    search: str | None = strawberry.field(default=strawberry.UNSET, description="Email or name.")
    role: Role | None = strawberry.UNSET  # type: ignore[valid-type]
    dealer_id: strawberry.ID | None = strawberry.UNSET
    status: UserStatus | None = strawberry.UNSET


@strawberry.input
class UserCreateInput:
    email: str
    name: str
    password: str = strawberry.field(description="At least 10 characters.")
    role: Role  # type: ignore[valid-type]
    dealer_id: strawberry.ID | None = strawberry.field(default=None, description="For DEALER_ADMIN / DEALER_STAFF.")
    store_id: strawberry.ID | None = strawberry.field(default=None, description="For STORE_STAFF.")
    region_codes: list[str] | None = strawberry.field(default=None, description="For HQ_SALES: the areas covered.")


@strawberry.input
class UserUpdateInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    password: str | None = strawberry.UNSET
    status: UserStatus | None = strawberry.UNSET
    region_codes: list[str] | None = strawberry.UNSET


@strawberry.input
class LocationInput:
    lat: float
    lng: float


@strawberry.input
class DealerCreateInput:
    code: str
    name: str
    region_code: str
    tier: DealerTier = DealerTier.C
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Distributor to create a sub-dealer under; omit for a level-1 dealer."
    )
    credit_limit: Decimal = Decimal("0")
    payment_terms_days: int = 30
    contact_name: str | None = None
    contact_phone: str | None = None


@strawberry.input
class DealerUpdateInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    region_code: str | None = strawberry.UNSET
    tier: DealerTier | None = strawberry.UNSET
    status: DealerStatus | None = strawberry.UNSET
    credit_limit: Decimal | None = strawberry.UNSET
    payment_terms_days: int | None = strawberry.UNSET
    contact_name: str | None = strawberry.UNSET
    contact_phone: str | None = strawberry.UNSET


@strawberry.input
class StoreCreateInput:
    code: str
    name: str
    dealer_id: strawberry.ID
    region_code: str
    address: str = ""
    location: LocationInput | None = None
    format: StoreFormat = StoreFormat.STANDARD


@strawberry.input
class StoreUpdateInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    region_code: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    location: LocationInput | None = strawberry.UNSET
    format: StoreFormat | None = strawberry.UNSET
    status: StoreStatus | None = strawberry.UNSET


@strawberry.input
class TokenCreateInput:
    email: str
    password: str


@strawberry.input
class TokenRefreshInput:
    refresh_token: str


@strawberry.type
class OrgUserError(UserError):
    field: list[str] | None
    message: str
    code: OrgErrorCodeEnum  # type: ignore[valid-type]


@strawberry.type
class AuthUserError(UserError):
    field: list[str] | None
    message: str
    code: AuthErrorCodeEnum  # type: ignore[valid-type]


@strawberry.type
class TokenCreatePayload:
    token: str | None = None
    refresh_token: str | None = None
    expires_at: datetime | None = None
    user_errors: list[AuthUserError] = strawberry.field(default_factory=list)


@strawberry.type
class TokenRefreshPayload(TokenCreatePayload):
    pass


@strawberry.type
class DealerCreatePayload:
    dealer: Dealer | None = None
    user_errors: list[OrgUserError] = strawberry.field(default_factory=list)


@strawberry.type
class DealerUpdatePayload(DealerCreatePayload):
    pass


@strawberry.type
class UserCreatePayload:
    user: User | None = None
    user_errors: list[OrgUserError] = strawberry.field(default_factory=list)


@strawberry.type
class UserUpdatePayload(UserCreatePayload):
    pass


@strawberry.type
class StoreCreatePayload:
    store: Store | None = None
    user_errors: list[OrgUserError] = strawberry.field(default_factory=list)


@strawberry.type
class StoreUpdatePayload(StoreCreatePayload):
    pass
