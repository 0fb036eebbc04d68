"""Query and Mutation fields of the organization: authorize, call the service, map errors."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from ymt_graph import access
from ymt_graph.errors import DomainError
from ymt_graph.graph.connection import Connection, check_first, page_connection, selects
from ymt_graph.graph.context import Context, Info
from ymt_graph.graph.inputs import enum_value, exactly_one, given, pk_filter
from ymt_graph.graph.mutation import Outcome, attempt, parse_pk
from ymt_graph.graph.node import from_row, register_loaded_node
from ymt_graph.org import identity, service
from ymt_graph.org.loaders import OrgLoaders
from ymt_graph.org.types import (
    AuthUserError,
    Dealer,
    DealerCreateInput,
    DealerCreatePayload,
    DealerFilter,
    DealerUpdateInput,
    DealerUpdatePayload,
    Me,
    OrgUserError,
    Region,
    Store,
    StoreCreateInput,
    StoreCreatePayload,
    StoreFilter,
    StoreUpdateInput,
    StoreUpdatePayload,
    Tenant,
    TokenCreateInput,
    TokenCreatePayload,
    TokenRefreshInput,
    TokenRefreshPayload,
    User,
    UserCreateInput,
    UserCreatePayload,
    UserFilter,
    UserUpdateInput,
    UserUpdatePayload,
    Warehouse,
    WarehouseFilter,
)

# node(id): through the same scoped loaders as every other read.
register_loaded_node("Dealer", OrgLoaders, "dealer", Dealer.from_row)
register_loaded_node("Store", OrgLoaders, "store", from_row(Store.from_row))
register_loaded_node("Warehouse", OrgLoaders, "warehouse", from_row(Warehouse.from_row))
register_loaded_node("Region", OrgLoaders, "region", from_row(Region.from_row))
register_loaded_node("Tenant", OrgLoaders, "tenant", from_row(Tenant.from_row))
register_loaded_node("User", OrgLoaders, "user", from_row(User.from_row))


@strawberry.type
class OrgQuery:
    @strawberry.field(description="Who is calling.")
    def me(self, info: Info) -> Me:
        p = info.context.require_principal()
        return Me(
            role=p.role,
            scopes=sorted(p.scopes),
            user_pk=p.user_id,
            tenant_pk=p.tenant_id,
            dealer_pk=p.dealer_id,
            store_pk=p.store_id,
        )

    @strawberry.field(description="Dealers you may see, ordered by code.")
    async def dealers(
        self, info: Info, filter: DealerFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Dealer]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or DealerFilter()
        sf = service.DealerFilter(
            search=given(f.search),
            level=given(f.level),
            region_code=given(f.region_code),
            tier=enum_value(f.tier),
            parent_id=pk_filter(f.parent_id, "Dealer"),
            status=enum_value(f.status),
        )
        pg = await service.dealers_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.DEALER_ORDER, lambda r: Dealer.from_row(r, ctx))

    @strawberry.field(description="One dealer by global id or code; null if it does not exist for you.")
    async def dealer(self, info: Info, id: strawberry.ID | None = None, code: str | None = None) -> Dealer | None:
        ctx = info.context
        p = ctx.require_principal()
        exactly_one(id, code)
        if id is not None:
            row = await ctx.loaders(OrgLoaders).dealer.load(parse_pk(id, "Dealer"))
        else:
            row = (await service.dealers_by_codes(ctx.db, p, [code or ""])).get(code or "")
        return Dealer.from_row(row, ctx) if row else None

    @strawberry.field(description="Stores you may see, ordered by code.")
    async def stores(
        self, info: Info, filter: StoreFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Store]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or StoreFilter()
        sf = service.StoreFilter(
            search=given(f.search),
            dealer_id=pk_filter(f.dealer_id, "Dealer"),
            region_code=given(f.region_code),
            status=enum_value(f.status),
            format=enum_value(f.format),
        )
        pg = await service.stores_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.STORE_ORDER, Store.from_row)

    @strawberry.field(description="One store by global id or code; null if it does not exist for you.")
    async def store(self, info: Info, id: strawberry.ID | None = None, code: str | None = None) -> Store | None:
        ctx = info.context
        p = ctx.require_principal()
        exactly_one(id, code)
        if id is not None:
            row = await ctx.loaders(OrgLoaders).store.load(parse_pk(id, "Store"))
        else:
            row = (await service.stores_by_codes(ctx.db, p, [code or ""])).get(code or "")
        return Store.from_row(row) if row else None

    @strawberry.field(description="Warehouses you may see: HQ's, and those of the dealers and stores you see.")
    async def warehouses(
        self, info: Info, filter: WarehouseFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Warehouse]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or WarehouseFilter()
        sf = service.WarehouseFilter(
            owner_kind=enum_value(f.owner_kind),
            dealer_id=pk_filter(f.dealer_id, "Dealer"),
            store_id=pk_filter(f.store_id, "Store"),
        )
        pg = await service.warehouses_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.WAREHOUSE_ORDER, Warehouse.from_row)


    @strawberry.field(description="Accounts you may see: your own and those of the dealers and stores you manage.")
    async def users(
        self, info: Info, filter: UserFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        ctx = info.context
        p = ctx.require_principal()
        n = check_first(first)
        f = filter or UserFilter()
        sf = service.UserFilter(
            search=given(f.search),
            role=enum_value(f.role),
            dealer_id=pk_filter(f.dealer_id, "Dealer"),
            status=enum_value(f.status),
        )
        pg = await service.users_page(ctx.db, p, sf, n, after, selects(info, "totalCount"))
        return page_connection(pg, n, after, service.USER_ORDER, User.from_row)


async def _reload_user(ctx: Context, user_id: int) -> User | None:
    row = (await service.users_by_ids(ctx.db, ctx.require_principal(), [user_id])).get(user_id)
    return User.from_row(row) if row else None


def _token_payload(cls: type[TokenCreatePayload], pair: identity.TokenPair) -> TokenCreatePayload:
    return cls(
        token=pair.token,
        refresh_token=pair.refresh_token,
        expires_at=datetime.fromtimestamp(pair.expires_at, tz=UTC),
    )


async def _reload_dealer(ctx: Context, dealer_id: int) -> Dealer | None:
    row = (await service.dealers_by_ids(ctx.db, ctx.require_principal(), [dealer_id])).get(dealer_id)
    return Dealer.from_row(row, ctx) if row else None


async def _reload_store(ctx: Context, store_id: int) -> Store | None:
    row = (await service.stores_by_ids(ctx.db, ctx.require_principal(), [store_id])).get(store_id)
    return Store.from_row(row) if row else None


@strawberry.type
class OrgMutation:
    @strawberry.mutation(description="Log in with email and password; returns a bearer token.")
    async def token_create(self, info: Info, input: TokenCreateInput) -> TokenCreatePayload:
        ctx = info.context
        try:
            pair = await identity.create_token(ctx.db, ctx.settings, input.email, input.password)
        except DomainError as exc:
            return TokenCreatePayload(user_errors=Outcome(error=exc).user_errors(AuthUserError))
        return _token_payload(TokenCreatePayload, pair)

    @strawberry.mutation(description="Trade a refresh token for a new token pair.")
    async def token_refresh(self, info: Info, input: TokenRefreshInput) -> TokenRefreshPayload:
        ctx = info.context
        try:
            pair = await identity.refresh_token(ctx.db, ctx.settings, input.refresh_token)
        except DomainError as exc:
            return TokenRefreshPayload(user_errors=Outcome(error=exc).user_errors(AuthUserError))
        return _token_payload(TokenRefreshPayload, pair)  # type: ignore[return-value]

    @strawberry.mutation(description="Create a level-1 dealer (HQ) or a sub-dealer under a distributor.")
    async def dealer_create(self, info: Info, input: DealerCreateInput) -> DealerCreatePayload:
        ctx = info.context
        p = ctx.require_principal()
        data = service.DealerCreate(
            code=input.code,
            name=input.name,
            region_code=input.region_code,
            tier=input.tier.value,
            parent_id=parse_pk(input.parent_id, "Dealer") if input.parent_id is not None else None,
            credit_limit=input.credit_limit,
            payment_terms_days=input.payment_terms_days,
            contact_name=input.contact_name,
            contact_phone=input.contact_phone,
        )

        done = await attempt(ctx, lambda conn: service.create_dealer(conn, p, data))
        if done.error:
            return DealerCreatePayload(user_errors=done.user_errors(OrgUserError))
        return DealerCreatePayload(dealer=await _reload_dealer(ctx, done.value))

    @strawberry.mutation(description="Change a dealer's name, region, tier, status, credit limit or terms.")
    async def dealer_update(self, info: Info, input: DealerUpdateInput) -> DealerUpdatePayload:
        ctx = info.context
        p = ctx.require_principal()
        dealer_id = parse_pk(input.id, "Dealer")
        changes = service.DealerChanges(
            name=given(input.name),
            region_code=given(input.region_code),
            tier=enum_value(input.tier),
            status=enum_value(input.status),
            credit_limit=given(input.credit_limit),
            payment_terms_days=given(input.payment_terms_days),
            contact_name=given(input.contact_name),
            contact_phone=given(input.contact_phone),
        )

        done = await attempt(ctx, lambda conn: service.update_dealer(conn, p, dealer_id, changes))
        if done.error:
            return DealerUpdatePayload(user_errors=done.user_errors(OrgUserError))
        return DealerUpdatePayload(dealer=await _reload_dealer(ctx, dealer_id))

    @strawberry.mutation(description="Open a store for a dealer.")
    async def store_create(self, info: Info, input: StoreCreateInput) -> StoreCreatePayload:
        ctx = info.context
        p = ctx.require_principal()
        data = service.StoreCreate(
            code=input.code,
            name=input.name,
            dealer_id=parse_pk(input.dealer_id, "Dealer"),
            region_code=input.region_code,
            address=input.address,
            lat=input.location.lat if input.location else None,
            lng=input.location.lng if input.location else None,
            format=input.format.value,
        )

        done = await attempt(ctx, lambda conn: service.create_store(conn, p, data))
        if done.error:
            return StoreCreatePayload(user_errors=done.user_errors(OrgUserError))
        return StoreCreatePayload(store=await _reload_store(ctx, done.value))

    @strawberry.mutation(description="Change a store's name, region, address, location, format or status.")
    async def store_update(self, info: Info, input: StoreUpdateInput) -> StoreUpdatePayload:
        ctx = info.context
        p = ctx.require_principal()
        store_id = parse_pk(input.id, "Store")
        location = given(input.location)
        changes = service.StoreChanges(
            name=given(input.name),
            region_code=given(input.region_code),
            address=given(input.address),
            lat=location.lat if location else None,
            lng=location.lng if location else None,
            format=enum_value(input.format),
            status=enum_value(input.status),
        )

        done = await attempt(ctx, lambda conn: service.update_store(conn, p, store_id, changes))
        if done.error:
            return StoreUpdatePayload(user_errors=done.user_errors(OrgUserError))
        return StoreUpdatePayload(store=await _reload_store(ctx, store_id))

    @strawberry.mutation(description="Create an account (HQ_ADMIN; a dealer admin for the people of its subtree).")
    async def user_create(self, info: Info, input: UserCreateInput) -> UserCreatePayload:
        ctx = info.context
        p = ctx.require_principal()
        data = service.UserCreate(
            email=input.email,
            name=input.name,
            password=input.password,
            role=access.Role(input.role).value,
            dealer_id=parse_pk(input.dealer_id, "Dealer") if input.dealer_id is not None else None,
            store_id=parse_pk(input.store_id, "Store") if input.store_id is not None else None,
            region_codes=tuple(input.region_codes or ()),
        )
        done = await attempt(ctx, lambda conn: service.create_user(conn, p, data))
        if done.error:
            return UserCreatePayload(user_errors=done.user_errors(OrgUserError))
        return UserCreatePayload(user=await _reload_user(ctx, done.value))

    @strawberry.mutation(description="Rename, disable, reset the password of, or re-assign areas of an account.")
    async def user_update(self, info: Info, input: UserUpdateInput) -> UserUpdatePayload:
        ctx = info.context
        p = ctx.require_principal()
        user_id = parse_pk(input.id, "User")
        regions = given(input.region_codes)
        changes = service.UserChanges(
            name=given(input.name),
            password=given(input.password),
            status=enum_value(input.status),
            region_codes=tuple(regions) if regions is not None else None,
        )
        done = await attempt(ctx, lambda conn: service.update_user(conn, p, user_id, changes))
        if done.error:
            return UserUpdatePayload(user_errors=done.user_errors(OrgUserError))
        return UserUpdatePayload(user=await _reload_user(ctx, user_id))
