"""Receipt-discrepancy claims: numbered per day, one per short or damaged line, announced to both
sides, seen exactly by those who see the order, listed with filters."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from ship_helpers import ADMIN, DEALER1, DEALER2, SALES, SUB1, Ship, gid, place_order
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.shipping import service

CLAIMS = """query($f: ClaimFilter, $first: Int, $after: String) { claims(filter: $f, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { id number kind status quantity shortQuantity damagedQuantity serials note
                 order { number buyer { code } } sku { code } createdBy { email } } } } }"""


async def _received_with_discrepancies(
    engine: AsyncEngine, ship: Ship, key: str, buyer: str, short: int, damaged: int
) -> tuple[int, list[str]]:
    """An order of two SKUs shipped in full and received with ``short`` units of the first and
    ``damaged`` of the second missing; (order id, claim numbers)."""
    a, b = ship.plain[0], ship.plain[1]
    qa, qb = ship.qty[a], ship.qty[b]
    order = await place_order(engine, ship, {a: qa, b: qb}, key, buyer=buyer)
    buyer_p = ship.p(DEALER1 if buyer == "D0001" else SUB1)
    async with engine.begin() as c:
        await service.create_shipment(c, ship.p(ADMIN), service.ShipmentRequest(
            order.id, "顺丰", (service.ShipLine(None, a, qa), service.ShipLine(None, b, qb))))
        await service.receive(c, buyer_p, service.ReceiveRequest(order.id, (
            service.ReceiveLine(None, a, qa - short, short=short, note="少一箱" if short else None),
            service.ReceiveLine(None, b, qb - damaged, damaged=damaged),
        )))
        numbers = list((await c.execute(sa.text(
            "SELECT number FROM claims WHERE order_id = :o ORDER BY id"), {"o": order.id})).scalars())
    return order.id, numbers


@pytest.fixture(scope="module")
async def claimed(ship: Ship, engine: AsyncEngine) -> dict[str, tuple[int, list[str]]]:
    return {
        "both": await _received_with_discrepancies(engine, ship, "claims-1", "D0001", 1, 1),
        "short": await _received_with_discrepancies(engine, ship, "claims-2", "D0001", 1, 0),
        "none": await _received_with_discrepancies(engine, ship, "claims-3", "D0001", 0, 0),
        "sub": await _received_with_discrepancies(engine, ship, "claims-4", "D0001-01", 0, 1),
    }


async def test_one_claim_per_line_short_or_damaged_numbered_per_day(
    claimed: dict[str, tuple[int, list[str]]], engine: AsyncEngine, ship: Ship
) -> None:
    assert [len(claimed[k][1]) for k in ("both", "short", "none", "sub")] == [2, 1, 0, 1]
    numbers = [n for k in ("both", "short", "sub") for n in claimed[k][1]]
    assert all(re.fullmatch(r"CL\d{8}-\d{6}", n) for n in numbers)
    assert [int(n[-6:]) for n in numbers] == list(range(1, len(numbers) + 1))
    async with engine.connect() as c:
        rows = (await c.execute(sa.text(
            "SELECT kind, status, quantity, short_quantity, damaged_quantity, note, receipt_id IS NOT NULL AS r "
            "FROM claims WHERE order_id = :o ORDER BY id"), {"o": claimed["both"][0]})).all()
        events = (await c.execute(sa.text(
            "SELECT subject_type, topics, payload FROM outbox_events WHERE event_type = 'claim.opened' "
            "AND payload->>'orderId' = :o ORDER BY id"), {"o": gid("Order", claimed["sub"][0])})).all()
    assert [tuple(r) for r in rows] == [("RECEIPT_DISCREPANCY", "OPEN", 1, 1, 0, "少一箱", True),
                                        ("RECEIPT_DISCREPANCY", "OPEN", 1, 0, 1, None, True)]
    [event] = events
    assert event.subject_type == "Claim" and event.payload["claimNumber"] == claimed["sub"][1][0]
    # The sub-dealer bought from D0001: both sides and HQ hear of it.
    assert set(event.topics) == {"hq", f"buyer:dealer:{ship.dealers['D0001-01'].id}",
                                 f"seller:dealer:{ship.dealers['D0001'].id}"}


async def test_claims_are_seen_with_their_order(
    gql: Any, tokens: dict[str, str], claimed: dict[str, tuple[int, list[str]]]
) -> None:
    def numbers(body: dict[str, Any]) -> list[str]:
        return [e["node"]["number"] for e in body["data"]["claims"]["edges"]]

    everything = [n for k in ("sub", "short", "both") for n in reversed(claimed[k][1])]
    assert numbers(await gql(CLAIMS, {}, token=tokens[ADMIN])) == everything  # newest first
    assert numbers(await gql(CLAIMS, {}, token=tokens[DEALER1])) == everything
    assert numbers(await gql(CLAIMS, {}, token=tokens[SALES])) == everything
    assert numbers(await gql(CLAIMS, {}, token=tokens[SUB1])) == claimed["sub"][1]
    assert numbers(await gql(CLAIMS, {}, token=tokens[DEALER2])) == []
    # node(id) follows the same rule.
    claim_id = (await gql(CLAIMS, {}, token=tokens[ADMIN]))["data"]["claims"]["edges"][0]["node"]["id"]
    node = "query($id: ID!) { node(id: $id) { ... on Claim { number kind } } }"
    assert (await gql(node, {"id": claim_id}, token=tokens[SUB1]))["data"]["node"]["number"] == claimed["sub"][1][0]
    assert (await gql(node, {"id": claim_id}, token=tokens[DEALER2]))["data"]["node"] is None


async def test_claims_filter_and_page(
    gql: Any, tokens: dict[str, str], claimed: dict[str, tuple[int, list[str]]]
) -> None:
    t = tokens[ADMIN]
    by_order = await gql(CLAIMS, {"f": {"orderId": gid("Order", claimed["both"][0])}}, token=t)
    node = by_order["data"]["claims"]["edges"][0]["node"]
    assert by_order["data"]["claims"]["totalCount"] == 2
    assert node["order"]["buyer"]["code"] == "D0001" and node["createdBy"]["email"] == DEALER1
    assert (await gql(CLAIMS, {"f": {"status": "OPEN", "kind": "RECEIPT_DISCREPANCY"}}, token=t))[
        "data"]["claims"]["totalCount"] == 4
    assert (await gql(CLAIMS, {"f": {"status": "RESOLVED"}}, token=t))["data"]["claims"]["totalCount"] == 0
    assert (await gql(CLAIMS, {"f": {"kind": "WARRANTY"}}, token=t))["data"]["claims"]["totalCount"] == 0
    first = (await gql(CLAIMS, {"first": 3}, token=t))["data"]["claims"]
    assert first["pageInfo"]["hasNextPage"] and first["totalCount"] == 4
    rest = (await gql(CLAIMS, {"first": 3, "after": first["pageInfo"]["endCursor"]}, token=t))["data"]["claims"]
    seen = [e["node"]["number"] for e in first["edges"] + rest["edges"]]
    assert len(rest["edges"]) == 1 and len(set(seen)) == 4
