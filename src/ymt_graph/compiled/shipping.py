"""Compiled fields of shipping and after-sales: the ``shipments`` and ``shipment`` roots
(``Shipment`` itself, its lines and events compile in ``orders``), ``Order.receipt`` with its
lines, ``Order.claims``, ``Claim`` and the ``claims`` root.

Shipments and claims the roots list come from ``shipping.service.shipment_select`` and
``aftersales.service.claim_select``: exactly those of the orders the principal sees. A receipt
and an order's claims are read because their order was, as the resolver path's loaders do."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from ymt_graph.aftersales import service as aftersales_service
from ymt_graph.compiled import sqljson
from ymt_graph.compiled.catalog import sku
from ymt_graph.compiled.core import Compiler, Filter, Selection, columns, compiles, compiles_root
from ymt_graph.compiled.orders import buyer_clause, order
from ymt_graph.compiled.org import warehouse
from ymt_graph.compiled.people import user
from ymt_graph.compiled.sqljson import Expr
from ymt_graph.shipping import service as shipping_service

shipments = shipping_service.shipments
receipts, receipt_lines = shipping_service.receipts, shipping_service.receipt_lines
claims = aftersales_service.claims

# ---- receipts ----------------------------------------------------------------------------------

columns("Receipt", note=None)
compiles("Receipt", "receivedAt")(lambda _c, src, _s: sqljson.iso_datetime(src.c.created_at))
compiles("Receipt", "warehouse")(lambda c, src, sel: warehouse(c, src, sel, "warehouse_id"))
compiles("Receipt", "receivedBy")(lambda c, src, sel: user(c, src, sel, "received_by_user_id"))
columns("ReceiptLine", shipped=None, received=None, short=None, damaged=None, serials=None, damagedSerials=None,
        note=None)
compiles("ReceiptLine", "orderLineId")(lambda _c, src, _s: sqljson.gid("OrderLine", src.c.order_line_id))
compiles("ReceiptLine", "sku")(lambda c, src, sel: sku(c, src, sel, "sku_id"))


@compiles("Receipt", "lines")
def _receipt_lines(c: Compiler, src: Any, sel: Selection) -> Expr:
    stmt = sa.select(receipt_lines).where(receipt_lines.c.receipt_id == src.c.id)
    return c.many("ReceiptLine", sel, stmt, ["id"])


@compiles("Order", "receipt")
def _receipt(c: Compiler, src: Any, sel: Selection) -> Expr:
    """``shipping.types.receipt_of_order``: the order's receipt (one per order), null until received."""
    return c.one("Receipt", sel, sa.select(receipts).where(receipts.c.order_id == src.c.id))


# ---- claims ------------------------------------------------------------------------------------

columns(
    "Claim",
    id=lambda c: sqljson.gid("Claim", c),
    number=None, kind=None, status=None, quantity=None, shortQuantity=None, damagedQuantity=None, serials=None,
    note=None, createdAt=sqljson.iso_datetime, updatedAt=sqljson.iso_datetime,
)
compiles("Claim", "orderLineId")(lambda _c, src, _s: sqljson.gid("OrderLine", src.c.order_line_id))
compiles("Claim", "order")(lambda c, src, sel: order(c, sel, src.c.order_id))
compiles("Claim", "sku")(lambda c, src, sel: sku(c, src, sel, "sku_id"))
compiles("Claim", "createdBy")(lambda c, src, sel: user(c, src, sel, "created_by_user_id"))


@compiles("Claim", "missingSerials")
def _missing_serials(_c: Compiler, src: Any, _sel: Selection) -> Expr:
    """``details.missingSerials`` (a JSON list of strings), ``[]`` when the details have none."""
    found = src.c.details.op("->", return_type=JSONB)(sa.literal_column("'missingSerials'"))
    return sa.func.coalesce(found, sa.literal_column("'[]'::jsonb", JSONB), type_=JSONB)


@compiles("Order", "claims")
def _order_claims(c: Compiler, src: Any, sel: Selection) -> Expr:
    """``aftersales.types.claims_of_order``: the order's claims, oldest first."""
    return c.many("Claim", sel, sa.select(claims).where(claims.c.order_id == src.c.id), ["id"])


# ---- roots -------------------------------------------------------------------------------------


@compiles_root("shipments")
def _shipments(c: Compiler, sel: Selection) -> Expr:
    """``shipping.service.shipments_page``: the buyer narrows the visible orders; order, status
    and tracking number the shipments."""
    f, s = Filter(c, sel), shipments.c
    narrowed = [buyer_clause(f, shipping_service.orders)] if f.has("buyerId") else []
    clauses = f.equal(("status", s.status), ("trackingNumber", s.tracking_number))
    if f.has("orderId"):
        clauses.append(s.order_id == f.pk("orderId", "Order"))
    base = shipping_service.shipment_select(c.p, *narrowed).where(*clauses)
    return c.paged("Query", "Shipment", sel, base, shipping_service.SHIPMENT_ORDER)


@compiles_root("shipment")
def _shipment(c: Compiler, sel: Selection) -> Expr:
    return c.by_id_or_key("Shipment", sel, shipping_service.shipment_select(c.p), shipments, key="number",
                          normalize=lambda n: str(n).strip().upper())


@compiles_root("claims")
def _claims(c: Compiler, sel: Selection) -> Expr:
    """``aftersales.service.claims_page``."""
    f, cl = Filter(c, sel), claims.c
    clauses = f.equal(("status", cl.status), ("kind", cl.kind))
    if f.has("orderId"):
        clauses.append(cl.order_id == f.pk("orderId", "Order"))
    base = aftersales_service.claim_select(c.p).where(*clauses)
    return c.paged("Query", "Claim", sel, base, aftersales_service.CLAIM_ORDER)
