"""GraphQL types of the catalog."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import strawberry
from sqlalchemy.engine import Row
from strawberry.scalars import JSON

from ymt_graph.catalog.loaders import CatalogLoaders
from ymt_graph.catalog.service import CatalogErrorCode
from ymt_graph.graph.context import Info
from ymt_graph.graph.errors import UserError
from ymt_graph.graph.ids import encode_gid
from ymt_graph.graph.node import Node
from ymt_graph.inventory.types import SkuStock
from ymt_graph.pricing.types import SkuPricing

CatalogErrorCodeEnum = strawberry.enum(CatalogErrorCode, name="CatalogErrorCode")


@strawberry.enum(description="Lifecycle of a SKU: only ACTIVE SKUs can be ordered.")
class SkuStatus(enum.Enum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    DISCONTINUED = "DISCONTINUED"


def catalog(info: Info) -> CatalogLoaders:
    return info.context.loaders(CatalogLoaders)


@strawberry.type
class Category(Node):
    id: strawberry.ID
    code: str
    name: str
    parent_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Category:
        return cls(id=strawberry.ID(encode_gid("Category", row.id)), code=row.code, name=row.name,
                   parent_pk=row.parent_id)

    @strawberry.field
    async def parent(self, info: Info) -> Category | None:
        if self.parent_pk is None:
            return None
        row = await catalog(info).category.load(self.parent_pk)
        return Category.from_row(row) if row else None


@strawberry.type(description="A product; its SKUs are the variants (colour, battery).")
class ProductModel(Node):
    id: strawberry.ID
    code: str
    name: str
    category_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any]) -> ProductModel:
        return cls(id=strawberry.ID(encode_gid("ProductModel", row.id)), code=row.code, name=row.name,
                   category_pk=row.category_id)

    @strawberry.field
    async def category(self, info: Info) -> Category:
        row = await catalog(info).category.load(self.category_pk)
        assert row is not None
        return Category.from_row(row)


@strawberry.type(description="A sellable variant.")
class Sku(SkuPricing, SkuStock, Node):
    id: strawberry.ID
    code: str
    name: str
    unit: str
    moq: int = strawberry.field(description="Minimum order quantity.")
    order_multiple: int = strawberry.field(description="Order quantities must be a multiple of this.")
    serial_tracked: bool = strawberry.field(description="Each unit carries a serial (frame/VIN) number.")
    status: SkuStatus
    launch_date: date | None
    attributes: JSON
    created_at: datetime
    updated_at: datetime
    category: Category
    model: ProductModel
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Sku:
        """From a row of ``catalog.service.sku_select`` (the SKU with its category and model)."""
        return cls.builder()(row)

    @classmethod
    def builder(cls) -> Callable[[Row[Any]], Sku]:
        """A row-to-SKU function for one list: SKUs of a page share few categories and
        models, so each is built once."""
        categories: dict[int, Category] = {}
        models: dict[int, ProductModel] = {}

        def build(row: Row[Any]) -> Sku:
            m = row._mapping
            category = categories.get(m["category_id"])
            if category is None:
                category = categories[m["category_id"]] = Category(
                    id=strawberry.ID(encode_gid("Category", m["category_id"])),
                    code=m["category_code"],
                    name=m["category_name"],
                    parent_pk=m["category_parent_id"],
                )
            model = models.get(m["model_id"])
            if model is None:
                model = models[m["model_id"]] = ProductModel(
                    id=strawberry.ID(encode_gid("ProductModel", m["model_id"])),
                    code=m["model_code"],
                    name=m["model_name"],
                    category_pk=m["model_category_id"],
                )
            return cls(
                id=strawberry.ID(encode_gid("Sku", m["id"])),
                code=m["code"],
                name=m["name"],
                unit=m["unit"],
                moq=m["moq"],
                order_multiple=m["order_multiple"],
                serial_tracked=m["serial_tracked"],
                status=SkuStatus(m["status"]),
                launch_date=m["launch_date"],
                attributes=m["attributes"],
                created_at=m["created_at"],
                updated_at=m["updated_at"],
                category=category,
                model=model,
                pk=m["id"],
            )

        return build


@strawberry.input
class SkuFilter:
    search: str | None = strawberry.field(default=strawberry.UNSET, description="Code or name (Chinese too).")
    category_id: strawberry.ID | None = strawberry.UNSET
    status: SkuStatus | None = strawberry.UNSET
    orderable_by: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Only SKUs this dealer may order now (assortment, ACTIVE)."
    )


@strawberry.input
class SkuCreateInput:
    code: str
    name: str
    model_id: strawberry.ID
    unit: str = "PCS"
    moq: int = 1
    order_multiple: int = 1
    serial_tracked: bool = False
    status: SkuStatus = SkuStatus.DRAFT
    launch_date: date | None = None
    attributes: JSON | None = None


@strawberry.input
class SkuUpdateInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    unit: str | None = strawberry.UNSET
    moq: int | None = strawberry.UNSET
    order_multiple: int | None = strawberry.UNSET
    serial_tracked: bool | None = strawberry.UNSET
    status: SkuStatus | None = strawberry.UNSET
    launch_date: date | None = strawberry.UNSET
    attributes: JSON | None = strawberry.UNSET


@strawberry.type
class CatalogUserError(UserError):
    field: list[str] | None
    message: str
    code: CatalogErrorCodeEnum  # type: ignore[valid-type]


@strawberry.type
class SkuCreatePayload:
    sku: Sku | None = None
    user_errors: list[CatalogUserError] = strawberry.field(default_factory=list)


@strawberry.type
class SkuUpdatePayload(SkuCreatePayload):
    pass
