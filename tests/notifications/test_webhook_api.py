"""GraphQL: webhookSubscriptionCreate / Delete / webhookSubscriptions, with rights per role."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from notify_helpers import demo_ids
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.db import count_statements
from ymt_graph.notifications import service
from ymt_graph.org.identity import create_api_key

CREATE = """
mutation($i: WebhookSubscriptionCreateInput!) {
  webhookSubscriptionCreate(input: $i) {
    webhookSubscription { id url eventTypes active dealer { code } }
    secret
    userErrors { field code message }
  }
}
"""
DELETE = """
mutation($i: WebhookSubscriptionDeleteInput!) {
  webhookSubscriptionDelete(input: $i) { deletedWebhookSubscriptionId userErrors { field code } }
}
"""
LIST = """
{ webhookSubscriptions(first: 50) { totalCount edges { node { id url dealer { code }
    deliveries(first: 5) { totalCount edges { node { deliveryId eventType status attempts lastStatusCode lastError } } }
} } } }
"""
NODE = "query($id: ID!) { node(id: $id) { ... on WebhookSubscription { id url } } }"

ADMIN, D1, D2, STAFF, SUB1 = (
    "admin@demo.example", "dealer1@demo.example", "dealer2@demo.example", "staff1@demo.example",
    "subdealer1@demo.example",
)


async def _create(gql: Any, token: str, url: str, types: list[str], dealer_id: str | None = None) -> dict[str, Any]:
    i: dict[str, Any] = {"url": url, "eventTypes": types}
    if dealer_id:
        i["dealerId"] = dealer_id
    return (await gql(CREATE, {"i": i}, token=token))["data"]["webhookSubscriptionCreate"]


async def test_create_shows_the_secret_once_and_lists_without_it(gql: Any, tokens: dict[str, str]) -> None:
    made = await _create(gql, tokens[ADMIN], "http://127.0.0.1:8765/hook", ["order.submitted", "order.shipped"])
    assert made["userErrors"] == []
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 30
    sub = made["webhookSubscription"]
    assert sub["eventTypes"] == ["order.shipped", "order.submitted"] and sub["dealer"] is None and sub["active"]
    listed = (await gql(LIST, token=tokens[ADMIN]))["data"]["webhookSubscriptions"]
    assert sub["id"] in [e["node"]["id"] for e in listed["edges"]]
    # There is no field that reads the secret back.
    body = await gql("{ webhookSubscriptions { edges { node { secret } } } }", token=tokens[ADMIN],
                     expect_errors=True)
    assert body["errors"]


async def test_bad_inputs_are_user_errors(gql: Any, tokens: dict[str, str]) -> None:
    for url in ("ftp://example.com/x", "not a url", "http://", "https://user:pw@example.com/x", "javascript:alert(1)"):
        made = await _create(gql, tokens[ADMIN], url, ["*"])
        assert [e["code"] for e in made["userErrors"]] == ["URL_INVALID"], url
        assert made["secret"] is None and made["webhookSubscription"] is None
    made = await _create(gql, tokens[ADMIN], "https://erp.example.com/in", ["order.teleported"])
    assert [e["code"] for e in made["userErrors"]] == ["EVENT_TYPE_UNKNOWN"]
    made = await _create(gql, tokens[ADMIN], "https://erp.example.com/in", [])
    assert [e["code"] for e in made["userErrors"]] == ["EVENT_TYPES_EMPTY"]
    made = await _create(gql, tokens[ADMIN], "https://erp.example.com/in", ["*", "order.shipped"])
    assert made["webhookSubscription"]["eventTypes"] == ["*"]
    types = (await gql("{ webhookEventTypes }", token=tokens[ADMIN]))["data"]["webhookEventTypes"]
    assert "order.submitted" in types and "shipment.in_transit" in types


async def test_dealers_manage_only_their_own(gql: Any, tokens: dict[str, str], engine: AsyncEngine) -> None:
    d1 = await _create(gql, tokens[D1], "http://127.0.0.1:8765/d1", ["*"])
    assert d1["userErrors"] == [] and d1["webhookSubscription"]["dealer"]["code"] == "D0001"
    d1_id = d1["webhookSubscription"]["id"]

    # dealer2 cannot see it: not listed, node is null, delete answers NOT_FOUND.
    listed = (await gql(LIST, token=tokens[D2]))["data"]["webhookSubscriptions"]
    assert d1_id not in [e["node"]["id"] for e in listed["edges"]]
    assert all(e["node"]["dealer"]["code"] == "D0002" for e in listed["edges"])
    assert (await gql(NODE, {"id": d1_id}, token=tokens[D2]))["data"]["node"] is None
    deleted = (await gql(DELETE, {"i": {"id": d1_id}}, token=tokens[D2]))["data"]["webhookSubscriptionDelete"]
    assert [e["code"] for e in deleted["userErrors"]] == ["SUBSCRIPTION_NOT_FOUND"]
    # HQ sees it; dealer1 sees only its own.
    assert (await gql(NODE, {"id": d1_id}, token=tokens[ADMIN]))["data"]["node"]["id"] == d1_id
    mine = (await gql(LIST, token=tokens[D1]))["data"]["webhookSubscriptions"]["edges"]
    assert mine and all(e["node"]["dealer"]["code"] == "D0001" for e in mine)

    # A dealer may not create for another dealer (not even its sub-dealer); staff may not at all.
    dealers = (await gql('{ dealers(filter: {search: "D000"}, first: 50) { edges { node { id code } } } }',
                         token=tokens[ADMIN]))["data"]["dealers"]["edges"]
    by_code = {e["node"]["code"]: e["node"]["id"] for e in dealers}
    body = await gql(CREATE, {"i": {"url": "http://127.0.0.1/x", "eventTypes": ["*"], "dealerId": by_code["D0001-01"]}},
                     token=tokens[D1], expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    made = await _create(gql, tokens[D1], "http://127.0.0.1/x", ["*"], dealer_id=by_code["D0002"])
    assert [e["code"] for e in made["userErrors"]] == ["DEALER_NOT_FOUND"]
    body = await gql(CREATE, {"i": {"url": "http://127.0.0.1/x", "eventTypes": ["*"]}}, token=tokens[STAFF],
                     expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql(LIST, token=tokens[STAFF]))["data"]["webhookSubscriptions"]["totalCount"] == 0

    # HQ may create one for a dealer; that dealer then sees and may delete it.
    for_d2 = await _create(gql, tokens[ADMIN], "http://127.0.0.1/d2", ["order.shipped"], dealer_id=by_code["D0002"])
    d2_id = for_d2["webhookSubscription"]["id"]
    assert for_d2["webhookSubscription"]["dealer"]["code"] == "D0002"
    gone = (await gql(DELETE, {"i": {"id": d2_id}}, token=tokens[D2]))["data"]["webhookSubscriptionDelete"]
    assert gone == {"deletedWebhookSubscriptionId": d2_id, "userErrors": []}
    assert (await gql(NODE, {"id": d2_id}, token=tokens[ADMIN]))["data"]["node"] is None

    # dealer1 deletes its own.
    gone = (await gql(DELETE, {"i": {"id": d1_id}}, token=tokens[D1]))["data"]["webhookSubscriptionDelete"]
    assert gone["userErrors"] == []
    async with engine.connect() as conn:
        active = (await conn.execute(sa.select(service.subscriptions.c.active).where(
            service.subscriptions.c.url == "http://127.0.0.1:8765/d1"))).scalar_one()
    assert active is False


async def test_integration_keys_need_dealer_scopes(gql: Any, engine: AsyncEngine) -> None:
    demo = await demo_ids(engine)
    async with engine.begin() as conn:
        reader = await create_api_key(conn, demo.tenant_id, "r", ["dealers:read"])
        writer = await create_api_key(conn, demo.tenant_id, "w", ["dealers:read", "dealers:write"])
    body = await gql(CREATE, {"i": {"url": "http://127.0.0.1/k", "eventTypes": ["*"]}}, token=reader,
                     expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    made = await _create(gql, writer, "http://127.0.0.1/k", ["*"])
    assert made["userErrors"] == [] and made["secret"]
    assert (await gql(LIST, token=reader))["data"]["webhookSubscriptions"]["totalCount"] >= 1


async def test_delivery_log_is_listed_without_n_plus_one(
    gql: Any, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    demo = await demo_ids(engine)
    subs = [await _create(gql, tokens[ADMIN], f"http://127.0.0.1:9/log{i}", ["*"]) for i in range(3)]
    async with engine.begin() as conn:
        for i in range(4):
            await service.emit(conn, demo.tenant_id, "order.submitted", "Order", 500 + i, {}, ["hq"])
        while (await service.fan_out_batch(conn, 100)).events:
            pass
        # Make one of them look tried and failed.
        await conn.execute(sa.update(service.deliveries).where(service.deliveries.c.event_type == "order.submitted")
                           .values(status="FAILED", attempts=1, last_status_code=500, last_error="HTTP 500"))
    with count_statements(engine) as counter:
        listed = (await gql(LIST, token=tokens[ADMIN]))["data"]["webhookSubscriptions"]["edges"]
    by_id = {e["node"]["id"]: e["node"] for e in listed}
    for s in subs:
        log = by_id[s["webhookSubscription"]["id"]]["deliveries"]
        assert log["totalCount"] == 4 and len(log["edges"]) == 4
        assert log["edges"][0]["node"]["status"] == "FAILED" and log["edges"][0]["node"]["lastStatusCode"] == 500
        assert log["edges"][0]["node"]["deliveryId"]
    assert counter.count <= 4, counter.statements  # page, deliveries, dealers: not one per subscription
