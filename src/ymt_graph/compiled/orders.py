"""Compiled fields of the order and shipping centres: ``orders``, ``order``, ``Order``,
``OrderLine``, the timeline, ``Shipment`` with its lines and tracking events. Orders come from
``orders.service.scoped_orders`` (the buyer side, the seller, HQ, area sales); everything below
an order is read because the order was, as the resolver path's loaders do."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ymt_graph.compiled import sqljson
from ymt_graph.compiled.catalog import sku
from ymt_graph.compiled.core import (
    Compiler,
    Filter,
    Selection,
    columns,
    compiles,
    compiles_root,
    money,
    plain,
)
from ymt_graph.compiled.org import dealer, store, warehouse
from ymt_graph.compiled.people import user
from ymt_graph.compiled.sqljson import Expr
from ymt_graph.graph.ids import decode_gid
from ymt_graph.orders import service as orders_service
from ymt_graph.shipping import service as shipping_service

orders, order_lines, order_events = orders_service.orders, orders_service.order_lines, orders_service.order_events
shipments, shipment_lines = shipping_service.shipments, shipping_service.shipment_lines
shipment_events = shipping_service.shipment_events

columns(
    "Order",
    id=lambda c: sqljson.gid("Order", c),
    number=None, status=None, note=None, createdAt=sqljson.iso_datetime, updatedAt=sqljson.iso_datetime,
)
compiles("Order", "sellerIsHq")(lambda _c, src, _s: src.c.seller_dealer_id.is_(None))


def _order_money(column: str) -> Any:
    return lambda c, src, sel: money(c, sel, src.c[column], src.c.currency)


for _field, _col in (("subtotal", "subtotal"), ("rebateAmount", "rebate_amount"), ("total", "total")):
    compiles("Order", _field)(_order_money(_col))
compiles("Order", "buyer")(lambda c, src, sel: dealer(c, src, sel, "buyer_dealer_id"))
compiles("Order", "buyerStore")(lambda c, src, sel: store(c, src, sel, "buyer_store_id"))
compiles("Order", "seller")(lambda c, src, sel: dealer(c, src, sel, "seller_dealer_id"))
compiles("Order", "buyerWarehouse")(lambda c, src, sel: warehouse(c, src, sel, "buyer_warehouse_id"))
compiles("Order", "sellerWarehouse")(lambda c, src, sel: warehouse(c, src, sel, "seller_warehouse_id"))
compiles("Order", "submittedBy")(lambda c, src, sel: user(c, src, sel, "submitted_by_user_id"))

columns("OrderLine", id=lambda c: sqljson.gid("OrderLine", c), quantity=None)
compiles("OrderLine", "unitPrice")(lambda c, src, sel: money(c, sel, src.c.unit_price, src.c.currency))
compiles("OrderLine", "lineTotal")(lambda c, src, sel: money(c, sel, src.c.line_total, src.c.currency))
compiles("OrderLine", "priceListId")(lambda _c, src, _s: sqljson.gid("PriceList", src.c.price_list_id))

columns("OrderEvent", kind=None, status=None, details=None)
compiles("OrderEvent", "at")(lambda _c, src, _s: sqljson.iso_datetime(src.c.created_at))
compiles("OrderEvent", "bySystem")(
    lambda _c, src, _s: sa.and_(src.c.actor_user_id.is_(None), src.c.actor_api_key_id.is_(None)))
compiles("OrderEvent", "viaApiKey")(lambda _c, src, _s: src.c.actor_api_key_id.isnot(None))
compiles("OrderEvent", "actor")(lambda c, src, sel: user(c, src, sel, "actor_user_id"))

columns(
    "Shipment",
    id=lambda c: sqljson.gid("Shipment", c),
    number=None, status=None, carrier=None, trackingNumber=None, note=None,
    estimatedArrival=sqljson.iso_datetime, arrivalNoticeAt=sqljson.iso_datetime, deliveredAt=sqljson.iso_datetime,
)
compiles("Shipment", "shippedAt")(lambda _c, src, _s: sqljson.iso_datetime(src.c.created_at))
compiles("Shipment", "fromWarehouse")(lambda c, src, sel: warehouse(c, src, sel, "from_warehouse_id"))
compiles("Shipment", "toWarehouse")(lambda c, src, sel: warehouse(c, src, sel, "to_warehouse_id"))
compiles("Shipment", "shippedBy")(lambda c, src, sel: user(c, src, sel, "created_by_user_id"))
columns("ShipmentLine", quantity=None)
compiles("ShipmentLine", "orderLineId")(lambda _c, src, _s: sqljson.gid("OrderLine", src.c.order_line_id))
compiles("ShipmentLine", "serials")(lambda _c, src, _s: src.c.serials)
columns("ShipmentEvent", kind=None, location=None, note=None)
compiles("ShipmentEvent", "at")(lambda _c, src, _s: sqljson.iso_datetime(src.c.occurred_at))
compiles("ShipmentEvent", "recordedAt")(lambda _c, src, _s: sqljson.iso_datetime(src.c.created_at))
compiles("ShipmentEvent", "viaApiKey")(lambda _c, src, _s: src.c.actor_api_key_id.isnot(None))
compiles("ShipmentEvent", "actor")(lambda c, src, sel: user(c, src, sel, "actor_user_id"))


compiles("OrderLine", "sku")(lambda c, src, sel: sku(c, src, sel, "sku_id"))
compiles("ShipmentLine", "sku")(lambda c, src, sel: sku(c, src, sel, "sku_id"))


@compiles("Order", "lines")
def _lines(c: Compiler, src: Any, sel: Selection) -> Expr:
    stmt = sa.select(order_lines, src.c.currency.label("currency")).where(order_lines.c.order_id == src.c.id)
    return c.many("OrderLine", sel, stmt, ["id"])


@compiles("Order", "timeline")
def _timeline(c: Compiler, src: Any, sel: Selection) -> Expr:
    return c.many("OrderEvent", sel, sa.select(order_events).where(order_events.c.order_id == src.c.id), ["id"])


@compiles("Order", "shipments")
def _shipments(c: Compiler, src: Any, sel: Selection) -> Expr:
    return c.many("Shipment", sel, sa.select(shipments).where(shipments.c.order_id == src.c.id), ["id"])


def order(c: Compiler, sel: Selection, order_id: Any) -> Expr:
    """The order ``order_id`` names, if the principal sees it (the orders centre's scoped loader)."""
    return c.one("Order", sel, orders_service.scoped_orders(c.p).where(orders.c.id == order_id))


compiles("Shipment", "order")(lambda c, src, sel: order(c, sel, src.c.order_id))


@compiles("Shipment", "lines")
def _shipment_lines(c: Compiler, src: Any, sel: Selection) -> Expr:
    stmt = sa.select(shipment_lines).where(shipment_lines.c.shipment_id == src.c.id)
    return c.many("ShipmentLine", sel, stmt, ["id"])


@compiles("Shipment", "events")
def _shipment_events(c: Compiler, src: Any, sel: Selection) -> Expr:
    stmt = sa.select(shipment_events).where(shipment_events.c.shipment_id == src.c.id)
    return c.many("ShipmentEvent", sel, stmt, ["occurred_at", "id"])


# ---- roots -------------------------------------------------------------------------------------


def buyer_clause(f: Filter, table: Any) -> Expr:
    """A filter's ``buyerId`` (a Dealer or Store id) on ``table``'s buyer columns (``parse_buyer``:
    an id of any other type matches no buyer)."""
    return sa.or_(table.c.buyer_dealer_id == f.value("buyerId", _buyer_pk("Dealer"), sa.BigInteger),
                  table.c.buyer_store_id == f.value("buyerId", _buyer_pk("Store"), sa.BigInteger))


def _buyer_pk(kind: str) -> Any:
    """The pk a buyer id names if it is of ``kind`` (Dealer or Store), else 0: one statement
    serves both kinds of buyer id (the id's type is a value, not the statement's shape)."""

    def pk(gid: Any) -> int:
        decoded = decode_gid(gid) if gid else None
        return decoded[1] if decoded is not None and decoded[0] == kind else 0

    return pk


@compiles_root("orders")
def _orders(c: Compiler, sel: Selection) -> Expr:
    f, o = Filter(c, sel), orders.c
    when = sa.DateTime(timezone=True)
    clauses = [*f.equal(("status", o.status)), *f.search(o.number)]
    if f.has("buyerId"):
        clauses.append(buyer_clause(f, orders))
    if f.has("sellerId"):
        clauses.append(o.seller_dealer_id == f.pk("sellerId", "Dealer"))
    if f.has("from"):
        clauses.append(o.created_at >= f.value("from", plain, when))
    if f.has("to"):
        clauses.append(o.created_at < f.value("to", plain, when))
    base = orders_service.scoped_orders(c.p).where(*clauses)
    return c.paged("Query", "Order", sel, base, orders_service.ORDER_ORDER)


@compiles_root("order")
def _order(c: Compiler, sel: Selection) -> Expr:
    return c.by_id_or_key("Order", sel, orders_service.scoped_orders(c.p), orders, key="number",
                          normalize=lambda n: str(n).strip().upper())
