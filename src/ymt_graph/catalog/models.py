"""Tables of the catalog: what the brand sells and who may order it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from ymt_graph.models_base import created_at, fk, pk, tenant_fk, updated_at


class Category(SQLModel, table=True):
    __tablename__ = "categories"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    code: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    parent_id: int | None = fk("categories.id")


class ProductModel(SQLModel, table=True):
    """A product; its SKUs are the variants (colour, battery size)."""

    __tablename__ = "product_models"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    code: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    category_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("categories.id"), nullable=False))


class Sku(SQLModel, table=True):
    __tablename__ = "skus"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "code"),
        sa.Index("ix_skus_category", "tenant_id", "category_id", "code"),
        sa.Index("ix_skus_model", "tenant_id", "model_id"),
        sa.CheckConstraint("moq >= 1", name="ck_skus_moq"),
        sa.CheckConstraint("order_multiple >= 1", name="ck_skus_order_multiple"),
    )
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    code: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    model_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("product_models.id"), nullable=False))
    category_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("categories.id"), nullable=False))
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONB, nullable=False, server_default="{}")
    )
    unit: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, server_default="PCS"))
    moq: int = Field(default=1, sa_column=sa.Column(sa.Integer, nullable=False, server_default="1"))
    order_multiple: int = Field(default=1, sa_column=sa.Column(sa.Integer, nullable=False, server_default="1"))
    serial_tracked: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, server_default="ACTIVE"))
    launch_date: date | None = Field(default=None, sa_column=sa.Column(sa.Date))
    created_at: datetime | None = created_at()
    updated_at: datetime | None = updated_at()


class AssortmentRule(SQLModel, table=True):
    """Grants ordering rights: dealers matching every set dealer condition may order
    the SKUs matching every set SKU condition. An unset condition matches all."""

    __tablename__ = "assortment_rules"
    __table_args__ = (sa.Index("ix_assortment_rules_tenant", "tenant_id"),)
    id: int | None = pk()
    tenant_id: int = tenant_fk()
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    dealer_level: int | None = Field(default=None, sa_column=sa.Column(sa.SmallInteger))
    dealer_tier: str | None = Field(default=None, sa_column=sa.Column(sa.String(1)))
    region_id: int | None = fk("regions.id")
    dealer_id: int | None = fk("dealers.id")
    category_id: int | None = fk("categories.id")
    sku_id: int | None = fk("skus.id")
    created_at: datetime | None = created_at()
