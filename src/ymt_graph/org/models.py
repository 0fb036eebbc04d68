"""Tables of the organization: who is in the channel and where."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from ymt_graph.models_base import created_at, fk, money, pk, tenant_fk, updated_at


class Tenant(SQLModel, table=True):
    """The brand. Every other row carries its id."""

    __tablename__ = "tenants"
    id: int | None = pk()
    code: str = Field(sa_column=sa.Column(sa.String(32), nullable=False, unique=True))
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    currency: str = Field(default="CNY", sa_column=sa.Column(sa.String(3), nullable=False, server_default="CNY"))
    created_at: datetime | None = created_at()


class Region(SQLModel, table=True):
    """Sales area → province → city. ``path`` ("/3/17/") makes a subtree one indexed range (``subtree_clause``)."""

    __tablename__ = "regions"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "code"),
        sa.Index("ix_regions_path", "tenant_id", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    code: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))  # AREA | PROVINCE | CITY
    parent_id: int | None = fk("regions.id")
    path: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))


class Dealer(SQLModel, table=True):
    """A distributor (level 1, under HQ) or sub-dealer (level 2, under a distributor).

    ``path`` holds the ids from the root down ("/12/57/"), so "everything under
    this distributor" is the paths from '/12/' to '/12/~' on an index, never a recursive walk.
    """

    __tablename__ = "dealers"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "code"),
        sa.Index("ix_dealers_path", "tenant_id", "path", postgresql_ops={"path": "text_pattern_ops"}),
        sa.Index("ix_dealers_parent", "tenant_id", "parent_id"),
        sa.Index("ix_dealers_region", "tenant_id", "region_id"),
        sa.CheckConstraint("level IN (1, 2)", name="ck_dealers_level"),
        sa.CheckConstraint("credit_limit >= 0", name="ck_dealers_credit_limit"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    code: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    level: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    parent_id: int | None = fk("dealers.id")
    path: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    region_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("regions.id"), nullable=False))
    tier: str = Field(sa_column=sa.Column(sa.String(1), nullable=False))  # A | B | C
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, server_default="ACTIVE"))
    credit_limit: Decimal = money(default=Decimal("0"))
    payment_terms_days: int = Field(default=30, sa_column=sa.Column(sa.Integer, nullable=False, server_default="30"))
    contact_name: str | None = Field(default=None, sa_column=sa.Column(sa.String(100)))
    contact_phone: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    created_at: datetime | None = created_at()
    updated_at: datetime | None = updated_at()


class Store(SQLModel, table=True):
    __tablename__ = "stores"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "code"),
        sa.Index("ix_stores_dealer", "tenant_id", "dealer_id", "code"),
        sa.Index("ix_stores_region", "tenant_id", "region_id"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    code: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    dealer_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("dealers.id"), nullable=False))
    region_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("regions.id"), nullable=False))
    address: str = Field(default="", sa_column=sa.Column(sa.String(300), nullable=False, server_default=""))
    lat: float | None = Field(default=None, sa_column=sa.Column(sa.Float))
    lng: float | None = Field(default=None, sa_column=sa.Column(sa.Float))
    format: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, server_default="STANDARD"))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, server_default="ACTIVE"))
    created_at: datetime | None = created_at()
    updated_at: datetime | None = updated_at()


class Warehouse(SQLModel, table=True):
    """Belongs to HQ (no dealer, no store), a dealer, or a store."""

    __tablename__ = "warehouses"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "code"),
        sa.Index("ix_warehouses_dealer", "tenant_id", "dealer_id"),
        sa.Index("ix_warehouses_store", "tenant_id", "store_id"),
        # Foreign-key checks on deleting a store or dealer look warehouses up without a tenant.
        sa.Index("ix_warehouses_store_fk", "store_id"),
        sa.Index("ix_warehouses_dealer_fk", "dealer_id"),
        sa.CheckConstraint(
            "(owner_kind = 'HQ' AND dealer_id IS NULL AND store_id IS NULL)"
            " OR (owner_kind = 'DEALER' AND dealer_id IS NOT NULL AND store_id IS NULL)"
            " OR (owner_kind = 'STORE' AND store_id IS NOT NULL)",
            name="ck_warehouses_owner",
        ),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    code: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    owner_kind: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    dealer_id: int | None = fk("dealers.id")
    store_id: int | None = fk("stores.id")
    region_id: int | None = fk("regions.id")
    created_at: datetime | None = created_at()


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "email"),
        sa.Index("ix_users_email", "email"),
        # Scoping finds "the people of these dealers / stores" by these.
        sa.Index("ix_users_dealer", "dealer_id"),
        sa.Index("ix_users_store", "store_id"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    email: str = Field(sa_column=sa.Column(sa.String(254), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    password_hash: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    dealer_id: int | None = fk("dealers.id")
    store_id: int | None = fk("stores.id")
    # HQ_SALES: the sales areas they cover.
    region_ids: list[int] = Field(
        default_factory=list,
        sa_column=sa.Column(ARRAY(sa.BigInteger), nullable=False, server_default="{}"),
    )
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, server_default="ACTIVE"))
    created_at: datetime | None = created_at()


class ApiKey(SQLModel, table=True):
    """An integrator's key. Only a SHA-256 of the secret is stored; the prefix finds the row."""

    __tablename__ = "api_keys"
    __table_args__ = (sa.UniqueConstraint("prefix"),)
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    prefix: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    key_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    scopes: list[str] = Field(
        default_factory=list, sa_column=sa.Column(ARRAY(sa.String(64)), nullable=False, server_default="{}")
    )
    dealer_id: int | None = fk("dealers.id")
    created_at: datetime | None = created_at()
    revoked_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
