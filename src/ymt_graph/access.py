"""Authorization: the one place that decides who may read and write what.

Reads are decided in SQL: every scoped query adds the clause these functions
build (tenant, dealer subtree, region, store), so a row a principal may not
see is simply absent, and ``node`` on a foreign id is null. Writes are decided
on the loaded target by the ``may_*`` functions. Resolvers and services never
hand-write "can this dealer see that row".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement


class Role(enum.StrEnum):
    HQ_ADMIN = "HQ_ADMIN"
    HQ_SALES = "HQ_SALES"
    DEALER_ADMIN = "DEALER_ADMIN"
    DEALER_STAFF = "DEALER_STAFF"
    STORE_STAFF = "STORE_STAFF"
    ANALYST = "ANALYST"
    INTEGRATION = "INTEGRATION"


class Resource(enum.StrEnum):
    """What an API key scope names: ``<resource>:read`` or ``<resource>:write``."""

    DEALERS = "dealers"
    STORES = "stores"
    WAREHOUSES = "warehouses"
    CATALOG = "catalog"
    USERS = "users"


ALL_SCOPES: tuple[str, ...] = tuple(f"{r.value}:{a}" for r in Resource for a in ("read", "write"))

HQ_ROLES = frozenset({Role.HQ_ADMIN, Role.HQ_SALES, Role.ANALYST})
DEALER_ROLES = frozenset({Role.DEALER_ADMIN, Role.DEALER_STAFF})


class Forbidden(Exception):
    """The principal may not do this (mapped to FORBIDDEN, or NOT_FOUND where probing matters)."""


@dataclass(frozen=True)
class Principal:
    """Who is asking. Built once per request by api.auth from a JWT or an API key."""

    tenant_id: int
    role: Role
    user_id: int | None = None
    api_key_id: int | None = None
    # The dealer the principal acts for (a store's staff: the store's dealer).
    dealer_id: int | None = None
    # That dealer's tree path ("/12/57/"): subtree = path prefix, ancestors = ids in it.
    dealer_path: str | None = None
    store_id: int | None = None
    # HQ_SALES: tree paths of the regions they cover.
    region_paths: tuple[str, ...] = ()
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def acts_as_dealer(self) -> bool:
        """A dealer user, or an integration key bound to a dealer."""
        return self.role in DEALER_ROLES or (self.role is Role.INTEGRATION and self.dealer_id is not None)

    @property
    def tenant_wide(self) -> bool:
        return self.role in (Role.HQ_ADMIN, Role.ANALYST) or (
            self.role is Role.INTEGRATION and self.dealer_id is None
        )

    def ancestor_dealer_ids(self) -> list[int]:
        """Dealers above the principal's own (its suppliers): visible by name, not in depth."""
        ids = path_ids(self.dealer_path)
        if self.role is Role.STORE_STAFF:
            return ids  # the store's dealer and that dealer's parents
        return ids[:-1]

    def has_scope(self, resource: Resource, action: str) -> bool:
        if self.role is not Role.INTEGRATION:
            return True
        return f"{resource.value}:{action}" in self.scopes


def path_ids(path: str | None) -> list[int]:
    return [int(part) for part in (path or "").split("/") if part]


def subtree_clause(path_col: Any, path: str) -> ColumnElement[bool]:
    """Rows whose tree path starts with ``path`` (the node and everything under it), as a range
    of the byte order (``text_pattern_ops``): paths are "/" and digits, so "~" (0x7E) sorts after
    every character that can follow the prefix. Unlike ``LIKE '<path>%'`` the range uses the
    path indexes also when ``path`` is a parameter (a compiled read's generic plan)."""
    return sa.and_(path_col.op("~>=~", is_comparison=True)(path), path_col.op("~<~", is_comparison=True)(path + "~"))


def region_clause(region_id_col: Any, regions: sa.Table, region_paths: tuple[str, ...]) -> ColumnElement[bool]:
    """Rows whose region lies inside one of the given region subtrees."""
    if not region_paths:
        return sa.false()
    # An alias: the enclosing query may join regions itself, and must not correlate with this.
    r = regions.alias("scope_regions")
    inside = sa.or_(*(subtree_clause(r.c.path, p) for p in region_paths))
    return region_id_col.in_(sa.select(r.c.id).where(inside))


def _readable(p: Principal, resource: Resource) -> bool:
    return p.has_scope(resource, "read")


def in_regions(p: Principal, region_path: str) -> bool:
    """Whether a region lies in one of the areas an HQ_SALES principal covers."""
    return any(region_path.startswith(rp) for rp in p.region_paths)


def dealer_scope(p: Principal, dealers: sa.Table, regions: sa.Table) -> ColumnElement[bool]:
    """Which dealer rows the principal sees: those it manages, plus its suppliers above it
    (a sub-dealer or store must know who it buys from)."""
    if not _readable(p, Resource.DEALERS):
        return sa.false()
    managed = own_dealers(p, dealers, regions)
    ancestors = p.ancestor_dealer_ids()
    if not ancestors:
        return managed
    return sa.or_(managed, sa.and_(dealers.c.tenant_id == p.tenant_id, dealers.c.id.in_(ancestors)))


def own_dealers(p: Principal, dealers: sa.Table, regions: sa.Table) -> ColumnElement[bool]:
    """Dealers whose details, stock and business the principal sees (no suppliers above)."""
    tenant = dealers.c.tenant_id == p.tenant_id
    if p.tenant_wide:
        return tenant
    if p.role is Role.HQ_SALES:
        return sa.and_(tenant, region_clause(dealers.c.region_id, regions, p.region_paths))
    if p.acts_as_dealer and p.dealer_path:
        return sa.and_(tenant, subtree_clause(dealers.c.path, p.dealer_path))
    return sa.false()


def sees_dealer_details(p: Principal, dealer_path: str, region_path: str) -> bool:
    """Confidential dealer fields (credit limit, terms): the row-level twin of own_dealers."""
    if p.tenant_wide:
        return True
    if p.role is Role.HQ_SALES:
        return in_regions(p, region_path)
    return bool(p.acts_as_dealer and p.dealer_path and dealer_path.startswith(p.dealer_path))


def dealer_details_clause(p: Principal, dealer_path: Any, region_path: Any) -> ColumnElement[bool]:
    """``sees_dealer_details`` in SQL, over a dealer row's path and its region's path (the
    compiled read path decides confidential fields in the statement)."""
    if p.tenant_wide:
        return sa.true()
    if p.role is Role.HQ_SALES:
        return sa.or_(*(subtree_clause(region_path, rp) for rp in p.region_paths)) if p.region_paths else sa.false()
    if p.acts_as_dealer and p.dealer_path:
        return subtree_clause(dealer_path, p.dealer_path)
    return sa.false()


def store_scope(p: Principal, stores: sa.Table, dealers: sa.Table, regions: sa.Table) -> ColumnElement[bool]:
    tenant = stores.c.tenant_id == p.tenant_id
    if not _readable(p, Resource.STORES):
        return sa.false()
    if p.tenant_wide:
        return tenant
    if p.role is Role.HQ_SALES:
        return sa.and_(tenant, region_clause(stores.c.region_id, regions, p.region_paths))
    if p.role is Role.STORE_STAFF and p.store_id is not None:
        return sa.and_(tenant, stores.c.id == p.store_id)
    if p.acts_as_dealer and p.dealer_path:
        subtree = sa.select(dealers.c.id).where(
            dealers.c.tenant_id == p.tenant_id, subtree_clause(dealers.c.path, p.dealer_path)
        )
        return sa.and_(tenant, stores.c.dealer_id.in_(subtree))
    return sa.false()


def warehouse_scope(
    p: Principal, warehouses: sa.Table, dealers: sa.Table, stores: sa.Table, regions: sa.Table
) -> ColumnElement[bool]:
    """HQ warehouses are visible to everyone in the tenant (everyone orders from HQ);
    dealer and store warehouses follow the owner's visibility."""
    tenant = warehouses.c.tenant_id == p.tenant_id
    if not _readable(p, Resource.WAREHOUSES):
        return sa.false()
    if p.tenant_wide:
        return tenant
    owned_by_visible = sa.or_(
        warehouses.c.owner_kind == "HQ",
        sa.and_(
            warehouses.c.owner_kind == "DEALER",
            warehouses.c.dealer_id.in_(
                sa.select(dealers.c.id).where(own_dealers(p, dealers, regions))
            ),
        ),
        sa.and_(
            warehouses.c.owner_kind == "STORE",
            warehouses.c.store_id.in_(sa.select(stores.c.id).where(store_scope(p, stores, dealers, regions))),
        ),
    )
    return sa.and_(tenant, owned_by_visible)


def availability_scope(
    p: Principal, warehouses: sa.Table, dealers: sa.Table, stores: sa.Table, regions: sa.Table
) -> ColumnElement[bool]:
    """Warehouses whose *available* quantities the principal sees: those it sees in full, and its
    suppliers' own warehouses — a buyer browsing its seller's stocked catalog (a store its
    dealer's, a sub-dealer its distributor's) sees what can be ordered, nothing else of them."""
    seen = warehouse_scope(p, warehouses, dealers, stores, regions)
    suppliers = p.ancestor_dealer_ids() if (p.acts_as_dealer or p.role is Role.STORE_STAFF) else []
    if not suppliers or not _readable(p, Resource.WAREHOUSES):
        return seen
    return sa.or_(seen, sa.and_(warehouses.c.tenant_id == p.tenant_id, warehouses.c.owner_kind == "DEALER",
                                warehouses.c.dealer_id.in_(suppliers)))


def user_scope(
    p: Principal, users: sa.Table, dealers: sa.Table, stores: sa.Table, regions: sa.Table
) -> ColumnElement[bool]:
    """Accounts a principal sees: its own, and those of the dealers and stores it manages
    (a distributor sees its staff and its sub-dealers' and stores' people)."""
    tenant = users.c.tenant_id == p.tenant_id
    own = users.c.id == p.user_id if p.user_id is not None else sa.false()
    if not _readable(p, Resource.USERS):
        return sa.and_(tenant, own)
    if p.tenant_wide:
        return tenant
    managed_dealers = sa.select(dealers.c.id).where(own_dealers(p, dealers, regions))
    managed_stores = sa.select(stores.c.id).where(store_scope(p, stores, dealers, regions))
    people = sa.or_(users.c.dealer_id.in_(managed_dealers), users.c.store_id.in_(managed_stores))
    if p.role is Role.STORE_STAFF:
        people = users.c.store_id == p.store_id if p.store_id is not None else sa.false()
    return sa.and_(tenant, sa.or_(own, people))


def may_manage_user(p: Principal, role: Role, dealer_path: str | None, region_path: str | None) -> bool:
    """Create or change an account with ``role`` attached to a dealer (its path) or a store
    (its dealer's path). HQ_ADMIN manages everyone; a dealer admin manages the people of
    its own subtree (its staff, its sub-dealers' admins, its stores' staff) and no HQ roles."""
    if not p.has_scope(Resource.USERS, "write"):
        return False
    if p.role is Role.HQ_ADMIN or (p.role is Role.INTEGRATION and p.dealer_id is None):
        return True
    if role not in (Role.DEALER_ADMIN, Role.DEALER_STAFF, Role.STORE_STAFF) or dealer_path is None:
        return False
    return _manages(p) and dealer_path.startswith(p.dealer_path or "\0")


def catalog_readable(p: Principal) -> bool:
    return _readable(p, Resource.CATALOG)


# ---- writes -------------------------------------------------------------------------------


def _hq_may_write(p: Principal, region_path: str) -> bool | None:
    """HQ's answer for a write in a region; None when the principal is not HQ-side."""
    if p.role is Role.HQ_ADMIN or (p.role is Role.INTEGRATION and p.dealer_id is None):
        return True
    if p.role is Role.HQ_SALES:
        return in_regions(p, region_path)
    return None


def _manages(p: Principal) -> bool:
    """Dealer admins, and integration keys bound to a dealer, manage their subtree."""
    return p.role in (Role.DEALER_ADMIN, Role.INTEGRATION) and bool(p.dealer_path)


def may_write_dealer(p: Principal, target_path: str, region_path: str) -> bool:
    """Change an existing dealer. A dealer admin manages the sub-dealers below it, not itself
    (its own credit limit and tier are HQ's call)."""
    if not p.has_scope(Resource.DEALERS, "write"):
        return False
    hq = _hq_may_write(p, region_path)
    if hq is not None:
        return hq
    return _manages(p) and target_path.startswith(p.dealer_path or "\0") and target_path != p.dealer_path


def may_create_dealer(p: Principal, parent_path: str | None, region_path: str) -> bool:
    """Level-1 dealers are HQ's to create; a distributor may onboard its own sub-dealers."""
    if not p.has_scope(Resource.DEALERS, "write"):
        return False
    hq = _hq_may_write(p, region_path)
    if hq is not None:
        return hq
    return _manages(p) and parent_path is not None and parent_path.startswith(p.dealer_path or "\0")


def may_write_store(p: Principal, dealer_path: str, region_path: str) -> bool:
    """Create or change a store belonging to a dealer at ``dealer_path``."""
    if not p.has_scope(Resource.STORES, "write"):
        return False
    hq = _hq_may_write(p, region_path)
    if hq is not None:
        return hq
    return _manages(p) and dealer_path.startswith(p.dealer_path or "\0")


def may_write_catalog(p: Principal) -> bool:
    if not p.has_scope(Resource.CATALOG, "write"):
        return False
    return p.role is Role.HQ_ADMIN or (p.role is Role.INTEGRATION and p.dealer_id is None)


# ---- inventory ----------------------------------------------------------------------------
# Stock has no API-key resource of its own: it is the contents of warehouses, so keys read it
# with ``warehouses:read`` and change it with ``warehouses:write``.


def stock_ledger_scope(
    p: Principal, warehouses: sa.Table, dealers: sa.Table, stores: sa.Table, regions: sa.Table
) -> ColumnElement[bool]:
    """Warehouses whose ledger (movements, transfers, serial unit histories) the principal sees.

    Everyone sees HQ's stock *levels* (everyone orders from HQ), but HQ's movements name the
    orders and transfers of every dealer, so HQ's ledger is for HQ-side principals only."""
    seen = warehouse_scope(p, warehouses, dealers, stores, regions)
    if p.tenant_wide or p.role is Role.HQ_SALES:
        return seen
    return sa.and_(seen, warehouses.c.owner_kind != "HQ")


def may_write_stock(p: Principal, owner_kind: str, owner_dealer_path: str | None, store_id: int | None) -> bool:
    """Change the stock of a warehouse (adjust it, send or receive a transfer).

    HQ_ADMIN (and tenant-wide integration keys): any warehouse. Dealer admins *and* dealer
    staff: the warehouses of their subtree, their dealers' and their stores' (staff do the
    counting and receiving; account and structure rights stay with admins). Store staff: their
    store's warehouse. HQ_SALES and ANALYST read only. ``owner_dealer_path`` is the path of
    the dealer owning the warehouse (for a store's warehouse, the store's dealer)."""
    if not p.has_scope(Resource.WAREHOUSES, "write"):
        return False
    if p.role is Role.HQ_ADMIN or (p.role is Role.INTEGRATION and p.dealer_id is None):
        return True
    if p.role is Role.STORE_STAFF:
        return owner_kind == "STORE" and store_id is not None and store_id == p.store_id
    if p.acts_as_dealer and p.dealer_path:
        return owner_kind != "HQ" and (owner_dealer_path or "\0").startswith(p.dealer_path)
    return False


# ---- pricing ---
# Reads and writes of the price centre. Pricing rides on the ``catalog`` API-key scope
# (a key that reads the catalog reads prices; one that writes it may set HQ prices).

_aliases: dict[tuple[str, str], Any] = {}


def _alias(tbl: sa.Table, name: str) -> Any:
    """One alias per (table, name), built once: a fresh alias re-proxies every column."""
    found = _aliases.get((tbl.name, name))
    if found is None:
        found = _aliases[(tbl.name, name)] = tbl.alias(name)
    return found


def price_list_offered_to(price_lists: sa.Table, buyer: Any, buyer_region: Any) -> ColumnElement[bool]:
    """The price lists offered to a buying dealer, given as a joined dealer row ``buyer`` and
    its region ``buyer_region`` (aliases of dealers and regions): ACTIVE lists of HQ (no owner)
    or of its seller (its parent's DOWNSTREAM lists) whose every set condition matches it —
    level, tier, region (the buyer's region or any region above it), and for a CONTRACT the
    dealer itself. Being offered a list and being priced by it are one rule: price resolution
    and list visibility both use this clause."""
    pl = price_lists.c
    return sa.and_(
        pl.tenant_id == buyer.c.tenant_id,
        pl.status == "ACTIVE",
        sa.or_(pl.owner_dealer_id.is_(None), pl.owner_dealer_id == buyer.c.parent_id),
        sa.or_(pl.dealer_id.is_(None), pl.dealer_id == buyer.c.id),
        sa.or_(pl.dealer_level.is_(None), pl.dealer_level == buyer.c.level),
        sa.or_(pl.dealer_tier.is_(None), pl.dealer_tier == buyer.c.tier),
        # Region paths are "/3/17/": the list's region is the buyer's or one above it.
        sa.or_(pl.region_id.is_(None), buyer_region.c.path.like(sa.func.concat("%/", pl.region_id, "/%"))),
    )


def price_list_offered_to_store(price_lists: sa.Table, store: Any, store_region: Any) -> ColumnElement[bool]:
    """The price lists offered to a store buying from its dealer: the dealer's ACTIVE DOWNSTREAM
    lists that name no particular dealer, level or tier (those are for sub-dealers) and whose
    region, if any, is the store's or one above it. A store's staff sees exactly these
    (``price_list_scope``)."""
    pl = price_lists.c
    return sa.and_(
        pl.tenant_id == store.c.tenant_id,
        pl.status == "ACTIVE",
        pl.owner_dealer_id == store.c.dealer_id,
        pl.dealer_id.is_(None),
        pl.dealer_level.is_(None),
        pl.dealer_tier.is_(None),
        sa.or_(pl.region_id.is_(None), store_region.c.path.like(sa.func.concat("%/", pl.region_id, "/%"))),
    )


def price_list_scope(p: Principal, price_lists: sa.Table, dealers: sa.Table, regions: sa.Table) -> ColumnElement[bool]:
    """Which price lists the principal sees. A dealer-specific price is confidential to that
    dealer and HQ, so:

    - HQ_ADMIN, ANALYST, tenant-wide keys: every list.
    - HQ_SALES: HQ's general lists, the contracts of the dealers of their areas, and the
      downstream lists those dealers publish.
    - A dealer: the lists offered to it (``price_list_offered_to``: HQ's general lists whose
      conditions match it, its own contract, its seller's downstream lists for it) and the
      downstream lists published inside its own subtree (its own, its sub-dealers').
    - A store's staff: the ACTIVE downstream lists of its dealer.
    """
    pl = price_lists.c
    tenant = pl.tenant_id == p.tenant_id
    if not _readable(p, Resource.CATALOG):
        return sa.false()
    if p.tenant_wide:
        return tenant
    if p.role is Role.HQ_SALES:
        managed = sa.select(dealers.c.id).where(own_dealers(p, dealers, regions))
        hq_list = sa.and_(pl.owner_dealer_id.is_(None), sa.or_(pl.dealer_id.is_(None), pl.dealer_id.in_(managed)))
        return sa.and_(tenant, sa.or_(hq_list, pl.owner_dealer_id.in_(managed)))
    if p.role is Role.STORE_STAFF:
        if p.dealer_id is None:
            return sa.false()
        return sa.and_(tenant, pl.owner_dealer_id == p.dealer_id, pl.status == "ACTIVE")
    if p.acts_as_dealer and p.dealer_id is not None and p.dealer_path:
        buyer, buyer_region = _alias(dealers, "scope_buyer"), _alias(regions, "scope_buyer_region")
        offered = (
            sa.exists()
            .where(buyer.c.id == p.dealer_id, buyer_region.c.id == buyer.c.region_id)
            .where(price_list_offered_to(price_lists, buyer, buyer_region))
        )
        publishers = sa.select(dealers.c.id).where(
            dealers.c.tenant_id == p.tenant_id, subtree_clause(dealers.c.path, p.dealer_path)
        )
        return sa.and_(tenant, sa.or_(offered, pl.owner_dealer_id.in_(publishers)))
    return sa.false()


def dealer_price_scope(p: Principal, dealer_id_col: Any, dealers: sa.Table, regions: sa.Table) -> ColumnElement[bool]:
    """Dealers whose resolved prices the principal may ask for: those whose business it sees
    (``own_dealers``) — never a supplier above it, whose purchase price is its own secret."""
    if not _readable(p, Resource.CATALOG):
        return sa.false()
    if p.tenant_wide:
        return sa.true()
    return sa.cast(dealer_id_col.in_(sa.select(dealers.c.id).where(own_dealers(p, dealers, regions))), sa.Boolean)


def store_price_scope(
    p: Principal, store_id_col: Any, stores: sa.Table, dealers: sa.Table, regions: sa.Table
) -> ColumnElement[bool]:
    """Stores whose resolved prices the principal may ask for: the stores it sees."""
    if not _readable(p, Resource.CATALOG):
        return sa.false()
    if p.tenant_wide:
        return sa.true()
    return sa.cast(store_id_col.in_(sa.select(stores.c.id).where(store_scope(p, stores, dealers, regions))), sa.Boolean)


def price_violation_scope(
    p: Principal, violations: sa.Table, dealers: sa.Table, regions: sa.Table
) -> ColumnElement[bool]:
    """Price violations (乱价) are about the dealer that sold: HQ_ADMIN and ANALYST see all,
    HQ_SALES those of their areas' dealers, a dealer those of its own subtree, stores none."""
    tenant = violations.c.tenant_id == p.tenant_id
    if not _readable(p, Resource.DEALERS):
        return sa.false()
    if p.tenant_wide:
        return tenant
    if p.role is Role.STORE_STAFF:
        return sa.false()
    return sa.and_(tenant, violations.c.dealer_id.in_(sa.select(dealers.c.id).where(own_dealers(p, dealers, regions))))


def may_write_price_list(p: Principal, owner_dealer_id: int | None) -> bool:
    """Create or change a price list and its lines. HQ's lists (no owner) are HQ_ADMIN's;
    a DOWNSTREAM list is also its owner dealer's admin's (never another dealer's, not even
    a sub-dealer's: what a sub-dealer charges its stores is its own call)."""
    if not p.has_scope(Resource.CATALOG, "write"):
        return False
    if p.role is Role.HQ_ADMIN or (p.role is Role.INTEGRATION and p.dealer_id is None):
        return True
    return owner_dealer_id is not None and _manages(p) and p.dealer_id == owner_dealer_id


def may_set_national_prices(p: Principal) -> bool:
    """Price limits and guide retail prices are HQ's (as the catalog is)."""
    return may_write_catalog(p)


# ---- notifications ---
# Webhook subscriptions add no API-key resource: managing them is dealer administration, so keys
# list them with ``dealers:read`` and create or delete them with ``dealers:write``. HQ (HQ_ADMIN,
# tenant-wide keys) manages every subscription of the tenant, HQ's own (owner null: hears every
# event) and any dealer's; a DEALER_ADMIN (or a key bound to a dealer) manages its own dealer's,
# which hear only events whose topics name that dealer as buyer or seller.
#
# Event topics (set by the centre that emits the event): "hq", "buyer:dealer:<id>",
# "seller:dealer:<id>", "buyer:store:<id>".


def dealer_topics(dealer_id: int) -> tuple[str, str]:
    """The topics under which a dealer hears an event about its business."""
    return (f"buyer:dealer:{dealer_id}", f"seller:dealer:{dealer_id}")


def _webhook_hq(p: Principal) -> bool:
    return p.role is Role.HQ_ADMIN or (p.role is Role.INTEGRATION and p.dealer_id is None)


def _webhook_dealer(p: Principal) -> int | None:
    """The dealer whose subscriptions a dealer-side principal manages (None: not one)."""
    if p.role is Role.DEALER_ADMIN or (p.role is Role.INTEGRATION and p.dealer_id is not None):
        return p.dealer_id
    return None


def webhook_subscription_scope(p: Principal, subscriptions: sa.Table) -> ColumnElement[bool]:
    """Live subscriptions the principal sees: HQ sees the tenant's, a dealer admin its dealer's.
    Other roles (staff, stores, HQ_SALES, ANALYST) see none: endpoints are admin business."""
    s = subscriptions.c
    live = sa.and_(s.tenant_id == p.tenant_id, s.deleted_at.is_(None))
    if not p.has_scope(Resource.DEALERS, "read"):
        return sa.false()
    if _webhook_hq(p):
        return live
    dealer_id = _webhook_dealer(p)
    if dealer_id is not None:
        return sa.and_(live, s.owner_dealer_id == dealer_id)
    return sa.false()


def may_manage_webhooks(p: Principal, owner_dealer_id: int | None) -> bool:
    """Create or delete a subscription owned by ``owner_dealer_id`` (None: HQ's)."""
    if not p.has_scope(Resource.DEALERS, "write"):
        return False
    if _webhook_hq(p):
        return True
    dealer_id = _webhook_dealer(p)
    return dealer_id is not None and owner_dealer_id == dealer_id


def webhook_hears(subscriptions: sa.Table, events: sa.Table) -> ColumnElement[bool]:
    """Which subscription hears which outbox event (the fan-out join): same tenant, live,
    created before the event, the event type wanted ("*" = all), and for a dealer's
    subscription the event's topics name that dealer as buyer or seller."""
    s, e = subscriptions.c, events.c
    from sqlalchemy.dialects.postgresql import ARRAY, array  # only this section builds ARRAY[...] literals

    owner = sa.cast(s.owner_dealer_id, sa.String)
    # varchar[] && varchar[]: PostgreSQL has no && between varchar[] and text[].
    named = sa.cast(array([sa.func.concat("buyer:dealer:", owner), sa.func.concat("seller:dealer:", owner)]),
                    ARRAY(sa.String(64)))
    return sa.and_(
        s.tenant_id == e.tenant_id,
        s.active.is_(True),
        s.deleted_at.is_(None),
        s.created_at <= e.created_at,
        sa.or_(s.event_types.contains(["*"]), e.event_type == sa.func.any(s.event_types)),
        sa.or_(s.owner_dealer_id.is_(None), e.topics.overlap(named)),
    )


def may_hear_event(p: Principal, topics: list[str] | tuple[str, ...]) -> bool:
    """Whether a principal may receive an event (GraphQL subscriptions). HQ_ADMIN, ANALYST and
    tenant-wide keys hear everything of their tenant; a dealer hears events naming its dealer;
    a store's staff events naming its store. HQ_SALES hears nothing here: topics do not say
    which area a dealer lies in, so a subscription for them must check the subject in SQL.
    The tenant is checked by the channel (one per tenant)."""
    if p.tenant_wide:
        return True
    wanted: set[str] = set()
    if p.role is Role.STORE_STAFF and p.store_id is not None:
        wanted.add(f"buyer:store:{p.store_id}")
    elif p.acts_as_dealer and p.dealer_id is not None:
        wanted.update(dealer_topics(p.dealer_id))
    return not wanted.isdisjoint(topics)


def may_follow_dealer_shipments(p: Principal, dealer_path: str, region_path: str) -> bool:
    """``shipmentEvents`` of a buyer dealer the principal sees (``dealer_scope``): a dealer's deliveries
    are its business, so seeing it by name is not enough (a sub-dealer sees its supplier, a store's
    staff its dealer); the principal must see its business, as ``own_dealers`` says (row-level:
    ``sees_dealer_details``). A buyer store in ``store_scope`` is business-visible already."""
    return sees_dealer_details(p, dealer_path, region_path)


# ---- orders ---------------------------------------------------------------------------------
#
# A buyer dealer's own DEALER_ADMIN / DEALER_STAFF (and HQ_ADMIN, and a key bound to that dealer)
# fill its cart, submit and cancel its orders; a buying store's STORE_STAFF (and HQ_ADMIN) do the
# same for the store, which buys from its dealer. Orders are read by the buyer side (the buyer and
# the dealers above it in whose subtree it lies; for a store's order, the store and its dealer's
# chain), the seller side (the selling dealer), HQ (tenant-wide roles) and HQ_SALES for buyers in
# their areas. Orders are decided (approved or rejected) by HQ_ADMIN, HQ_SALES of the buyer's
# area, or the selling dealer's admin.


def may_order_for(p: Principal, buyer_dealer_id: int) -> bool:
    """Whether the principal fills the cart of, and orders for, this dealer."""
    if p.role is Role.HQ_ADMIN:
        return True
    return p.acts_as_dealer and p.dealer_id == buyer_dealer_id


def order_scope(p: Principal, orders: sa.Table, buyers: Any, buyer_regions: Any) -> ColumnElement[bool]:
    """Orders the principal sees (``buyers`` / ``buyer_regions``: the buyer side's dealer — the
    buying dealer, or a buying store's dealer — and its region)."""
    if p.tenant_wide:
        return sa.true()
    if p.role is Role.HQ_SALES:
        return sa.or_(*(subtree_clause(buyer_regions.c.path, rp) for rp in p.region_paths)) \
            if p.region_paths else sa.false()
    if p.role is Role.STORE_STAFF:
        return orders.c.buyer_store_id == p.store_id if p.store_id is not None else sa.false()
    if p.acts_as_dealer and p.dealer_id is not None and p.dealer_path:
        return sa.or_(subtree_clause(buyers.c.path, p.dealer_path), orders.c.seller_dealer_id == p.dealer_id)
    return sa.false()


def may_decide_order(p: Principal, seller_dealer_id: int | None, buyer_region_path: str) -> bool:
    """Approve or reject an order the principal sees."""
    if p.role is Role.HQ_ADMIN:
        return True
    if p.role is Role.HQ_SALES:
        return in_regions(p, buyer_region_path)
    if seller_dealer_id is None:
        return False
    return p.dealer_id == seller_dealer_id and (
        p.role is Role.DEALER_ADMIN or (p.role is Role.INTEGRATION and p.dealer_id is not None)
    )


def may_order_for_store(p: Principal, store_id: int) -> bool:
    """Whether the principal fills the cart of, and orders for, this store (from its dealer)."""
    if p.role is Role.HQ_ADMIN:
        return True
    return p.role is Role.STORE_STAFF and p.store_id == store_id


def may_act_as_buyer(p: Principal, buyer_dealer_id: int | None, buyer_store_id: int | None) -> bool:
    """Cancel or receive an order the principal sees: the buyer's own people."""
    if buyer_store_id is not None:
        return may_order_for_store(p, buyer_store_id)
    return buyer_dealer_id is not None and may_order_for(p, buyer_dealer_id)


# ---- shipping ---------------------------------------------------------------------------------
#
# A shipment, its tracking events and a receipt belong to one order: they are visible exactly
# when the order is (``order_scope``; the shipping centre reads them joined to the scoped orders),
# and so is a receipt-discrepancy claim. Writes, on an order the principal sees (else
# ORDER_NOT_FOUND), are the two sides' own:
#
# - the seller ships and records tracking events: HQ-sold orders by HQ_ADMIN (and tenant-wide
#   keys: HQ's warehouse system), dealer-sold orders by the selling dealer's DEALER_ADMIN and
#   DEALER_STAFF (staff pack and ship) or a key bound to that dealer; HQ_ADMIN also for them;
# - the buyer receives: the buying dealer's admin or staff (or its key), a buying store's
#   STORE_STAFF, or HQ_ADMIN (``may_act_as_buyer``).
#
# Both move stock, so an integration key also needs ``warehouses:write`` (as for stock itself).
# HQ_SALES and ANALYST, and the other side of the order, see but may not act: FORBIDDEN.


def may_ship_order(p: Principal, seller_dealer_id: int | None) -> bool:
    """Create a shipment of, or add a tracking event to, an order sold by ``seller_dealer_id``
    (None: HQ sells)."""
    if not p.has_scope(Resource.WAREHOUSES, "write"):
        return False
    if p.role is Role.HQ_ADMIN:
        return True
    if seller_dealer_id is None:
        return p.role is Role.INTEGRATION and p.dealer_id is None
    return p.acts_as_dealer and p.dealer_id == seller_dealer_id


def may_receive_order(p: Principal, buyer_dealer_id: int | None, buyer_store_id: int | None) -> bool:
    """Confirm receipt of an order: the buyer's own people (or HQ_ADMIN)."""
    return p.has_scope(Resource.WAREHOUSES, "write") and may_act_as_buyer(p, buyer_dealer_id, buyer_store_id)
