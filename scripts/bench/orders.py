"""Order submit benchmark: N buyers ordering through GraphQL against the same transaction in raw SQL.

How to run (from the repository root):

1. Start the API on a seeded database, e.g. ``scripts/dev`` or
   ``DATABASE_URL=postgresql://... ymt-graph serve --port 8000`` (the demo login
   ``admin@demo.example`` / ``demo-password``, HQ_ADMIN, must exist in tenant ``demo``).
2. With the SAME ``DATABASE_URL`` in the environment, run::

       .venv/bin/python scripts/bench/orders.py                    # 16 buyers, 10 s per target
       .venv/bin/python scripts/bench/orders.py --buyers 8 --duration 15 --json

What one order is. GraphQL: ``cartLinesAdd`` of 5 lines, then ``orderSubmit`` (new
idempotency key) for the same buyer, as the HQ admin (who may order for any dealer); the
latency of the pair is the order's latency, the submit's own latency is shown too. Raw: ONE
asyncpg transaction doing what ``orders.service.submit`` writes: lock the buyer's cart row,
check the idempotency key, resolve the 5 prices with the project's price rule
(``pricing.service.ranked_offers``, compiled once by SQLAlchemy at start, as
``raw_server.py`` does for the catalog), read the buyer's credit limit and outstanding
total, reserve each line with a conditional ``UPDATE stock_levels … WHERE on_hand -
reserved >= qty`` in SKU order, append the 5 RESERVATION movements, bump the per-day
order counter, insert the order, its 5 lines, its 2 timeline events and its 2 outbox
events. The raw path has no cart lines to read or delete (the lines are given), and the
buyer's seller warehouse (and its own, for ``orders.buyer_warehouse_id``) is looked up once
at start; everything else is per order.

Buyers: the first ``--buyers`` ACTIVE level-1 dealers by code (each buys from an HQ
warehouse; one buyer's submits serialise on its cart lock, so every worker has its own
buyer). Lines: a pool of at most ``--sku-pool`` SKUs that every chosen buyer may order and
has a price for at ``--quantity`` units (ACTIVE, not serial-tracked, the quantity meeting
MOQ and order multiple); order k of buyer i takes 5 consecutive pool SKUs from (5·i + k),
so orders overlap on stock rows without all fighting over the same five. Buyers sharing a
seller warehouse do share its stock rows (and every order the per-day counter row): the
output shows orders per buyer by warehouse, so a queue on hot rows is visible. Both
targets use the same buyers, lines and quantity; they run one after the other.

Before any load: stock at the buyers' HQ warehouses is topped up through
``inventory.service.adjust`` (an ADJUSTMENT movement per level, so the ledger stays
consistent) until each (warehouse, pool SKU) has at least ``--stock`` available;
left-over lines in the buyers' carts (an interrupted run) are removed through
``cartLinesRemove``; one order is made each way for the same buyer and lines and the two
are compared in the database (lines, prices, totals, movements, events, outbox); the run
aborts if they differ.

Nothing is cleaned up: orders, reservations, movements and outbox events accumulate (the
output says how many this run added); orders beyond a buyer's credit limit are
PENDING_APPROVAL, as the service decides. Failed orders (``userErrors``, GraphQL errors,
HTTP or database errors) are counted per code and shown with samples, never dropped.

CPU per order, where the processes can be found: the API server process (GraphQL) or this
process (raw, which also runs the load loop), and the PostgreSQL backends serving that
side. Both sides share the machine; compare the two rows of one run, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
import uuid
from array import array
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson
import sqlalchemy as sa
from asyncpg.pool import PoolConnectionProxy
from catalog import (
    Abort,
    CpuMeter,
    PidFinder,
    backend_finder,
    fmt,
    graphql_body,
    graphql_client,
    listening_pid,
    local_db_port,
    login,
    tree_finder,
)
from loadgen import ProtocolError, _read_response, check_loopback, encode_request
from raw_server import _sql_text, plain_dsn, principal_of
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ymt_graph import access
from ymt_graph.access import Principal, Role
from ymt_graph.catalog import service as catalog_service
from ymt_graph.db import SESSION_SETTINGS, async_url
from ymt_graph.graph.ids import decode_gid, encode_gid
from ymt_graph.inventory import service as inventory_service
from ymt_graph.notifications.service import payload_json
from ymt_graph.orders import service as order_service
from ymt_graph.pricing import service as pricing

LINES_PER_ORDER = 5
Conn = asyncpg.Connection | PoolConnectionProxy  # a connection, or one lent by the pool
GRACE = 10.0  # seconds after the window for orders in flight before they are cancelled
RAW_APP_NAME = "ymt-bench-orders-raw"  # how the raw side's PostgreSQL backends are found
NOTE = "bench: scripts/bench/orders.py"
CENT = Decimal("0.01")

err = Console(stderr=True)

ADD = """mutation BenchCartAdd($i: CartLinesAddInput!) {
  cartLinesAdd(input: $i) { cart { hasProblems } userErrors { code field message } } }"""
SUBMIT = """mutation BenchOrderSubmit($i: OrderSubmitInput!) {
  orderSubmit(input: $i) { order { id number status } userErrors { code field message } } }"""
REMOVE = """mutation BenchCartRemove($i: CartLinesRemoveInput!) {
  cartLinesRemove(input: $i) { userErrors { code message } } }"""
CART = "query BenchCart($b: ID!) { cart(buyerId: $b) { lines { sku { id code } quantity } } }"


# --- the plan: buyers, SKUs, stock ---------------------------------------------------------


@dataclass(frozen=True)
class Buyer:
    index: int
    id: int
    code: str
    seller_dealer_id: int | None  # None: HQ
    warehouse_id: int  # the seller's warehouse, where stock is reserved
    warehouse_code: str
    own_warehouse_id: int | None  # the buyer's warehouse, where the goods go (orders.buyer_warehouse_id)

    @property
    def gid(self) -> str:
        return encode_gid("Dealer", self.id)


@dataclass(frozen=True)
class PoolSku:
    id: int
    code: str

    @property
    def gid(self) -> str:
        return encode_gid("Sku", self.id)


@dataclass
class Plan:
    tenant_id: int
    principal: Principal
    currency: str
    quantity: int
    buyers: list[Buyer]
    skus: list[PoolSku]
    prepared: list[str] = field(default_factory=list)  # what was done to the data, for the output

    def lines(self, buyer: Buyer, k: int) -> list[PoolSku]:
        """Order ``k`` of ``buyer``: 5 consecutive pool SKUs (distinct: the pool has ≥ 5)."""
        n = len(self.skus)
        start = (LINES_PER_ORDER * buyer.index + k) % n
        return [self.skus[(start + j) % n] for j in range(LINES_PER_ORDER)]


# Orders name the buyer's own warehouse (migration 0007); the raw insert follows the schema in use.
BUYER_WAREHOUSE = "buyer_warehouse_id" in order_service.orders.c


def _buyer_ref(dealer_id: int) -> Any:
    """The service's buyer argument: a BuyerRef (dealers and stores buy), or before that, the dealer id."""
    ref = getattr(order_service, "BuyerRef", None)
    return ref.dealer(dealer_id) if ref is not None else dealer_id


def _engine(dsn: str) -> Any:
    return create_async_engine(async_url(dsn), poolclass=NullPool, connect_args={"server_settings": {"jit": "off"}})


async def prepare(dsn: str, args: argparse.Namespace) -> Plan:
    """Choose buyers and SKUs and top stock up, through the project's services (one transaction)."""
    p = await principal_of(dsn, args.tenant, args.email)
    if p is None:
        raise Abort(f"no user {args.email!r} in tenant {args.tenant!r} (seed the database first)")
    if p.role is not Role.HQ_ADMIN:
        raise Abort(f"{args.email} is {p.role.value}: the benchmark orders for many dealers, it needs HQ_ADMIN")
    q = args.quantity
    engine = _engine(dsn)
    try:
        async with engine.begin() as conn:
            tenants = order_service.tenants
            currency = (await conn.execute(sa.select(tenants.c.currency).where(tenants.c.id == p.tenant_id))).scalar()
            d = order_service.dealers
            rows = (
                await conn.execute(
                    order_service._dealer_select()
                    .where(d.c.tenant_id == p.tenant_id, d.c.parent_id.is_(None), d.c.status == "ACTIVE")
                    .order_by(d.c.code)
                )
            ).all()
            if len(rows) < args.buyers:
                raise Abort(
                    f"--buyers {args.buyers}: tenant {args.tenant!r} has only {len(rows)} active level-1 dealers "
                    "(use fewer buyers, or seed --scale full)"
                )
            rows = rows[: args.buyers]
            wh = order_service.warehouses
            buyers: list[Buyer] = []
            for i, row in enumerate(rows):
                party = await order_service.party(conn, p, _buyer_ref(row.id))
                if party.seller_warehouse_id is None:
                    raise Abort(f"buyer {row.code} has no seller warehouse")
                own = getattr(party, "buyer_warehouse_id", None)
                if own is None and BUYER_WAREHOUSE:
                    raise Abort(f"buyer {row.code} has no warehouse of its own to receive goods in")
                code = (await conn.execute(sa.select(wh.c.code).where(wh.c.id == party.seller_warehouse_id))).scalar()
                buyers.append(Buyer(i, row.id, row.code, party.seller_dealer_id, party.seller_warehouse_id, code, own))

            # SKUs every buyer may order and has a price for at quantity q.
            s = catalog_service.skus
            candidates = (
                s.c.tenant_id == p.tenant_id,
                s.c.status == "ACTIVE",
                s.c.serial_tracked.is_(False),
                s.c.moq <= q,
                sa.literal(q) % s.c.order_multiple == 0,
            )
            pool: list[int] | None = None
            codes: dict[int, str] = {}
            for row in rows:
                found = (
                    await conn.execute(
                        sa.select(s.c.id, s.c.code)
                        .where(*candidates, catalog_service.orderable_clause(row))
                        .order_by(s.c.code)
                    )
                ).all()
                codes.update({r.id: r.code for r in found})
                priced = await pricing.resolve_prices(conn, p, row.id, [r.id for r in found], q)
                ids = [r.id for r in found if r.id in priced]
                pool = ids if pool is None else [i for i in pool if i in priced]
            chosen = (pool or [])[: args.sku_pool]
            if len(chosen) < LINES_PER_ORDER:
                raise Abort(
                    f"only {len(chosen)} SKUs are orderable and priced at quantity {q} for all {args.buyers} buyers "
                    f"(need {LINES_PER_ORDER}); try another --quantity or fewer --buyers"
                )
            skus = [PoolSku(i, codes[i]) for i in chosen]

            # Top stock up so the run cannot run out: ADJUSTMENT movements, ledger kept.
            lv = inventory_service.stock_levels
            added: dict[str, tuple[int, int]] = {}
            for wid, wcode in sorted({(b.warehouse_id, b.warehouse_code) for b in buyers}):
                have = dict(
                    (
                        await conn.execute(
                            sa.select(lv.c.sku_id, lv.c.on_hand - lv.c.reserved).where(
                                lv.c.tenant_id == p.tenant_id, lv.c.warehouse_id == wid, lv.c.sku_id.in_(chosen)
                            )
                        )
                    ).all()
                )
                levels = units = 0
                for sku in chosen:
                    missing = args.stock - int(have.get(sku, 0))
                    levels += missing > 0
                    while missing > 0:
                        delta = min(missing, inventory_service.MAX_QUANTITY)
                        await inventory_service.adjust(conn, p, wid, sku, delta, "bench: scripts/bench/orders.py")
                        missing -= delta
                        units += delta
                added[wcode] = (levels, units)
    finally:
        await engine.dispose()
    plan = Plan(p.tenant_id, p, currency, q, buyers, skus)
    by_wh = Counter(b.warehouse_code for b in buyers)
    plan.prepared.append(
        f"buyers: {len(buyers)} level-1 dealers {buyers[0].code}…{buyers[-1].code} "
        f"(seller warehouses: {', '.join(f'{w} ×{n}' for w, n in sorted(by_wh.items()))})"
    )
    plan.prepared.append(f"lines: 5 of {len(skus)} pool SKUs × {q} units per order ({', '.join(k.code for k in skus)})")
    for wcode, (levels, units) in sorted(added.items()):
        plan.prepared.append(
            f"stock at {wcode}: each of the {len(skus)} pool SKUs has ≥ {args.stock:,} available; "
            + (f"{levels} level(s) topped up, +{units:,} units (ADJUSTMENT movements)" if units else "no top-up needed")
        )
    return plan


# --- GraphQL ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One order attempt: ok, or a failure code (userError code, GraphQL/HTTP/DB error)."""

    ok: bool
    order_id: int | None = None
    status: str | None = None
    code: str | None = None
    message: str = ""
    submit_ms: float | None = None  # GraphQL: the orderSubmit request alone
    transport: bool = False  # a connection failed (back off a little before the next)


class KeepAlive:
    """One keep-alive HTTP/1.1 connection (loadgen's framing), reopened when needed."""

    def __init__(self, host: str, port: int, path: str, headers: dict[str, str]) -> None:
        check_loopback(host)
        self.host, self.port, self.path, self.headers = host, port, path, headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            self.writer.write(encode_request(self.host, self.port, self.path, body, self.headers))
            status, data, keep_alive, _ = await _read_response(self.reader)
        except BaseException:
            self.close()
            raise
        if not keep_alive:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


TRANSPORT_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError, ValueError)


def _payload(status: int, body: bytes, name: str) -> tuple[dict[str, Any] | None, Outcome | None]:
    """The mutation's payload, or the failure to count."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, Outcome(False, code=f"HTTP {status}", message=body[:200].decode("utf-8", "replace"))
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if status != 200 or errors or not isinstance(doc.get("data"), dict):
        first = (errors or [{}])[0]
        code = (first.get("extensions") or {}).get("code") or f"HTTP {status}"
        return None, Outcome(False, code=f"{name}: {code}", message=str(first.get("message", body[:200]))[:300])
    payload = doc["data"][name]
    if payload.get("userErrors"):
        ue = payload["userErrors"][0]
        return None, Outcome(False, code=f"{name}: {ue['code']}", message=f"{ue.get('field')}: {ue.get('message')}")
    return payload, None


class GraphQLOrders:
    """cartLinesAdd + orderSubmit per order, one keep-alive connection per buyer."""

    def __init__(self, plan: Plan, host: str, port: int, path: str, token: str, run_id: str) -> None:
        self.plan, self.host, self.port, self.path = plan, host, port, path
        self.headers = {"Authorization": f"Bearer {token}"}
        self.run_id = run_id

    @asynccontextmanager
    async def session(self, buyer: Buyer) -> AsyncIterator[Callable[[int], Awaitable[Outcome]]]:
        http = KeepAlive(self.host, self.port, self.path, self.headers)
        try:
            yield lambda k: self.order(http, buyer, k)
        finally:
            http.close()

    async def order(self, http: KeepAlive, buyer: Buyer, k: int, key: str | None = None) -> Outcome:
        lines = self.plan.lines(buyer, k)
        add = graphql_body(
            ADD,
            {"i": {"buyerId": buyer.gid, "lines": [{"skuId": s.gid, "quantity": self.plan.quantity} for s in lines]}},
            "BenchCartAdd",
        )
        key = key or f"bench-{self.run_id}-g{buyer.index}-{k}"
        submit = graphql_body(
            SUBMIT, {"i": {"buyerId": buyer.gid, "idempotencyKey": key, "note": NOTE}}, "BenchOrderSubmit"
        )
        try:
            status, body = await http.post(add)
            _, failed = _payload(status, body, "cartLinesAdd")
            if failed is not None:
                return failed
            t1 = time.perf_counter()
            status, body = await http.post(submit)
            submit_ms = (time.perf_counter() - t1) * 1000.0
            payload, failed = _payload(status, body, "orderSubmit")
            if failed is not None:
                # The cart keeps its lines after a failed submit; empty it so the next order is 5 lines again.
                await self._clear(http, buyer, lines)
                return failed
        except TRANSPORT_ERRORS as exc:
            return Outcome(False, code=type(exc).__name__, message=str(exc)[:300], transport=True)
        assert payload is not None
        order = payload["order"]
        decoded = decode_gid(order["id"])
        return Outcome(True, decoded[1] if decoded else None, order["status"], submit_ms=submit_ms)

    async def _clear(self, http: KeepAlive, buyer: Buyer, lines: Sequence[PoolSku]) -> None:
        body = graphql_body(REMOVE, {"i": {"buyerId": buyer.gid, "skuIds": [s.gid for s in lines]}})
        await http.post(body)  # best effort: LINE_NOT_IN_CART when the lines were never added


async def empty_carts(gql: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]], plan: Plan) -> list[str]:
    """Remove lines left in the buyers' carts (an interrupted run): they would join the next order."""
    notes = []
    for b in plan.buyers:
        cart = (await gql(CART, {"b": b.gid}))["cart"]
        if cart is None:
            raise Abort(f"cart({b.code}) is null: {b.code} is not a buyer this user orders for")
        if cart["lines"]:
            ids = [ln["sku"]["id"] for ln in cart["lines"]]
            done = (await gql(REMOVE, {"i": {"buyerId": b.gid, "skuIds": ids}}))["cartLinesRemove"]
            if done["userErrors"]:
                raise Abort(f"could not empty the cart of {b.code}: {done['userErrors']}")
            notes.append(f"cart of {b.code}: removed {len(ids)} left-over line(s) before the run")
    return notes


# --- raw SQL ------------------------------------------------------------------------------


class RawFailure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


LOCK_CART = "select id from carts where tenant_id = $1 and buyer_dealer_id = $2 for update"
ENSURE_CART = (
    "insert into carts (tenant_id, buyer_dealer_id) values ($1, $2) on conflict on constraint uq_carts_buyer do nothing"
)
BY_KEY = "select id from orders where tenant_id = $1 and buyer_dealer_id = $2 and idempotency_key = $3"
HEAD = f"""
select nextval('orders_id_seq') as order_id, d.credit_limit,
       (select coalesce(sum(o.total), 0) from orders o
         where o.tenant_id = $1 and o.buyer_dealer_id = $2
           and o.status in ({", ".join(f"'{s}'" for s in order_service.OUTSTANDING)})) as outstanding
from dealers d where d.tenant_id = $1 and d.id = $2"""
RESERVE = """
update stock_levels set reserved = reserved + $4, updated_at = now()
where tenant_id = $1 and warehouse_id = $2 and sku_id = $3 and on_hand - reserved >= $4
returning id"""
MOVEMENTS = """
insert into stock_movements (tenant_id, warehouse_id, sku_id, kind, on_hand_delta, reserved_delta, inbound_delta,
                             ref_type, ref_id, actor_user_id)
select $1, $2, u.sku_id, 'RESERVATION', 0, u.qty, 0, 'Order', $5, $6
from unnest($3::bigint[], $4::int[]) as u(sku_id, qty)"""
COUNTER = """
insert into order_counters (tenant_id, day, last) values ($1, current_date, 1)
on conflict (tenant_id, day) do update set last = order_counters.last + 1
returning day, last"""
ORDER = f"""
insert into orders (id, tenant_id, number, buyer_dealer_id, seller_dealer_id, seller_warehouse_id, status,
                    subtotal, rebate_amount, total, currency, note, idempotency_key, submitted_by_user_id
                    {", buyer_warehouse_id" if BUYER_WAREHOUSE else ""})
values ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12, $13 {", $14" if BUYER_WAREHOUSE else ""})"""
ORDER_LINES = """
insert into order_lines (tenant_id, order_id, sku_id, quantity, unit_price, price_list_id, line_total)
select $1, $2, u.* from unnest($3::bigint[], $4::int[], $5::numeric[], $6::bigint[], $7::numeric[])
  as u(sku_id, quantity, unit_price, price_list_id, line_total)"""
ORDER_EVENTS = """
insert into order_events (tenant_id, order_id, kind, status, actor_user_id, details)
values ($1, $2, 'SUBMITTED', 'SUBMITTED', $3, $4::jsonb), ($1, $2, $5, $5, null, $6::jsonb)"""
OUTBOX = """
insert into outbox_events (tenant_id, event_type, subject_type, subject_id, topics, payload)
values ($1, 'order.submitted', 'Order', $2, $3::varchar[], $4::jsonb),
       ($1, $5, 'Order', $2, $3::varchar[], $6::jsonb)"""


def price_sql(p: Principal) -> str:
    """THE price rule (``ranked_offers``) with the principal's price rights, compiled once:
    rank 1 per SKU, absent when the winner is a list the principal may not see (as
    ``resolve_prices`` answers). $1 buyer id, $2 SKU ids, $3 quantity."""
    buyer: Any = sa.literal_column("$1::bigint")
    sku_ids: Any = sa.select(sa.func.unnest(sa.literal_column("$2::bigint[]")))
    quantity: Any = sa.literal_column("$3::int")
    offer = pricing.ranked_offers(p.tenant_id, buyer, sku_ids, quantity).subquery("offer")
    pl = pricing.price_lists
    return _sql_text(
        sa.select(offer.c.sku_id, offer.c.amount, offer.c.list_id)
        .select_from(offer.join(pl, pl.c.id == offer.c.list_id))
        .where(
            offer.c.rank == 1,
            access.dealer_price_scope(p, offer.c.buyer_id, pricing.dealers, pricing.regions),
            access.price_list_scope(p, pl, pricing.dealers, pricing.regions),
        )
    )


class RawOrders:
    """The submit transaction in plain asyncpg, one connection per buyer."""

    def __init__(self, plan: Plan, pool: asyncpg.Pool, run_id: str) -> None:
        self.plan, self.pool, self.run_id = plan, pool, run_id
        self.prices = price_sql(plan.principal)

    @asynccontextmanager
    async def session(self, buyer: Buyer) -> AsyncIterator[Callable[[int], Awaitable[Outcome]]]:
        async with self.pool.acquire() as conn:
            yield lambda k: self.order(conn, buyer, k)

    async def order(self, conn: Conn, buyer: Buyer, k: int, key: str | None = None) -> Outcome:
        key = key or f"bench-{self.run_id}-r{buyer.index}-{k}"
        try:
            order_id, status = await self.submit(conn, buyer, self.plan.lines(buyer, k), key)
        except RawFailure as exc:
            return Outcome(False, code=exc.code, message=str(exc))
        except asyncpg.PostgresError as exc:
            return Outcome(False, code=type(exc).__name__, message=str(exc)[:300])
        except (OSError, asyncpg.InterfaceError) as exc:
            return Outcome(False, code=type(exc).__name__, message=str(exc)[:300], transport=True)
        return Outcome(True, order_id, status)

    async def submit(self, conn: Conn, buyer: Buyer, lines: Sequence[PoolSku], key: str) -> tuple[int, str]:
        plan, t, q = self.plan, self.plan.tenant_id, self.plan.quantity
        user_id = plan.principal.user_id
        sku_ids = sorted(s.id for s in lines)
        async with conn.transaction():
            # One buyer's submits one after the other (the service's cart lock).
            if await conn.fetchval(LOCK_CART, t, buyer.id) is None:
                await conn.execute(ENSURE_CART, t, buyer.id)
                await conn.fetchval(LOCK_CART, t, buyer.id)
            existing = await conn.fetchval(BY_KEY, t, buyer.id, key)
            if existing is not None:
                return int(existing), "REPLAYED"
            prices = {r["sku_id"]: r for r in await conn.fetch(self.prices, buyer.id, sku_ids, q)}
            missing = [s.code for s in lines if s.id not in prices]
            if missing:
                raise RawFailure("NO_PRICE", f"no price for {', '.join(missing)}")
            head = await conn.fetchrow(HEAD, t, buyer.id)
            if head is None:
                raise RawFailure("BUYER_NOT_FOUND", f"no dealer {buyer.id}")
            order_id = int(head["order_id"])
            units = [Decimal(prices[s]["amount"]) for s in sku_ids]
            totals = [(u * q).quantize(CENT) for u in units]
            total = sum(totals, Decimal("0"))
            # Reserve in SKU order (concurrent orders lock levels in the same order: no deadlock).
            for sku in sku_ids:
                if await conn.fetchval(RESERVE, t, buyer.warehouse_id, sku, q) is None:
                    raise RawFailure("INSUFFICIENT_STOCK", f"SKU {sku} at {buyer.warehouse_code}: {q} wanted")
            await conn.execute(MOVEMENTS, t, buyer.warehouse_id, sku_ids, [q] * len(sku_ids), order_id, user_id)
            limit, outstanding = Decimal(head["credit_limit"]), Decimal(head["outstanding"])
            status = "APPROVED" if outstanding + total <= limit else "PENDING_APPROVAL"
            counter = await conn.fetchrow(COUNTER, t)
            assert counter is not None  # an upsert returns its row
            day, n = counter["day"], counter["last"]
            number = f"SO{day:%Y%m%d}-{n:06d}"
            await conn.execute(
                ORDER,
                order_id,
                t,
                number,
                buyer.id,
                buyer.seller_dealer_id,
                buyer.warehouse_id,
                status,
                total,
                total,
                plan.currency,
                NOTE,
                key,
                user_id,
                *([buyer.own_warehouse_id] if BUYER_WAREHOUSE else []),
            )
            await conn.execute(
                ORDER_LINES,
                t,
                order_id,
                sku_ids,
                [q] * len(sku_ids),
                units,
                [prices[s]["list_id"] for s in sku_ids],
                totals,
            )
            credit = {"creditLimit": str(limit), "outstanding": str(outstanding), "orderTotal": str(total)}
            await conn.execute(
                ORDER_EVENTS,
                t,
                order_id,
                user_id,
                orjson.dumps({"total": str(total), "lines": len(sku_ids), "note": NOTE}).decode(),
                status,
                orjson.dumps({"automatic": True, **credit}).decode(),
            )
            topics = ["hq", f"buyer:dealer:{buyer.id}"]
            if buyer.seller_dealer_id is not None:
                topics.append(f"seller:dealer:{buyer.seller_dealer_id}")
            payload = {"orderNumber": number, "status": status, "total": total, "currency": plan.currency}
            await conn.execute(
                OUTBOX,
                t,
                order_id,
                sorted(set(topics)),
                payload_json(payload).decode(),
                "order.approved" if status == "APPROVED" else "order.pending_approval",
                payload_json({**payload, **credit}).decode(),
            )
        return order_id, status


async def open_raw_pool(dsn: str, size: int) -> asyncpg.Pool:
    # raw_server.open_pool's settings (JIT off, big statement cache), named so its backends can be found.
    return await asyncpg.create_pool(
        plain_dsn(dsn),
        min_size=size,
        max_size=size,
        statement_cache_size=1024,
        server_settings={**SESSION_SETTINGS, "application_name": RAW_APP_NAME},
    )


def app_name_finder(conn: asyncpg.Connection, name: str) -> PidFinder:
    async def find() -> list[int]:
        rows = await conn.fetch(
            "select pid from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()", name
        )
        return [r["pid"] for r in rows]

    return find


# --- checking that both paths write the same -----------------------------------------------


# Columns that differ between any two orders by nature: keys, numbers, times.
_UNSHAPED = {
    "id",
    "order_id",
    "number",
    "idempotency_key",
    "ref_id",
    "subject_id",
    "created_at",
    "updated_at",
    "published_at",
}


async def order_shape(conn: Conn, order_id: int) -> dict[str, Any]:
    """Every row an order wrote (all columns: a column the service starts filling shows up
    here), without what differs by nature (ids, number, key, times) or depends on the buyer's
    outstanding total when it was placed (the status and the credit figures)."""

    async def rows(sql: str) -> list[dict[str, Any]]:
        out = []
        for r in await conn.fetch(sql, order_id):
            d = {k: str(v) if isinstance(v, Decimal) else v for k, v in dict(r).items() if k not in _UNSHAPED}
            for k in ("details", "payload"):
                if k in d:
                    d[k] = orjson.loads(d[k])
            out.append(d)
        return out

    order = await rows("select * from orders where id = $1")
    for o in order:
        o["status"] = "<status>"
    events = await rows("select * from order_events where order_id = $1 order by id")
    for e in events[1:]:  # the automatic decision: APPROVED or PENDING_APPROVAL, with the credit figures
        e["kind"] = e["status"] = "<status>"
        e["details"] = sorted(e["details"])
    outbox = await rows("select * from outbox_events where subject_type = 'Order' and subject_id = $1 order by id")
    for i, e in enumerate(outbox):
        if i > 0:
            e["event_type"] = "<status>"
        e["payload"] = {k: v if k in ("total", "currency") else "…" for k, v in sorted(e["payload"].items())}
    return {
        "order": order,
        "lines": await rows("select * from order_lines where order_id = $1 order by sku_id"),
        "events": events,
        "movements": await rows(
            "select * from stock_movements where ref_type = 'Order' and ref_id = $1 order by sku_id"
        ),
        "outbox": outbox,
    }


async def verify_same_order(plan: Plan, gql_orders: GraphQLOrders, raw: RawOrders, run_id: str) -> str:
    """One order each way, same buyer and lines; abort when what they wrote differs."""
    buyer = plan.buyers[0]
    http = KeepAlive(gql_orders.host, gql_orders.port, gql_orders.path, gql_orders.headers)
    try:
        g = await gql_orders.order(http, buyer, 0, key=f"bench-{run_id}-verify-g")
    finally:
        http.close()
    if not g.ok or g.order_id is None:
        raise Abort(f"the first GraphQL order failed: {g.code}: {g.message}")
    async with raw.pool.acquire() as conn:
        r = await raw.order(conn, buyer, 0, key=f"bench-{run_id}-verify-r")
        if not r.ok or r.order_id is None:
            raise Abort(f"the first raw order failed: {r.code}: {r.message}")
        want, got = await order_shape(conn, g.order_id), await order_shape(conn, r.order_id)
    if want != got:
        err.print(f"[bold red]GraphQL order {g.order_id} and raw order {r.order_id} differ:[/]")
        for part in want:
            if want[part] != got[part]:
                err.print(f"  {part}:\n    graphql {want[part]}\n    raw     {got[part]}", markup=False)
        raise Abort("the raw transaction does not write what orderSubmit writes", 1)
    return (
        f"verified: GraphQL order {g.order_id} ({g.status}) and raw order {r.order_id} ({r.status}) for "
        f"{buyer.code} wrote the same lines, prices, totals, movements, events and outbox events"
    )


# --- the load loop ------------------------------------------------------------------------


Session = Callable[[Buyer], AbstractAsyncContextManager[Callable[[int], Awaitable[Outcome]]]]


@dataclass
class OrdersResult:
    target: str
    duration: float
    orders: int = 0  # succeeded, completed inside the measured window
    errors: int = 0  # failed, completed inside the window (timeouts included)
    attempts: int = 0  # every completed attempt, warmup included (for CPU per order)
    timeouts: int = 0
    latencies_ms: array[float] = field(default_factory=lambda: array("d"), repr=False)
    submit_ms: array[float] = field(default_factory=lambda: array("d"), repr=False)
    error_codes: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    per_buyer: Counter[str] = field(default_factory=Counter)  # orders in the window, by buyer code
    order_ids: list[int] = field(default_factory=list, repr=False)  # every order made, warmup included
    app_cpu: float | None = None  # seconds: the API server (graphql) or this process (raw)
    db_cpu: float | None = None  # seconds: the PostgreSQL backends serving that side

    @property
    def rate(self) -> float:
        return self.orders / self.duration if self.duration > 0 else 0.0

    @staticmethod
    def percentile(values: array[float], p: float) -> float:
        if not values:
            return math.nan
        ordered = sorted(values)
        return ordered[max(1, math.ceil(p / 100.0 * len(ordered))) - 1]

    def p(self, pct: float, submit: bool = False) -> float:
        return self.percentile(self.submit_ms if submit else self.latencies_ms, pct)

    def per_order_ms(self, cpu: float | None) -> float | None:
        made = len(self.order_ids)
        return None if cpu is None or not made else cpu / made * 1000.0

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "orders": self.orders,
            "errors": self.errors,
            "duration_s": self.duration,
            "orders_per_s": round(self.rate, 1),
            "p50_ms": _round(self.p(50)),
            "p90_ms": _round(self.p(90)),
            "p99_ms": _round(self.p(99)),
            "attempts_total": self.attempts,
            "orders_made_total": len(self.order_ids),
            "timeouts": self.timeouts,
            "statuses": dict(self.statuses),
            "orders_per_buyer": dict(sorted(self.per_buyer.items())),
            "error_codes": dict(self.error_codes),
            "error_samples": self.error_samples,
            "app_cpu_ms_per_order": _round(self.per_order_ms(self.app_cpu), 3),
            "db_cpu_ms_per_order": _round(self.per_order_ms(self.db_cpu), 3),
        }
        if self.submit_ms:
            out |= {"submit_p50_ms": _round(self.p(50, True)), "submit_p99_ms": _round(self.p(99, True))}
        return out


def _round(x: float | None, nd: int = 2) -> float | None:
    return None if x is None or math.isnan(x) else round(x, nd)


async def closed_loop(
    target: str, buyers: Sequence[Buyer], session: Session, warmup: float, duration: float
) -> OrdersResult:
    """Each buyer orders back to back for ``warmup + duration`` s; orders completing in the
    last ``duration`` s are measured (throughput, latency, errors)."""
    res = OrdersResult(target, duration)
    now = time.perf_counter
    start = now()
    warm_end = start + warmup
    end = warm_end + duration

    async def worker(buyer: Buyer) -> None:
        async with session(buyer) as order:
            k = 1  # order 0 of each buyer is the verification order's lines
            while True:
                t0 = now()
                if t0 >= end:
                    return
                out = await order(k)
                k += 1
                t1 = now()
                res.attempts += 1
                if out.ok and out.order_id is not None:
                    res.order_ids.append(out.order_id)
                if warm_end <= t1 <= end:
                    if out.ok:
                        res.orders += 1
                        res.latencies_ms.append((t1 - t0) * 1000.0)
                        if out.submit_ms is not None:
                            res.submit_ms.append(out.submit_ms)
                        res.statuses[out.status or "?"] += 1
                        res.per_buyer[buyer.code] += 1
                    else:
                        res.errors += 1
                        res.error_codes[out.code or "?"] += 1
                        if len(res.error_samples) < 5:
                            res.error_samples.append(f"{buyer.code}: {out.code}: {out.message}")
                if out.transport:
                    await asyncio.sleep(0.02)  # a refused connection fails at once: don't spin

    tasks = [asyncio.create_task(worker(b)) for b in buyers]
    _, pending = await asyncio.wait(tasks, timeout=warmup + duration + GRACE)
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending)
    res.timeouts = len(pending)
    res.errors += len(pending)
    if pending:
        res.error_codes["timeout"] += len(pending)
    for t in tasks:
        exc = None if t.cancelled() else t.exception()
        if exc is not None:
            raise exc  # a bug in the client, not a failed order
    return res


async def measure(
    target: str, buyers: Sequence[Buyer], session: Session, args: argparse.Namespace, app: CpuMeter, db: CpuMeter
) -> OrdersResult:
    err.print(f"  {target}: {len(buyers)} buyers, {args.warmup:g} s warmup + {args.duration:g} s")
    a0, d0 = await app.sample(), await db.sample()
    res = await closed_loop(target, buyers, session, args.warmup, args.duration)
    a1, d1 = await app.sample(), await db.sample()
    res.app_cpu, res.db_cpu = CpuMeter.delta(a0, a1), CpuMeter.delta(d0, d1)
    return res


class SelfCpu(CpuMeter):
    """This process (the raw side's application: the transaction code and the load loop)."""

    def __init__(self) -> None:
        super().__init__(None)

    async def sample(self) -> dict[int, float] | None:
        return {os.getpid(): time.process_time()}


# --- report -------------------------------------------------------------------------------


@dataclass
class Report:
    graphql: OrdersResult
    raw: OrdersResult
    notes: list[str]
    min_available_after: int | None = None
    warehouse_of: dict[str, str] = field(default_factory=dict)  # buyer code -> seller warehouse code

    @property
    def ratio(self) -> float | None:
        return self.graphql.rate / self.raw.rate if self.raw.rate else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b and not math.isnan(a) and not math.isnan(b) else None


def _spread(per_buyer: Counter[str], warehouse_of: dict[str, str]) -> str:
    """Orders per buyer, by seller warehouse: buyers sharing a warehouse share its hot stock rows."""
    parts = []
    for wh in sorted(set(warehouse_of.values())):
        counts = sorted((per_buyer.get(code, 0), code) for code, w in warehouse_of.items() if w == wh)
        (lo, lo_code), (hi, hi_code) = counts[0], counts[-1]
        total = sum(n for n, _ in counts)
        parts.append(f"{len(counts)} buying at {wh}: {total} orders, {lo} ({lo_code}) to {hi} ({hi_code}) each")
    return "; ".join(parts)


def render(report: Report, args: argparse.Namespace, console: Console) -> None:
    g, r = report.graphql, report.raw
    table = Table(
        title=f"orders of {LINES_PER_ORDER} lines × {args.quantity}  buyers={args.buyers}  "
        f"{args.duration:g} s per target (+{args.warmup:g} s warmup)"
    )
    for col in ("target", "orders/s", "p50 ms", "p90 ms", "p99 ms", "errors", "app CPU ms/order", "PG CPU ms/order"):
        table.add_column(col, justify="left" if col == "target" else "right")

    def errors(res: OrdersResult) -> str:
        return f"[red]{res.errors}[/]" if res.errors else "0"

    table.add_row(
        "graphql (cartLinesAdd + orderSubmit)",
        fmt(g.rate),
        fmt(g.p(50), ".2f"),
        fmt(g.p(90), ".2f"),
        fmt(g.p(99), ".2f"),
        errors(g),
        fmt(g.per_order_ms(g.app_cpu), ".2f"),
        fmt(g.per_order_ms(g.db_cpu), ".2f"),
    )
    table.add_row(
        "  of which orderSubmit",
        "",
        fmt(g.p(50, True), ".2f"),
        fmt(g.p(90, True), ".2f"),
        fmt(g.p(99, True), ".2f"),
        "",
        "",
        "",
    )
    table.add_row(
        "raw SQL transaction",
        fmt(r.rate),
        fmt(r.p(50), ".2f"),
        fmt(r.p(90), ".2f"),
        fmt(r.p(99), ".2f"),
        errors(r),
        fmt(r.per_order_ms(r.app_cpu), ".2f"),
        fmt(r.per_order_ms(r.db_cpu), ".2f"),
        end_section=True,
    )
    table.add_row(
        "[bold]graphql/raw[/]",
        f"[bold]{fmt(report.ratio, '.3f')}[/]",
        fmt(_ratio(g.p(50), r.p(50)), ".2f"),
        fmt(_ratio(g.p(90), r.p(90)), ".2f"),
        fmt(_ratio(g.p(99), r.p(99)), ".2f"),
        "",
        fmt(_ratio(g.per_order_ms(g.app_cpu), r.per_order_ms(r.app_cpu)), ".2f"),
        fmt(_ratio(g.per_order_ms(g.db_cpu), r.per_order_ms(r.db_cpu)), ".2f"),
    )
    table.add_row(
        "[bold]submit/raw[/]",
        "",
        fmt(_ratio(g.p(50, True), r.p(50)), ".2f"),
        fmt(_ratio(g.p(90, True), r.p(90)), ".2f"),
        fmt(_ratio(g.p(99, True), r.p(99)), ".2f"),
        "",
        "",
        "",
    )
    console.print(table)
    for res in (g, r):
        statuses = ", ".join(f"{k} {v}" for k, v in res.statuses.most_common()) or "-"
        console.print(
            f"{res.target}: {res.orders} orders in the window ({statuses}); {len(res.order_ids)} made in all "
            f"(warmup included); {res.errors} failed"
            + (f": {', '.join(f'{k} ×{v}' for k, v in res.error_codes.most_common())}" if res.errors else ""),
            markup=False,
            highlight=False,
        )
        for sample in res.error_samples:
            console.print(f"  error: {sample}", markup=False, highlight=False)
        if res.per_buyer:
            console.print(f"  per buyer: {_spread(res.per_buyer, report.warehouse_of)}", markup=False, highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)


# --- the run ------------------------------------------------------------------------------


async def run(args: argparse.Namespace, database_url: str) -> Report:
    url = urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        raise Abort(f"--url must be http://host:port/path, got {args.url!r}")
    host, port, path = url.hostname, url.port or 80, url.path or "/graphql"
    try:
        check_loopback(host)
    except ValueError as exc:
        raise Abort(str(exc)) from exc
    if not 1 <= args.buyers <= 256:
        raise Abort("--buyers must be between 1 and 256")
    if not 0 < args.duration <= 600 or not 0 <= args.warmup <= 600:
        raise Abort("--duration must be in (0, 600] s and --warmup in [0, 600] s")

    token = await login(host, port, path, args.email, args.password)
    err.print(f"logged in as {args.email}")
    plan = await prepare(database_url, args)
    for line in plan.prepared:
        err.print(f"prepared: {line}")
    gql = graphql_client(host, port, path, {"Authorization": f"Bearer {token}"})
    notes = [*plan.prepared, *await empty_carts(gql, plan)]

    run_id = uuid.uuid4().hex[:8]
    server_pid = listening_pid(port)
    db_port = local_db_port(database_url)
    if server_pid is None:
        notes.append(f"no process found listening on port {port}: the API's CPU is not measured")
    if db_port is None:
        notes.append("database is not on 127.0.0.1 over TCP: the API's PostgreSQL CPU is not measured")
    stats = await asyncpg.connect(plain_dsn(database_url))
    pool = await open_raw_pool(database_url, len(plan.buyers))
    try:
        graphql = GraphQLOrders(plan, host, port, path, token, run_id)
        raw = RawOrders(plan, pool, run_id)
        notes.append(await verify_same_order(plan, graphql, raw, run_id))
        err.print(notes[-1])
        g = await measure(
            "graphql",
            plan.buyers,
            graphql.session,
            args,
            CpuMeter(tree_finder(server_pid)),
            CpuMeter(backend_finder(stats, server_pid, db_port) if db_port else None),
        )
        await asyncio.sleep(args.pause)  # let the first target's tail drain before the next
        r = await measure(
            "raw", plan.buyers, raw.session, args, SelfCpu(), CpuMeter(app_name_finder(stats, RAW_APP_NAME))
        )
        left = await stats.fetchval(
            "select min(on_hand - reserved) from stock_levels where tenant_id = $1 and warehouse_id = any($2) "
            "and sku_id = any($3)",
            plan.tenant_id,
            sorted({b.warehouse_id for b in plan.buyers}),
            [s.id for s in plan.skus],
        )
    finally:
        await pool.close()
        await stats.close()
    made = len(g.order_ids) + len(r.order_ids) + 2
    notes.append(
        f"orders accumulate: this run added {made} orders ({len(g.order_ids)} GraphQL, {len(r.order_ids)} raw, "
        f"2 verification), each with 5 lines, 5 RESERVATION movements, 2 timeline and 2 outbox events; "
        f"nothing is cleaned up (least available stock left on a pool level: {left})"
    )
    return Report(g, r, notes, left, {b.code: b.warehouse_code for b in plan.buyers})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8000/graphql", help="GraphQL endpoint (loopback only)")
    ap.add_argument("--buyers", type=int, default=16, help="concurrent buyers (level-1 dealers), one per worker")
    ap.add_argument("--duration", type=float, default=10.0, help="measured seconds per target")
    ap.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between the two targets")
    ap.add_argument("--quantity", type=int, default=10, help="units per order line (must meet MOQ and multiple)")
    ap.add_argument(
        "--sku-pool", type=int, default=30, help="at most this many SKUs for the lines to rotate through (≥ 5)"
    )
    ap.add_argument("--stock", type=int, default=200_000, help="available units per (warehouse, SKU) before the run")
    ap.add_argument("--email", default="admin@demo.example", help="an HQ_ADMIN login")
    ap.add_argument("--password", default="demo-password")
    ap.add_argument("--tenant", default="demo")
    ap.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        err.print("[bold red]abort:[/] set DATABASE_URL (postgresql://...) to the API's database")
        return 2
    runner: Callable[[Any], Report] = asyncio.run
    try:
        import uvloop  # the client's own overhead matters on 2 cores

        runner = uvloop.run
    except ImportError:
        pass
    try:
        report = runner(run(args, database_url))
    except Abort as exc:
        err.print(f"[bold red]abort:[/] {exc}")
        return exc.code
    except KeyboardInterrupt:
        return 130
    if args.json:
        doc = {
            "config": {
                k: getattr(args, k)
                for k in ("url", "buyers", "duration", "warmup", "quantity", "sku_pool", "stock", "email")
            },
            "ratio_graphql_over_raw": _round(report.ratio, 4),
            "graphql": report.graphql.summary(),
            "raw": report.raw.summary(),
            "notes": report.notes,
        }
        print(json.dumps(doc, indent=2))
        render(report, args, err if sys.stderr.isatty() else Console(stderr=True, width=150))
    else:
        render(report, args, Console() if sys.stdout.isatty() else Console(width=150))
    return 0


if __name__ == "__main__":
    sys.exit(main())
