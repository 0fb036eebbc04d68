"""Catalog rules: SKUs, their categories and models, and who may order what (assortment)."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from ymt_graph import access
from ymt_graph.access import Forbidden, Principal
from ymt_graph.catalog import models
from ymt_graph.db import table
from ymt_graph.errors import DomainError, Executor
from ymt_graph.org import service as org_service
from ymt_graph.paging import Order, Page, equal_to, order_by, page, search_clauses

skus = table(models.Sku)
categories = table(models.Category)
product_models = table(models.ProductModel)
assortment_rules = table(models.AssortmentRule)

SKU_ORDER: Order = order_by(skus.c.code, skus.c.id)
# A SKU row always brings its category and model along (one join, not two more
# statements): a SKU is never shown without them, and both tables are small.
SKU_COLUMNS = (
    skus,
    categories.c.code.label("category_code"),
    categories.c.name.label("category_name"),
    categories.c.parent_id.label("category_parent_id"),
    product_models.c.code.label("model_code"),
    product_models.c.name.label("model_name"),
    product_models.c.category_id.label("model_category_id"),
)
_SKUS_FROM = skus.join(categories, categories.c.id == skus.c.category_id).join(
    product_models, product_models.c.id == skus.c.model_id
)


def sku_select() -> sa.Select[Any]:
    return sa.select(*SKU_COLUMNS).select_from(_SKUS_FROM)
CATEGORY_ORDER: Order = order_by(categories.c.code, categories.c.id)
SKU_STATUSES = ("DRAFT", "ACTIVE", "DISCONTINUED")
SKU_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class CatalogErrorCode(enum.Enum):
    CODE_INVALID = "CODE_INVALID"
    CODE_TAKEN = "CODE_TAKEN"
    NAME_BLANK = "NAME_BLANK"
    MODEL_NOT_FOUND = "MODEL_NOT_FOUND"
    SKU_NOT_FOUND = "SKU_NOT_FOUND"
    MOQ_INVALID = "MOQ_INVALID"
    ORDER_MULTIPLE_INVALID = "ORDER_MULTIPLE_INVALID"
    UNIT_INVALID = "UNIT_INVALID"
    STATUS_INVALID = "STATUS_INVALID"
    ATTRIBUTES_INVALID = "ATTRIBUTES_INVALID"


@dataclass(frozen=True)
class SkuFilter:
    search: str | None = None
    category_id: int | None = None
    status: str | None = None
    # Only SKUs this dealer may order (assortment rules, ACTIVE status).
    orderable_by: int | None = None


def _require_catalog(p: Principal) -> None:
    if not access.catalog_readable(p):
        raise Forbidden("This key has no catalog:read scope.")


@dataclass(frozen=True)
class DealerTerms:
    """What assortment rules look at in a dealer, as SQL columns (the compiled read path reads
    them from the dealer's row in the same statement)."""

    id: Any
    level: Any
    tier: Any
    region_path: Any


def orderable_clause(dealer: Any) -> sa.ColumnElement[bool]:
    """SKUs the dealer may order: ACTIVE, and granted by at least one assortment rule
    whose every set condition matches the dealer and the SKU. ``dealer``: a loaded dealer row
    (with ``region_path``) or ``DealerTerms`` of SQL columns — one rule for both paths."""
    r = assortment_rules.c
    path = dealer.region_path
    if isinstance(path, str):
        path = sa.literal(path, sa.Text)
    granted = sa.exists().where(
        r.tenant_id == skus.c.tenant_id,
        sa.or_(r.dealer_level.is_(None), r.dealer_level == dealer.level),
        sa.or_(r.dealer_tier.is_(None), r.dealer_tier == dealer.tier),
        sa.or_(r.dealer_id.is_(None), r.dealer_id == dealer.id),
        # Region paths are "/3/17/": the rule's region is the dealer's or one above it.
        sa.or_(r.region_id.is_(None), path.like(sa.func.concat("%/", r.region_id, "/%"))),
        sa.or_(r.category_id.is_(None), r.category_id == skus.c.category_id),
        sa.or_(r.sku_id.is_(None), r.sku_id == skus.c.id),
    )
    return sa.and_(skus.c.status == "ACTIVE", granted)


async def sku_filter_clauses(db: Executor, p: Principal, f: SkuFilter) -> list[sa.ColumnElement[bool]] | None:
    """WHERE clauses for a SKU filter; None when it can match nothing (an unseen dealer)."""
    clauses: list[sa.ColumnElement[bool]] = [skus.c.tenant_id == p.tenant_id]
    clauses += search_clauses(f.search, skus.c.code, skus.c.name)
    clauses += equal_to((skus.c.category_id, f.category_id), (skus.c.status, f.status))
    if f.orderable_by is not None:
        dealer = (await org_service.dealers_by_ids(db, p, [f.orderable_by])).get(f.orderable_by)
        if dealer is None:
            return None
        clauses.append(orderable_clause(dealer))
    return clauses


async def skus_page(
    db: Executor, p: Principal, f: SkuFilter, first: int, after: str | None, want_total: bool
) -> Page | None:
    _require_catalog(p)
    clauses = await sku_filter_clauses(db, p, f)
    if clauses is None:
        return None
    return await page(db, sku_select().where(*clauses), SKU_ORDER, first, after, want_total)


async def categories_page(
    db: Executor, p: Principal, first: int, after: str | None, want_total: bool
) -> Page:
    _require_catalog(p)
    base = sa.select(categories).where(categories.c.tenant_id == p.tenant_id)
    return await page(db, base, CATEGORY_ORDER, first, after, want_total)


async def _by(
    db: Executor, p: Principal, tbl: sa.Table, col: str, keys: Sequence[Any], base: sa.Select[Any] | None = None
) -> dict[Any, Row[Any]]:
    if not access.catalog_readable(p):
        return {}
    stmt = (base if base is not None else sa.select(tbl)).where(tbl.c.tenant_id == p.tenant_id, tbl.c[col].in_(keys))
    return {getattr(r, col): r for r in (await db.execute(stmt)).all()}


async def skus_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    return await _by(db, p, skus, "id", ids, sku_select())


async def skus_by_codes(db: Executor, p: Principal, codes: Sequence[str]) -> dict[str, Row[Any]]:
    return await _by(db, p, skus, "code", codes, sku_select())


async def categories_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    return await _by(db, p, categories, "id", ids)


async def models_by_ids(db: Executor, p: Principal, ids: Sequence[int]) -> dict[int, Row[Any]]:
    return await _by(db, p, product_models, "id", ids)


# ---- writes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkuCreate:
    code: str
    name: str
    model_id: int
    unit: str = "PCS"
    moq: int = 1
    order_multiple: int = 1
    serial_tracked: bool = False
    status: str = "DRAFT"
    launch_date: date | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SkuChanges:
    name: str | None = None
    unit: str | None = None
    moq: int | None = None
    order_multiple: int | None = None
    serial_tracked: bool | None = None
    status: str | None = None
    launch_date: date | None = None
    attributes: dict[str, Any] | None = None


def _check_sku_fields(
    name: str | None, unit: str | None, moq: int | None, order_multiple: int | None,
    status: str | None, attributes: Any,
) -> None:
    if name is not None and not name.strip():
        raise DomainError(CatalogErrorCode.NAME_BLANK, "Name must not be blank.", ["name"])
    if unit is not None and not (1 <= len(unit.strip()) <= 16):
        raise DomainError(CatalogErrorCode.UNIT_INVALID, "Unit must be 1-16 characters.", ["unit"])
    if moq is not None and not 1 <= moq <= 1_000_000:
        raise DomainError(CatalogErrorCode.MOQ_INVALID, "MOQ must be between 1 and 1,000,000.", ["moq"])
    if order_multiple is not None and not 1 <= order_multiple <= 10_000:
        raise DomainError(
            CatalogErrorCode.ORDER_MULTIPLE_INVALID, "Order multiple must be between 1 and 10,000.", ["orderMultiple"]
        )
    if status is not None and status not in SKU_STATUSES:
        raise DomainError(CatalogErrorCode.STATUS_INVALID, f"Status must be one of {SKU_STATUSES}.", ["status"])
    if attributes is not None and not isinstance(attributes, dict):
        raise DomainError(CatalogErrorCode.ATTRIBUTES_INVALID, "Attributes must be a JSON object.", ["attributes"])


async def create_sku(conn: Executor, p: Principal, data: SkuCreate) -> int:
    if not access.may_write_catalog(p):
        raise Forbidden("Only HQ may change the catalog.")
    if not SKU_CODE_RE.match(data.code):
        raise DomainError(
            CatalogErrorCode.CODE_INVALID,
            "Code must be 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit.",
            ["code"],
        )
    _check_sku_fields(data.name, data.unit, data.moq, data.order_multiple, data.status, data.attributes)
    model = (await models_by_ids(conn, p, [data.model_id])).get(data.model_id)
    if model is None:
        raise DomainError(CatalogErrorCode.MODEL_NOT_FOUND, "Product model not found.", ["modelId"])
    exists = sa.select(sa.literal(1)).where(skus.c.tenant_id == p.tenant_id, skus.c.code == data.code)
    if (await conn.execute(exists)).first() is not None:
        raise DomainError(CatalogErrorCode.CODE_TAKEN, f"SKU code {data.code!r} is already taken.", ["code"])
    stmt = sa.insert(skus).values(
        tenant_id=p.tenant_id,
        code=data.code,
        name=data.name.strip(),
        model_id=model.id,
        category_id=model.category_id,  # a SKU is a variant of its model: same category
        attributes=data.attributes,
        unit=data.unit.strip(),
        moq=data.moq,
        order_multiple=data.order_multiple,
        serial_tracked=data.serial_tracked,
        status=data.status,
        launch_date=data.launch_date,
    )
    try:
        return int((await conn.execute(stmt.returning(skus.c.id))).scalar_one())
    except IntegrityError as exc:
        raise DomainError(CatalogErrorCode.CODE_TAKEN, f"SKU code {data.code!r} is already taken.", ["code"]) from exc


async def update_sku(conn: Executor, p: Principal, sku_id: int, changes: SkuChanges) -> None:
    if not access.may_write_catalog(p):
        raise Forbidden("Only HQ may change the catalog.")
    if (await skus_by_ids(conn, p, [sku_id])).get(sku_id) is None:
        raise DomainError(CatalogErrorCode.SKU_NOT_FOUND, "SKU not found.", ["id"])
    _check_sku_fields(
        changes.name, changes.unit, changes.moq, changes.order_multiple, changes.status, changes.attributes
    )
    values: dict[str, Any] = {
        k: v
        for k, v in {
            "name": changes.name.strip() if changes.name else None,
            "unit": changes.unit.strip() if changes.unit else None,
            "moq": changes.moq,
            "order_multiple": changes.order_multiple,
            "serial_tracked": changes.serial_tracked,
            "status": changes.status,
            "launch_date": changes.launch_date,
            "attributes": changes.attributes,
        }.items()
        if v is not None
    }
    if values:
        values["updated_at"] = sa.func.now()
        await conn.execute(sa.update(skus).where(skus.c.id == sku_id).values(**values))
