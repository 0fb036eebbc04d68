"""The view's fast path (api/view.py): a compiled read the server has answered before, asked again,
skips strawberry's pipeline. It must answer what the normal path answers — status, headers, body
bytes — and do what it does: authenticate, price and charge the bucket once, run one statement,
count the same metrics, log the same things and give the connection back. Each comparison sends a
request with ``GraphQLView.fast_path`` off, then the same request with it on, and tells from
``GraphQLView.run`` (strawberry's pipeline) which path answered."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.api.auth import TOKENS, TokenCache
from ymt_graph.api.view import GraphQLView
from ymt_graph.compiled import runner
from ymt_graph.db import count_statements
from ymt_graph.org.identity import TokenInvalid, create_api_key, issue_tokens, principal_from_token
from ymt_graph.settings import Settings

ADMIN, DEALER1, DEALER2 = "admin@demo.example", "dealer1@demo.example", "dealer2@demo.example"
GRAPHQL_RESPONSE = "application/graphql-response+json"

PAGE = """query SkuPage($first: Int!, $after: String, $d: ID!, $w: ID!) {
  skus(first: $first, after: $after, filter: {orderableBy: $d}) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id code name moq category { code name } guideRetailPrice { amount currency }
      price(dealerId: $d) { amount { amount currency } list { code } why }
      available(warehouseId: $w) stockLevel(warehouseId: $w) { onHand reserved available } } } } }"""
SKUS = "query Skus($n: Int) { skus(first: $n) { edges { node { code category { code } } } } }"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    normal_path: bool  # strawberry's pipeline ran

    def json(self) -> Any:
        return json.loads(self.body)

    def same_as(self, other: Answer) -> bool:
        return (self.status, self.headers, self.body) == (other.status, other.headers, other.body)


Send = Callable[[], Awaitable[httpx.Response]]


class Paths:
    """Sends requests and says which path answered them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.runs = 0
        original = GraphQLView.run

        async def run(view: GraphQLView, *args: Any, **kwargs: Any) -> Any:
            self.runs += 1
            return await original(view, *args, **kwargs)

        monkeypatch.setattr(GraphQLView, "run", run)

    async def send(self, send: Send, *, fast: bool = True) -> Answer:
        self.monkeypatch.setattr(GraphQLView, "fast_path", fast)
        before = self.runs
        r = await send()
        return Answer(r.status_code, list(r.headers.raw), r.content, self.runs > before)

    async def both(self, send: Send) -> tuple[Answer, Answer]:
        """The request answered with the fast path off, then on."""
        return await self.send(send, fast=False), await self.send(send, fast=True)


MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]  # tests/api/conftest.py's make_client

@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> Paths:
    return Paths(monkeypatch)


@pytest.fixture(scope="module")
async def page_variables(gql: Any, tokens: dict[str, str]) -> dict[str, Any]:
    dealer = (await gql('{ dealer(code: "D0001") { id warehouses(first: 1) { edges { node { id } } } } }',
                        token=tokens[DEALER1]))["data"]["dealer"]
    return {"first": 20, "after": None, "d": dealer["id"], "w": dealer["warehouses"]["edges"][0]["node"]["id"]}


def post(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, token: str | None, *,
         operation: str | None = None, accept: str | None = None, request_id: str | None = "req-1",
         extra: dict[str, Any] | None = None, content_type: str | None = None) -> Send:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if accept:
        headers["Accept"] = accept
    if request_id:
        headers["x-request-id"] = request_id
    payload: dict[str, Any] = {"query": query, "variables": variables, **(extra or {})}
    if operation:
        payload["operationName"] = operation
    if content_type:
        headers["Content-Type"] = content_type
        return lambda: client.post("/graphql", content=json.dumps(payload).encode(), headers=headers)
    return lambda: client.post("/graphql", json=payload, headers=headers)


def raw_post(client: httpx.AsyncClient, body: bytes, token: str | None,
             content_type: str = "application/json") -> Send:
    headers = {"Content-Type": content_type, "x-request-id": "req-raw"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return lambda: client.post("/graphql", content=body, headers=headers)


def get(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, token: str | None,
        operation: str | None = None, accept: str | None = None) -> Send:
    params = {"query": query}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    if operation:
        params["operationName"] = operation
    headers = {"Authorization": f"Bearer {token}", "x-request-id": "req-get"} if token else {"x-request-id": "r"}
    if accept:
        headers["Accept"] = accept
    return lambda: client.get("/graphql", params=params, headers=headers)


def without(headers: list[tuple[bytes, bytes]], name: bytes) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() != name]


# -- the same answer ------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["post", "graphql-response", "charset", "operation-name", "extensions",
                                  "get", "get-graphql-response", "get-html"])
async def test_a_known_read_is_answered_alike_by_both_paths(
    client: httpx.AsyncClient, tokens: dict[str, str], page_variables: dict[str, Any], paths: Paths, form: str
) -> None:
    t = tokens[DEALER1]
    send = {
        "post": post(client, PAGE, page_variables, t),
        "graphql-response": post(client, PAGE, page_variables, t, accept=GRAPHQL_RESPONSE),
        "charset": post(client, PAGE, page_variables, t, content_type="application/json; charset=utf-8"),
        "operation-name": post(client, PAGE, page_variables, t, operation="SkuPage"),
        "extensions": post(client, PAGE, page_variables, t, extra={"extensions": {"tracing": False}}),
        "get": get(client, PAGE, page_variables, t),
        "get-graphql-response": get(client, PAGE, page_variables, t, "SkuPage", accept=GRAPHQL_RESPONSE),
        "get-html": get(client, PAGE, page_variables, t, accept="text/html"),
    }[form]
    first = await paths.send(send)  # first sight of the document (or of the plan): the normal path
    normal, fast = await paths.both(send)
    assert normal.normal_path and not fast.normal_path
    assert fast.same_as(normal) and fast.same_as(first)
    assert fast.status == 200 and "errors" not in fast.json() and len(fast.json()["data"]["skus"]["edges"]) == 20
    assert fast.json()["extensions"]["cost"]["actualQueryCost"] > 0
    content_type = dict(fast.headers)[b"content-type"]
    assert content_type == (GRAPHQL_RESPONSE.encode() if "graphql-response" in form else b"application/json")


async def test_the_request_id_is_the_clients_or_a_new_one(
    client: httpx.AsyncClient, tokens: dict[str, str], paths: Paths
) -> None:
    send = post(client, SKUS, {"n": 3}, tokens[ADMIN], request_id=None)
    await paths.send(send)
    normal, fast = await paths.both(send)
    assert not fast.normal_path and fast.body == normal.body
    assert without(fast.headers, b"x-request-id") == without(normal.headers, b"x-request-id")
    ids = {dict(a.headers)[b"x-request-id"] for a in (normal, fast)}
    assert len(ids) == 2 and all(len(i) == 16 for i in ids)


async def test_first_sight_of_a_document_plan_or_page_takes_the_normal_path(
    client: httpx.AsyncClient, tokens: dict[str, str], page_variables: dict[str, Any], paths: Paths
) -> None:
    query = SKUS + " # " + secrets.token_hex(4)  # a document never seen
    assert (await paths.send(post(client, query, {"n": 2}, tokens[ADMIN]))).normal_path
    assert not (await paths.send(post(client, query, {"n": 2}, tokens[ADMIN]))).normal_path
    # Another `first`: another plan (the page size is written into its SQL), built on the normal path.
    assert (await paths.send(post(client, query, {"n": 4}, tokens[ADMIN]))).normal_path
    other = await paths.send(post(client, query, {"n": 4}, tokens[ADMIN]))
    assert not other.normal_path and len(other.json()["data"]["skus"]["edges"]) == 4
    # Another shape of variables (null): another plan, built on the normal path first.
    assert (await paths.send(post(client, query, {"n": None}, tokens[ADMIN]))).normal_path
    assert not (await paths.send(post(client, query, {"n": None}, tokens[ADMIN]))).normal_path
    # Another principal: its own plan.
    assert (await paths.send(post(client, query, {"n": 2}, tokens[DEALER2]))).normal_path
    # The next page (a new cursor): the same plan, the fast path, the same answer as the normal path.
    first_page = (await paths.send(post(client, PAGE, page_variables, tokens[DEALER1]))).json()
    after = first_page["data"]["skus"]["pageInfo"]["endCursor"]
    normal, fast = await paths.both(post(client, PAGE, {**page_variables, "after": after}, tokens[DEALER1]))
    assert not fast.normal_path and fast.same_as(normal)
    assert fast.json()["data"]["skus"]["edges"][0]["cursor"] != first_page["data"]["skus"]["edges"][0]["cursor"]


async def test_what_the_fast_path_leaves_to_the_normal_path(
    client: httpx.AsyncClient, tokens: dict[str, str], page_variables: dict[str, Any], paths: Paths
) -> None:
    t = tokens[DEALER1]
    await paths.send(post(client, PAGE, page_variables, t))
    await paths.send(post(client, SKUS, {"n": 2}, t))
    sends = {
        "no credential": post(client, SKUS, {"n": 2}, None),
        "bad credential": post(client, SKUS, {"n": 2}, "not-a-jwt"),
        "bad variable type": post(client, PAGE, {**page_variables, "first": "many"}, t),
        "missing variable": post(client, PAGE, {"first": 5}, t),
        "first out of range": post(client, PAGE, {**page_variables, "first": 300}, t),
        "bad cursor": post(client, PAGE, {**page_variables, "after": "not-a-cursor"}, t),
        "unknown operation name": post(client, SKUS, {"n": 2}, t, operation="Other"),
        "mutation via GET": get(client, "mutation { tokenRefresh(input: {refreshToken: \"x\"}) { token } }", None, t),
        "hash only (persisted queries are not stored yet)": raw_post(client, json.dumps(
            {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}}}).encode(), t),
        "invalid JSON": raw_post(client, b'{"query": ', t),
        "NaN (json reads it, orjson does not)": raw_post(
            client, b'{"query": "' + SKUS.encode() + b'", "variables": {"n": NaN}}', t),
        "a batch": raw_post(client, json.dumps([{"query": SKUS, "variables": {"n": 2}}]).encode(), t),
        "query not a string": raw_post(client, json.dumps({"query": 5}).encode(), t),
        "variables not an object": raw_post(client, json.dumps({"query": SKUS, "variables": [2]}).encode(), t),
        "operation name not a string": raw_post(
            client, json.dumps({"query": SKUS, "variables": {"n": 2}, "operationName": 5}).encode(), t),
        "text/plain": raw_post(client, json.dumps({"query": SKUS, "variables": {"n": 2}}).encode(), t, "text/plain"),
        "GraphiQL": lambda: client.get("/graphql", headers={"Accept": "text/html", "x-request-id": "r"}),
        "HEAD": lambda: client.head("/graphql", params={"query": SKUS}, headers={"x-request-id": "r"}),
    }
    for why, send in sends.items():
        normal, fast = await paths.both(send)
        assert fast.normal_path, why
        assert fast.same_as(normal), why
    for fast_path in (False, True):  # JSON that is no object: strawberry fails on it (a 500), both ways
        with pytest.raises(AttributeError):
            await paths.send(raw_post(client, b'"query"', t), fast=fast_path)


async def test_extra_variables_and_integer_spellings(
    client: httpx.AsyncClient, tokens: dict[str, str], paths: Paths
) -> None:
    t = tokens[ADMIN]
    for variables in ({"n": 2, "unused": "x"}, {"n": 2.0}, {"n": 3}):
        await paths.send(post(client, SKUS, variables, t))
        normal, fast = await paths.both(post(client, SKUS, variables, t))
        assert fast.same_as(normal), variables
    # Numbers orjson reads otherwise than json (an integer beyond 64 bits becomes a float), and
    # floats with them, are left to the normal path.
    for n in (b"18446744073709551616", b"-9223372036854775809", b"2.0", b"[1.5]"):
        body = b'{"query": "' + SKUS.encode() + b'", "variables": {"n": ' + n + b', "x": {"y": ' + n + b'}}}'
        await paths.send(raw_post(client, body, t))
        normal, fast = await paths.both(raw_post(client, body, t))
        assert fast.normal_path and fast.same_as(normal), n


# -- limits ---------------------------------------------------------------------------------------


async def test_cost_over_the_maximum_is_refused_alike(
    make_client: MakeClient, tokens: dict[str, str], paths: Paths
) -> None:
    client = await make_client(max_query_cost=20)  # skus(first: n) costs 2 + 2n
    t = tokens[ADMIN]
    await paths.send(post(client, SKUS, {"n": 3}, t))
    assert not (await paths.send(post(client, SKUS, {"n": 3}, t))).normal_path
    for accept in (None, GRAPHQL_RESPONSE):
        normal, fast = await paths.both(post(client, SKUS, {"n": 50}, t, accept=accept))
        assert fast.normal_path and fast.same_as(normal)
        assert fast.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert fast.status == (400 if accept else 200)


async def test_the_bucket_is_charged_once_and_refuses_alike(
    make_client: MakeClient, tokens: dict[str, str], page_variables: dict[str, Any], paths: Paths,
    engine: AsyncEngine, bucket_takes: list[int],
) -> None:
    t = tokens[DEALER1]
    probe = await make_client()  # the document and the plan become known
    price = (await paths.send(post(probe, PAGE, page_variables, t))).json()["extensions"]["cost"]["requestedQueryCost"]
    # Two requests fit, the third does not; 1 point a second comes back (less than one during the test).
    settings = {"rate_limit_enabled": True, "rate_limit_bucket_size": 2 * price + price // 2,
                "rate_limit_restore_rate": 1}

    async def sequence(fast: bool) -> list[Answer]:
        client = await make_client(**settings)
        out = []
        for accept in (None, None, None, GRAPHQL_RESPONSE):
            bucket_takes.clear()
            with count_statements(engine) as counter:
                out.append(await paths.send(post(client, PAGE, page_variables, t, accept=accept), fast=fast))
            assert bucket_takes == [price]  # one bucket call per request, whichever path
            assert counter.count == (1 if out[-1].status == 200 else 0)
        return out

    normal, fast = await sequence(False), await sequence(True)
    assert [a.normal_path for a in fast] == [False, False, True, True]  # refused: handed over
    assert [a.status for a in fast] == [200, 200, 429, 429]
    for n, f in zip(normal, fast, strict=True):
        assert f.same_as(n), (n, f)
    assert fast[1].json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == price // 2
    assert dict(fast[2].headers)[b"retry-after"] == dict(normal[2].headers)[b"retry-after"]


# -- failures after the bucket ----------------------------------------------------------------------


async def test_a_statement_that_fails_is_run_once_then_the_resolver_path_answers(
    make_client: MakeClient, tokens: dict[str, str], paths: Paths, engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture, bucket_takes: list[int],
) -> None:
    client = await make_client(rate_limit_enabled=True)
    query = SKUS + " # broken " + secrets.token_hex(4)

    async def answer(fast: bool) -> tuple[Answer, int, list[str]]:
        runner.clear_plans()
        await paths.send(post(client, query, {"n": 2}, tokens[ADMIN]))  # plan built and cached
        [key] = [k for k, p in runner._plans.items() if k[0] == runner.digest(query)]
        plan = runner._plans[key]
        # A statement PostgreSQL refuses (SQLSTATE 42703), as a compiler bug would write it.
        runner._plans[key] = runner.Plan("SELECT no_such_column_here", plan.args, plan.uses_variables)
        bucket_takes.clear()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ymt_graph.compiled"), count_statements(engine) as counter:
            a = await paths.send(post(client, query, {"n": 2}, tokens[ADMIN]), fast=fast)
        assert runner._plans[key] is runner._NOT_COMPILABLE  # not tried again
        assert bucket_takes == [6]
        return a, counter.count, [r.getMessage().splitlines()[0] for r in caplog.records]

    (normal, normal_count, normal_logs), (fast, fast_count, fast_logs) = await answer(False), await answer(True)
    assert normal.normal_path and fast.normal_path  # begun fast, finished on the normal path
    # The bucket refills at 1,000 points a second between the two runs: its level may differ by a
    # point or two, everything else must not.
    bodies = [a.json() for a in (fast, normal)]
    levels = [b["extensions"]["cost"]["throttleStatus"].pop("currentlyAvailable") for b in bodies]
    assert abs(levels[0] - levels[1]) <= 10, levels
    length = b"content-length"
    assert (fast.status, without(fast.headers, length)) == (normal.status, without(normal.headers, length))
    assert bodies[0] == bodies[1] and "errors" not in bodies[0] and len(bodies[0]["data"]["skus"]["edges"]) == 2
    assert fast_count == normal_count >= 2  # the broken statement once, then the resolver path's
    assert fast_logs == normal_logs and len(fast_logs) == 1 and "compiled statement failed" in fast_logs[0]


async def test_an_unexpected_error_in_the_statement_answers_alike(
    client: httpx.AsyncClient, tokens: dict[str, str], paths: Paths, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    send = post(client, SKUS, {"n": 2}, tokens[ADMIN], request_id="req-boom")
    await paths.send(send)

    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise OSError("connection lost")

    monkeypatch.setattr(runner, "_fetch", boom)
    with caplog.at_level(logging.ERROR, logger="ymt_graph.errors"):
        normal, fast = await paths.both(send)
    assert fast.same_as(normal)
    assert fast.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "connection lost" not in fast.body.decode()
    logged = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert len(logged) == 2 and all("req-boom" in r.getMessage() for r in logged)  # once per request


# -- what else a request does ---------------------------------------------------------------------


async def test_one_statement_the_connection_given_back_and_the_metrics(
    client: httpx.AsyncClient, tokens: dict[str, str], page_variables: dict[str, Any], paths: Paths,
    engine: AsyncEngine,
) -> None:
    send = post(client, PAGE, page_variables, tokens[DEALER1])
    await paths.send(send)

    def sample(name: str, labels: dict[str, str] | None = None) -> float:
        return REGISTRY.get_sample_value(name, labels or {}) or 0.0

    for fast in (False, True):
        before = (sample("ymt_graphql_requests_total", {"status": "200"}), sample("ymt_graphql_request_seconds_count"))
        with count_statements(engine) as counter:
            answer = await paths.send(send, fast=fast)
        assert answer.normal_path is not fast
        assert counter.count == 1  # the compiled statement, noted for the counters
        assert engine.sync_engine.pool.checkedout() == 0
        after = (sample("ymt_graphql_requests_total", {"status": "200"}), sample("ymt_graphql_request_seconds_count"))
        assert after == (before[0] + 1, before[1] + 1)


async def test_the_debug_log_says_the_same(
    make_client: MakeClient, tokens: dict[str, str], paths: Paths, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(debug_sql=True)
    query = SKUS + " # debug " + secrets.token_hex(4)
    with caplog.at_level(logging.DEBUG, logger="ymt_graph"):
        await paths.send(post(client, query, {"n": 2}, tokens[ADMIN]))
    assert any(r.getMessage().startswith("operation Skus: compiled in") for r in caplog.records)
    logs = []
    for fast in (False, True):
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="ymt_graph"):
            answer = await paths.send(post(client, query, {"n": 2}, tokens[ADMIN]), fast=fast)
        assert answer.normal_path is not fast
        logs.append([(r.name, r.getMessage()) for r in caplog.records])
    assert logs[0] == logs[1]  # a cached plan: nothing logged either way


async def test_api_keys_take_the_fast_path_and_revocation_holds(
    client: httpx.AsyncClient, paths: Paths, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        tenant_id = (await conn.execute(sa.text("SELECT id FROM tenants WHERE code = 'demo'"))).scalar_one()
        secret = await create_api_key(conn, tenant_id, "fast path", ["catalog:read"], None)
    send = post(client, SKUS, {"n": 3}, secret)
    await paths.send(send)
    normal, fast = await paths.both(send)
    assert not fast.normal_path and fast.same_as(normal) and "errors" not in fast.json()
    with count_statements(engine) as counter:
        await paths.send(send)
    assert engine.sync_engine.pool.checkedout() == 0
    assert counter.count >= 1
    async with engine.begin() as conn:
        await conn.execute(sa.text("UPDATE api_keys SET revoked_at = now() WHERE prefix = :p"),
                           {"p": secret.split("_")[1]})
    from ymt_graph.org import identity

    identity._key_cache.clear()  # its own 30 s cache, as before
    refused = await paths.send(send)
    assert refused.normal_path and refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# -- the token cache ------------------------------------------------------------------------------


async def test_an_expired_token_is_refused_though_it_was_seen(
    client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine, paths: Paths
) -> None:
    from ymt_graph.org.identity import principal_for_user

    async with engine.connect() as conn:
        user_id = (await conn.execute(sa.text("SELECT id FROM users WHERE email = :e"), {"e": ADMIN})).scalar_one()
        found = await principal_for_user(conn, user_id)
    assert found is not None
    token = issue_tokens(settings.model_copy(update={"jwt_ttl_seconds": 2}), found[0]).token
    send = post(client, SKUS, {"n": 2}, token)
    assert "errors" not in (await paths.send(send)).json()
    assert not (await paths.send(send)).normal_path
    exp = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]
    await asyncio.sleep(max(0.0, exp - time.time()) + 0.05)
    expired = await paths.send(send)
    assert expired.normal_path
    [error] = expired.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and "expired" in error["message"]


def test_the_token_cache_answers_what_pyjwt_answers(settings: Settings) -> None:
    import jwt

    cache = TokenCache(maxsize=2)
    now = int(time.time())
    claims = {"sub": "7", "tid": 1, "role": "HQ_ADMIN", "typ": "access", "iat": now, "exp": now + 60}
    good = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
    assert cache.principal(settings, good) == principal_from_token(settings, good)
    assert cache.principal(settings, good) is cache.principal(settings, good)  # remembered
    # Another secret: verified afresh (and refused).
    other = settings.model_copy(update={"jwt_secret": "another-secret-of-sufficient-length-0123456789"})
    with pytest.raises(TokenInvalid, match="Invalid token"):
        cache.principal(other, good)
    cases = {
        "not yet valid (iat)": {**claims, "iat": now + 30},
        "not yet valid (nbf)": {**claims, "nbf": now + 30},
        "expired": {**claims, "exp": now - 1},
        "refresh token": {**claims, "typ": "refresh"},
    }
    for why, bad in cases.items():
        token = jwt.encode(bad, settings.jwt_secret, algorithm="HS256")
        for _ in range(2):
            with pytest.raises(TokenInvalid) as cached:
                cache.principal(settings, token)
            with pytest.raises(TokenInvalid) as direct:
                principal_from_token(settings, token)
            assert str(cached.value) == str(direct.value), why
    assert len(cache._found) == 1  # only the good token
    # Bounded.
    for i in range(3):
        cache.principal(settings, jwt.encode({**claims, "sub": str(10 + i)}, settings.jwt_secret, algorithm="HS256"))
    assert len(cache._found) == 2
    TOKENS.clear()
