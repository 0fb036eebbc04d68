"""Query cost and rate limits (API.md "Limits and cost"): the cost model as a pure function, then over
HTTP: the single-query maximum, the per-principal leaky bucket (429 + Retry-After), its refill,
``extensions.cost`` on both execution paths, failing open without Redis, and the older limits."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, parse
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.api import cost as cost_module
from ymt_graph.api.cost import CostCache, operation_cost
from ymt_graph.api.schema import build_schema
from ymt_graph.db import count_statements
from ymt_graph.graph.context import Context
from ymt_graph.settings import Settings

ADMIN, DEALER1, STORE1 = "admin@demo.example", "dealer1@demo.example", "store1@demo.example"
GRAPHQL_RESPONSE = "application/graphql-response+json"

SKUS5 = "{ skus(first: 5) { edges { node { code } } } }"  # 2 + 5 × 1
# The heaviest storefront read: a 250-SKU page with everything a dealer's catalog page shows.
STOREFRONT = """query Storefront($d: ID!, $w: ID!) {
  skus(first: 250, filter: {orderableBy: $d}) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
    id code name moq orderMultiple category { name } model { name } guideRetailPrice { amount currency }
    price(dealerId: $d, quantity: 10) { amount { amount currency } list { code kind } break { minQuantity } why }
    priceLimit { floor { amount } ceiling { amount } }
    available(warehouseId: $w)
    stockLevel(warehouseId: $w) { onHand reserved available warehouse { code } } } } } }"""
# Per SKU: node 1 + category 1 + model 1 + guideRetailPrice 1 + price (1 + amount 1 + list 1 + break 1)
# + priceLimit (1 + floor 1 + ceiling 1) + stockLevel (1 + warehouse 1) = 13; 2 + 250 × 13.
STOREFRONT_COST = 3252
# 250 dealers × 250 stores each: 2 + 250 × (1 + 2 + 250 × 1).
TOO_BIG = "{ dealers(first: 250) { edges { node { stores(first: 250) { edges { node { code } } } } } } }"
TOO_BIG_COST = 63252


MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]  # tests/api/conftest.py's make_client

@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def price(schema: GraphQLSchema, query: str, variables: dict[str, Any] | None = None,
          operation_name: str | None = None) -> int:
    return operation_cost(schema, parse(query), variables, operation_name)


# -- the cost model (pure) -------------------------------------------------------------------------


def test_scalars_objects_and_connections(schema: GraphQLSchema) -> None:
    assert price(schema, "{ __typename }") == 0
    assert price(schema, "{ me { role } }") == 1  # an object, scalars free
    assert price(schema, "{ me { role user { email } tenant { name } dealer { code } } }") == 4
    assert price(schema, SKUS5) == 7
    # pageInfo, totalCount and cursors are in the connection's 2.
    assert price(schema, "{ skus(first: 5) { totalCount pageInfo { endCursor } edges { cursor } } }") == 2
    # Nested connections multiply: 2 + 10 × (1 + (2 + 5 × 1)).
    nested = "{ dealers(first: 10) { edges { node { code stores(first: 5) { edges { node { code } } } } } } }"
    assert price(schema, nested) == 82


def test_the_heaviest_legitimate_reads_fit_and_nested_big_pages_do_not(schema: GraphQLSchema) -> None:
    maximum = Settings().max_query_cost
    assert price(schema, STOREFRONT, {"d": "x", "w": "y"}) == STOREFRONT_COST <= maximum
    # tests/shipping's list of every shipment: 2 + 250 × (1 + order 2 + lines 10 × 2 + events 10 × 2).
    shipments = """query($first: Int) { shipments(first: $first) { totalCount edges { node { id number
      order { number buyer { code } } lines { quantity sku { code } } events { kind actor { email } } } } } }"""
    assert price(schema, shipments, {"first": 250}) == 10752 <= maximum
    assert price(schema, TOO_BIG) == TOO_BIG_COST > maximum


def test_first_from_variables_defaults_and_bounds(schema: GraphQLSchema) -> None:
    q = "query($n: Int) { skus(first: $n) { edges { node { code } } } }"
    assert price(schema, q, {"n": 10}) == 12
    assert price(schema, q, {}) == 52  # absent: the server's page of 50
    assert price(schema, q, {"n": None}) == 52
    assert price(schema, "query($n: Int = 20) { skus(first: $n) { edges { node { code } } } }") == 22
    # Beyond 250 is BAD_USER_INPUT at execution; it is priced as 250.
    assert price(schema, "{ skus(first: 100000) { edges { node { code } } } }") == 252


def test_fragments_aliases_and_directives(schema: GraphQLSchema) -> None:
    q = """query($full: Boolean!) {
      a: skus(first: 2) { ...E }
      b: skus(first: 3) { edges { node { code category @include(if: $full) { name } } } }
      c: me @skip(if: $full) { role } }
    fragment E on SkuConnection { edges { node { ... on Sku { model { name } } } } }"""
    # a: 2 + 2 × 2 = 6; b: 2 + 3 × 2 = 8 or 2 + 3 × 1 = 5; c: 1 when not skipped.
    assert price(schema, q, {"full": True}) == 14
    assert price(schema, q, {"full": False}) == 12
    # The same field twice under one response key is one field (as executed); each alias counts.
    assert price(schema, "{ me { dealer { code } dealer { name } } }") == 2
    assert price(schema, "{ me { a: dealer { code } b: dealer { name } } }") == 3


def test_lists_abstract_types_and_nodes(schema: GraphQLSchema) -> None:
    # Lists of objects count 10 each: 1 + lines 10 × (1 + 1) + shipments 10 × (1 + events 10 × 1).
    q = '{ order(number: "x") { number lines { sku { code } } shipments { events { kind } } } }'
    assert price(schema, q) == 1 + 20 + 110
    # An interface costs its costliest object type's selection.
    q = """{ node(id: "x") { id ... on Sku { category { name } model { name } } ... on Dealer { parent { code } } } }"""
    assert price(schema, q) == 3
    assert price(schema, 'query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Dealer { parent { code } } } }',
                 {"ids": ["a", "b", "c"]}) == 6


def test_mutations_cost_their_base(schema: GraphQLSchema) -> None:
    token = 'mutation { tokenCreate(input: {email: "a", password: "b"}) { token userErrors { code } } }'
    assert price(schema, token) == 10  # userErrors are free
    assert price(schema, 'mutation { a: tokenCreate(input: {email: "a", password: "b"}) { token } '
                         'b: tokenCreate(input: {email: "c", password: "d"}) { token } }') == 20
    # What a payload reads is paid on top: cart 1 + lines 10 × 1.
    add = """mutation($i: CartLinesAddInput!) {
      cartLinesAdd(input: $i) { cart { lines { quantity } } userErrors { code } } }"""
    assert price(schema, add, {"i": {"buyerId": "x", "lines": []}}) == 21


def test_cache_keys_only_on_the_variables_that_price(schema: GraphQLSchema) -> None:
    cache = CostCache(maxsize=8)
    q = "query($n: Int, $after: String) { skus(first: $n, after: $after) { edges { node { code } } } }"
    doc = parse(q)
    assert cache.cost(schema, doc, q, None, {"n": 3, "after": None}) == 5
    assert cache.cost(schema, doc, q, None, {"n": 3, "after": "abc"}) == 5  # another cursor: same entry
    assert len(cache._costs) == 1
    assert cache.cost(schema, doc, q, None, {"n": 4}) == 6
    assert len(cache._costs) == 2


# -- over HTTP ----------------------------------------------------------------------------------------


@pytest.fixture
def make_client(make_client: MakeClient) -> MakeClient:
    """Clients of apps with rate limits on, unless ``update`` says otherwise."""
    return functools.partial(make_client, rate_limit_enabled=True)


async def post(client: httpx.AsyncClient, query: str, token: str | None = None,
               variables: dict[str, Any] | None = None, accept: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    return await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


async def test_cost_on_the_compiled_path(make_client: MakeClient, tokens: dict[str, str],
                                         compiled_answers: list[bool]) -> None:
    client = await make_client()
    body = (await post(client, SKUS5, tokens[ADMIN])).json()
    assert compiled_answers == [True]
    assert len(body["data"]["skus"]["edges"]) == 5
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 7, "actualQueryCost": 7,
        "throttleStatus": {"maximumAvailable": 20000.0, "currentlyAvailable": 19993, "restoreRate": 1000.0},
    }


async def test_cost_on_the_resolver_path(make_client: MakeClient, tokens: dict[str, str],
                                         compiled_answers: list[bool]) -> None:
    client = await make_client(compiled_reads=False)
    body = (await post(client, SKUS5, tokens[ADMIN])).json()
    me = (await post(client, "{ me { role } }", tokens[ADMIN])).json()
    assert compiled_answers == []  # compiled reads off: graphql-core answered both
    assert body["extensions"]["cost"]["requestedQueryCost"] == body["extensions"]["cost"]["actualQueryCost"] == 7
    assert me["data"] == {"me": {"role": "HQ_ADMIN"}}
    cost = me["extensions"]["cost"]
    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (1, 1)
    assert 19992 <= cost["throttleStatus"]["currentlyAvailable"] < 20000  # 20000 − 7 − 1, + what leaked back


async def test_mutation_costs_its_base_and_anonymous_callers_are_limited_by_address(
    make_client: MakeClient
) -> None:
    client = await make_client(rate_limit_bucket_size=25, rate_limit_restore_rate=0.5)
    m = 'mutation { tokenCreate(input: {email: "admin@demo.example", password: "nope"}) { token userErrors { code } } }'
    first = await post(client, m)
    assert first.json()["extensions"]["cost"]["requestedQueryCost"] == 10
    assert first.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 15
    assert (await post(client, m)).status_code == 200
    third = await post(client, m)  # 5 left: the client's address has spent its bucket
    assert third.status_code == 429 and third.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_too_complex_is_refused_before_execution(
    client: httpx.AsyncClient, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    with count_statements(engine) as counter:
        r = await post(client, TOO_BIG, tokens[ADMIN], accept=GRAPHQL_RESPONSE)
    assert r.status_code == 400 and r.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = r.json()
    assert body["data"] is None and counter.count == 0
    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": TOO_BIG_COST, "maxCost": 20000}
    assert str(TOO_BIG_COST) in error["message"] and "20000" in error["message"]
    assert body["extensions"]["cost"] == {"requestedQueryCost": TOO_BIG_COST, "actualQueryCost": None,
                                          "throttleStatus": None}  # the bucket was not asked
    # Without graphql-response+json: 200, as for the depth limit.
    legacy = await post(client, TOO_BIG, tokens[ADMIN])
    assert legacy.status_code == 200 and legacy.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    # `first` from a variable is priced with its value.
    q = "query($n: Int!) { dealers(first: $n) { edges { node { stores(first: $n) { edges { node { code } } } } } } }"
    assert (await post(client, q, tokens[ADMIN], {"n": 200})).json()["errors"][0]["extensions"]["code"] == (
        "QUERY_TOO_COMPLEX")
    assert "errors" not in (await post(client, q, tokens[ADMIN], {"n": 5})).json()


async def test_the_heaviest_storefront_page_runs(gql: Any, tokens: dict[str, str]) -> None:
    t = tokens[DEALER1]
    dealer = (await gql('{ dealer(code: "D0001") { id warehouses(first: 1) { edges { node { id } } } } }',
                        token=t))["data"]["dealer"]
    variables = {"d": dealer["id"], "w": dealer["warehouses"]["edges"][0]["node"]["id"]}
    body = await gql(STOREFRONT, variables, token=t)
    assert body["data"]["skus"]["edges"]
    assert body["extensions"]["cost"]["requestedQueryCost"] == STOREFRONT_COST


async def test_rate_limited_with_429_and_retry_after(
    make_client: MakeClient, tokens: dict[str, str], engine: AsyncEngine
) -> None:
    client = await make_client(rate_limit_bucket_size=30, rate_limit_restore_rate=1)
    for _ in range(4):  # 4 × 7 of 30
        assert (await post(client, SKUS5, tokens[DEALER1])).status_code == 200
    with count_statements(engine) as counter:
        r = await post(client, SKUS5, tokens[DEALER1], accept=GRAPHQL_RESPONSE)
    assert r.status_code == 429 and counter.count == 0
    body = r.json()
    assert body["data"] is None
    [error] = body["errors"]
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 5  # 7 wanted, ~2 left, 1 point a second
    assert error["extensions"] == {"code": "RATE_LIMITED", "cost": 7, "retryAfter": retry}
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 7 and cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["maximumAvailable"] == 30.0 and cost["throttleStatus"]["currentlyAvailable"] < 7
    # application/json too: 429 is about the transport, not the media type.
    assert (await post(client, SKUS5, tokens[DEALER1])).status_code == 429
    # Buckets are per principal: another user still has all of hers.
    other = await post(client, SKUS5, tokens[STORE1])
    assert other.status_code == 200 and other.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 23


async def test_the_bucket_refills(make_client: MakeClient, tokens: dict[str, str]) -> None:
    q = "{ skus { edges { node { code } } } }"  # the default page: 2 + 50 = 52
    # Empty after one query, full again after 52 / 35 = 1.5 s: the second query must arrive within
    # that to be refused (0.5 s was not always enough on a busy machine after a long suite).
    client = await make_client(rate_limit_bucket_size=52, rate_limit_restore_rate=35)
    assert (await post(client, q, tokens[ADMIN])).status_code == 200
    refused = await post(client, q, tokens[ADMIN])
    assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
    await asyncio.sleep(1.55)  # full again
    again = await post(client, q, tokens[ADMIN])
    assert again.status_code == 200 and again.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0


def test_rate_limits_are_on_in_production_unless_turned_off() -> None:
    assert Settings(env="production").rate_limits_on and not Settings(env="test").rate_limits_on
    assert not Settings(env="production", rate_limit_enabled=False).rate_limits_on
    assert Settings(env="development", rate_limit_enabled=True).rate_limits_on


async def test_rate_limits_can_be_turned_off(make_client: MakeClient, tokens: dict[str, str]) -> None:
    client = await make_client(rate_limit_enabled=False, rate_limit_bucket_size=1)
    for _ in range(2):
        r = await post(client, SKUS5, tokens[ADMIN])
        assert r.status_code == 200
        assert r.json()["extensions"]["cost"] == {"requestedQueryCost": 7, "actualQueryCost": 7,
                                                  "throttleStatus": None}


async def test_without_redis_requests_go_through(
    make_client: MakeClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    unreachable = f"redis://127.0.0.1:{port}/0"
    client = await make_client(redis_url=unreachable)
    try:
        with caplog.at_level(logging.WARNING, logger="ymt_graph.cost"):
            for _ in range(2):
                r = await post(client, SKUS5, tokens[ADMIN])
                assert r.status_code == 200 and "errors" not in r.json()
                assert r.json()["extensions"]["cost"]["throttleStatus"] is None
        assert len([rec for rec in caplog.records if "Redis did not answer" in rec.getMessage()]) == 1
    finally:
        cost_module.BUCKETS._down_until.pop(unreachable, None)


async def test_subscriptions_are_not_charged_nor_report_cost(settings: Settings) -> None:
    schema = build_schema()
    ctx = Context(settings=settings.model_copy(update={"rate_limit_enabled": True}), db=None,  # type: ignore[arg-type]
                  principal=None, request_id="sub")
    stream = await schema.subscribe('subscription { orderEvents(orderId: "T3JkZXI6MQ") { id } }', context_value=ctx)
    first = stream if not hasattr(stream, "__anext__") else await anext(stream)
    assert first.errors[0].extensions["code"] == "UNAUTHENTICATED"
    assert not first.extensions  # no extensions.cost on a stream's results


async def test_older_limits_still_apply(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    deep = "{ dealer(code: \"D0001-01\") { " + "parent { " * 20 + "id" + " }" * 20 + " } }"
    aliases = "{ " + " ".join(f"a{i}: me {{ role }}" for i in range(40)) + " }"
    tokens_ = "{ me { " + " ".join(["role"] * 5000) + " } }"
    for query in (deep, aliases, tokens_):
        r = await post(client, query, tokens[ADMIN], accept=GRAPHQL_RESPONSE)
        body = r.json()
        assert r.status_code == 400 and body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert "extensions" not in body  # refused by validation (or parsing): never priced
