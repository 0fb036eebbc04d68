"""balance == sum(ledger), under random sequences of every kind of stock operation.

Runs through the service functions against the real database. A model of the two
levels predicts each operation's outcome (done, or refused with which code); after
each one the levels must equal the model and the sums of their movements, and the
database's CHECK constraints must hold (they would have raised otherwise).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine
from stock_helpers import Places, ledger_sums, level

from ymt_graph.errors import DomainError
from ymt_graph.inventory import service
from ymt_graph.inventory.service import InventoryErrorCode as Code
from ymt_graph.inventory.service import Ref

_refs = itertools.count(1)

OPS = st.one_of(
    st.tuples(st.just("adjust"), st.integers(-6, 8).filter(bool)),
    st.tuples(st.just("reserve"), st.integers(1, 6)),
    st.tuples(st.just("release"), st.integers(1, 4)),
    st.tuples(st.just("transfer"), st.integers(1, 6)),
    st.tuples(st.just("receive_transfer"), st.integers(0, 3)),
    st.tuples(st.just("ship"), st.integers(1, 4)),
    st.tuples(st.just("receive_inbound"), st.integers(1, 4)),
)


@dataclass
class Model:
    a: list[int]  # source: on hand, reserved, inbound
    b: list[int]  # destination
    transfers: list[tuple[int, int]] = field(default_factory=list)  # (id, quantity) not yet received


async def _run(engine: AsyncEngine, places: Places, m: Model, op: str, q: int) -> Code | None:
    """Apply one operation; return the refusal's code, or None when it was done."""
    t, p, sku = places.tenant_id, places.admin(), places.plain
    a, b = places.wh["W-D0001"], places.wh["W-S00001"]
    ref = Ref("Order", next(_refs))
    try:
        async with engine.begin() as conn:
            if op == "adjust":
                await service.adjust(conn, p, a, sku, q, "property test")
            elif op == "reserve":
                await service.reserve(conn, t, a, [(sku, q)], ref)
            elif op == "release":
                await service.release(conn, t, a, [(sku, q)], ref)
            elif op == "transfer":
                tid = await service.transfer(conn, p, a, b, [(sku, q)])
            elif op == "receive_transfer":
                if not m.transfers:
                    return None
                tid, q = m.transfers[q % len(m.transfers)]
                await service.receive_transfer(conn, p, tid)
            elif op == "ship":
                await service.ship_reserved(conn, t, a, b, [(sku, q)], ref)
            elif op == "receive_inbound":
                await service.receive_inbound(conn, t, b, [(sku, q)], ref)
    except DomainError as exc:
        return exc.code  # type: ignore[return-value]
    if op == "transfer":
        m.transfers.append((tid, q))
    if op == "receive_transfer":
        m.transfers = [x for x in m.transfers if x[0] != tid]
    return None


def _predict(m: Model, op: str, q: int) -> Code | None:
    """The model's answer; applies the operation to the model when it should succeed."""
    on_hand, reserved, _ = m.a
    if op == "adjust":
        if on_hand + q < reserved:
            return Code.INSUFFICIENT_STOCK
        m.a[0] += q
    elif op == "reserve":
        if on_hand - reserved < q:
            return Code.INSUFFICIENT_STOCK
        m.a[1] += q
    elif op == "release":
        if reserved < q:
            return Code.RESERVATION_EXCEEDED
        m.a[1] -= q
    elif op == "transfer":
        if on_hand - reserved < q:
            return Code.INSUFFICIENT_STOCK
        m.a[0] -= q
        m.b[2] += q
    elif op == "receive_transfer":
        if not m.transfers:
            return None
        q = m.transfers[q % len(m.transfers)][1]
        if m.b[2] < q:
            return Code.INBOUND_EXCEEDED
        m.b[2] -= q
        m.b[0] += q
    elif op == "ship":
        if reserved < q:
            return Code.RESERVATION_EXCEEDED
        m.a[0] -= q
        m.a[1] -= q
        m.b[2] += q
    elif op == "receive_inbound":
        if m.b[2] < q:
            return Code.INBOUND_EXCEEDED
        m.b[2] -= q
        m.b[0] += q
    return None


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, min_size=1, max_size=8))
async def test_levels_equal_sum_of_movements(engine: AsyncEngine, places: Places, ops: list[Any]) -> None:
    a, b, sku = places.wh["W-D0001"], places.wh["W-S00001"], places.plain
    m = Model(a=list(await level(engine, a, sku)), b=list(await level(engine, b, sku)))
    for op, q in ops:
        expected = _predict(m, op, q)
        got = await _run(engine, places, m, op, q)
        assert got == expected, (op, q, m)
        for wh, want in ((a, m.a), (b, m.b)):
            now = await level(engine, wh, sku)
            assert now == tuple(want), (op, q, wh)
            assert await ledger_sums(engine, wh, sku) == now, (op, q, wh)
            on_hand, reserved, inbound = now
            assert on_hand >= 0 and 0 <= reserved <= on_hand and inbound >= 0


async def test_whole_ledger_balances_after_the_property_run(engine: AsyncEngine, places: Places) -> None:
    async with engine.connect() as conn:
        check = await service.check_ledger(conn, places.tenant_id)
        bad = (await conn.execute(sa.text(
            "SELECT count(*) FROM stock_levels WHERE on_hand < 0 OR reserved < 0 OR reserved > on_hand OR inbound < 0"
        ))).scalar_one()
    assert check.levels > 900 and check.mismatched == [] and bad == 0
