"""Persisted queries (API.md "Persisted queries"): automatic persisted queries (Apollo's protocol) over
POST and GET, trusted documents registered by the CLI and sent by ``documentId``, the only-trusted
mode with its exemption, and persisted documents held to the same cost and rate limits on both read
paths (and the fast path). Real Redis and PostgreSQL, through the ASGI app."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_helpers import serving, ws_connect
from redis.asyncio import Redis
from starlette.applications import Starlette

from ymt_graph.api import persisted
from ymt_graph.settings import Settings

ADMIN, ANALYST, DEALER1, STORE1 = ("admin@demo.example", "analyst@demo.example", "dealer1@demo.example",
                                   "store1@demo.example")
EXEMPT = {ADMIN, ANALYST}
GRAPHQL_RESPONSE = "application/graphql-response+json"
SKUS = "query Skus { skus(first: 3) { edges { node { code name } } } }"  # compiles; costs 2 + 3 × 1
SKUS5 = "{ skus(first: 5) { edges { node { code } } } }"  # 2 + 5 × 1 = 7
TOO_BIG = "{ dealers(first: 250) { edges { node { stores(first: 250) { edges { node { code } } } } } } }"
ME = "{ me { role } }"

MakeClient = Callable[..., Awaitable[tuple[httpx.AsyncClient, Settings]]]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha(text)}}


@pytest.fixture
async def make_client(settings: Settings) -> AsyncIterator[MakeClient]:
    """A client of an app with these settings and a persisted-query (and bucket) namespace of its own."""
    from ymt_graph.app import create_app

    clients: list[httpx.AsyncClient] = []

    async def make(**update: Any) -> tuple[httpx.AsyncClient, Settings]:
        update = {"persisted_key_prefix": f"ymt-test-pq-{secrets.token_hex(4)}",
                  "rate_limit_key_prefix": f"ymt-test-pq-cost-{secrets.token_hex(4)}", **update}
        app_settings = settings.model_copy(update=update)
        app: Starlette = create_app(app_settings)
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        clients.append(c)
        return c, app_settings

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def headers(token: str | None, accept: str | None = None) -> dict[str, str]:
    found = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        found["Accept"] = accept
    return found


async def post(client: httpx.AsyncClient, body: dict[str, Any], token: str | None = None,
               accept: str | None = None) -> httpx.Response:
    return await client.post("/graphql", json=body, headers=headers(token, accept))


async def get(client: httpx.AsyncClient, params: dict[str, Any], token: str | None = None,
              accept: str | None = None) -> httpx.Response:
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    return await client.get("/graphql", params=encoded, headers=headers(token, accept))


def code(response: httpx.Response) -> str | None:
    errors = response.json().get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


async def register(settings: Settings, *texts: str) -> None:
    await persisted.register(settings, texts)


# -- automatic persisted queries -------------------------------------------------------------------


async def test_apq_miss_then_register_then_hit(make_client: MakeClient, tokens: dict[str, str],
                                               redis: Redis) -> None:
    client, settings = await make_client()
    token = tokens[ADMIN]
    for accept in (None, GRAPHQL_RESPONSE):
        miss = await post(client, {"extensions": apq(SKUS)}, token, accept)
        assert miss.status_code == 200  # Apollo's retry signal, whatever media type was asked for
        assert miss.headers["cache-control"] == "no-store"
        error = miss.json()["errors"][0]
        assert error["message"] == "PersistedQueryNotFound"
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert "data" not in miss.json() or miss.json()["data"] is None

    stored = await post(client, {"query": SKUS, "extensions": apq(SKUS)}, token)
    assert stored.status_code == 200 and "errors" not in stored.json(), stored.json()
    key = persisted.keys(settings)[0] + sha(SKUS)
    assert await redis.get(key) == SKUS
    ttl = await redis.ttl(key)
    assert 0 < ttl <= settings.persisted_query_ttl_seconds

    hit = await post(client, {"extensions": apq(SKUS), "operationName": "Skus"}, token)
    assert hit.status_code == 200 and "cache-control" not in hit.headers
    assert hit.json()["data"] == stored.json()["data"]
    assert hit.json()["extensions"]["cost"]["requestedQueryCost"] == 5

    # Another node (another app, an empty in-process cache) finds it in Redis.
    persisted.STORE._apq.items.clear()
    other = await post(client, {"extensions": apq(SKUS)}, token)
    assert other.json()["data"] == stored.json()["data"]


async def test_hash_mismatch_and_bad_versions_are_coded_and_store_nothing(
        make_client: MakeClient, tokens: dict[str, str], redis: Redis) -> None:
    client, settings = await make_client()
    token = tokens[ADMIN]
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": sha(SKUS5)}}
    r = await post(client, {"query": SKUS, "extensions": wrong}, token, GRAPHQL_RESPONSE)
    assert r.status_code == 400 and code(r) == "BAD_USER_INPUT"
    assert r.json()["errors"][0]["message"] == "provided sha does not match query"
    assert await redis.get(persisted.keys(settings)[0] + sha(SKUS5)) is None
    assert await redis.get(persisted.keys(settings)[0] + sha(SKUS)) is None
    again = await post(client, {"extensions": wrong}, token)
    assert code(again) == "PERSISTED_QUERY_NOT_FOUND"

    for version in (2, None, "1"):
        r = await post(client, {"query": SKUS, "extensions": {"persistedQuery": {"version": version,
                                                                                 "sha256Hash": sha(SKUS)}}}, token)
        assert r.status_code == 200 and code(r) == "BAD_USER_INPUT", r.json()
        assert "version" in r.json()["errors"][0]["message"]
    for bad in ("abc", 12, None):
        r = await post(client, {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": bad}}}, token)
        assert code(r) == "BAD_USER_INPUT"
    r = await post(client, {"extensions": {"persistedQuery": "x"}}, token)
    assert code(r) == "BAD_USER_INPUT"
    assert await redis.get(persisted.keys(settings)[0] + sha(SKUS)) is None


async def test_apq_over_get(make_client: MakeClient, tokens: dict[str, str]) -> None:
    client, _ = await make_client()
    token = tokens[DEALER1]
    query = "query Page($n: Int) { skus(first: $n) { edges { node { code } } } }"
    variables = {"n": 2}
    # httpx sends Accept: */* — still a GraphQL request, not GraphiQL.
    miss = await get(client, {"extensions": apq(query), "variables": variables}, token)
    assert miss.status_code == 200 and code(miss) == "PERSISTED_QUERY_NOT_FOUND"
    assert miss.headers["cache-control"] == "no-store"
    stored = await get(client, {"query": query, "extensions": apq(query), "variables": variables}, token)
    assert "errors" not in stored.json(), stored.json()
    hit = await get(client, {"extensions": apq(query), "variables": variables}, token)
    assert hit.json()["data"] == stored.json()["data"] and len(hit.json()["data"]["skus"]["edges"]) == 2
    # A mutation stays POST-only, persisted or not.
    mutation = 'mutation { tokenCreate(input: {email: "x@y.z", password: "p"}) { token } }'
    refused = await get(client, {"query": mutation, "extensions": apq(mutation)}, token)
    assert refused.status_code == 400
    # GraphiQL is still served to a browser.
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


# -- trusted documents -------------------------------------------------------------------------------


def run_cli(settings: Settings, *args: str, action: str = "register") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
           "YMT_PERSISTED_KEY_PREFIX": settings.persisted_key_prefix}
    exe = Path(sys.executable).with_name("ymt-graph")
    return subprocess.run([str(exe), "documents", action, *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


async def test_cli_registers_and_document_ids_run(make_client: MakeClient, tokens: dict[str, str],
                                                  tmp_path: Path, redis: Redis) -> None:
    client, settings = await make_client()
    files = []
    for i, text in enumerate((SKUS, SKUS5, ME)):
        path = tmp_path / f"doc{i}.graphql"
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    done = run_cli(settings, *files)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [f"sha256:{sha(t)}  {f}  registered" for t, f in zip((SKUS, SKUS5, ME), files, strict=True)]
    assert "3 documents (3 new)" in done.stderr
    assert await redis.hget(persisted.keys(settings)[1], f"sha256:{sha(ME)}") == ME

    again = run_cli(settings, files[0])
    assert again.returncode == 0 and again.stdout.strip().endswith("already registered")

    bad = tmp_path / "bad.graphql"
    bad.write_text("{ skus(", encoding="utf-8")
    refused = run_cli(settings, str(bad), str(tmp_path / "missing.graphql"))
    assert refused.returncode == 1 and "nothing registered" in refused.stderr and refused.stdout == ""

    token = tokens[DEALER1]
    hit = await post(client, {"documentId": f"sha256:{sha(SKUS)}", "operationName": "Skus"}, token)
    assert hit.status_code == 200 and "errors" not in hit.json(), hit.json()
    sent = await post(client, {"query": SKUS}, token)
    assert hit.json()["data"] == sent.json()["data"]
    by_get = await get(client, {"documentId": f"sha256:{sha(ME)}"}, token)
    assert by_get.json()["data"] == {"me": {"role": "DEALER_ADMIN"}}
    # Its hash works as an APQ hash too (Apollo's persisted-documents link sends that).
    assert (await post(client, {"extensions": apq(ME)}, token)).json()["data"] == by_get.json()["data"]

    miss = await post(client, {"documentId": f"sha256:{sha('{ me { role } } ')}"}, token, GRAPHQL_RESPONSE)
    assert miss.status_code == 200 and code(miss) == "PERSISTED_QUERY_NOT_FOUND"
    for malformed in ("nope", f"md5:{sha(ME)}", 5):
        r = await post(client, {"documentId": malformed}, token)
        assert code(r) == "BAD_USER_INPUT", r.json()
    both = await post(client, {"documentId": f"sha256:{sha(ME)}", "query": ME}, token)
    assert code(both) == "BAD_USER_INPUT"


async def test_cli_lists_and_removes_documents_and_they_stop_running(
        make_client: MakeClient, tokens: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A removed document stops running in every process once its trust there ends
    (``persisted.TRUST_SECONDS``; shortened here): the CLI runs in a process of its own."""
    monkeypatch.setattr(persisted.STORE._trusted, "ttl", 0.5)
    client, settings = await make_client(only_trusted_documents=True)
    files = []
    for name, text in (("skus", SKUS), ("me", ME)):
        path = tmp_path / f"{name}.graphql"
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    assert run_cli(settings, *files).returncode == 0
    listed = run_cli(settings, action="list")
    assert listed.returncode == 0 and "2 documents" in listed.stderr
    assert sorted(listed.stdout.splitlines()) == sorted([f"sha256:{sha(SKUS)}  query Skus",
                                                         f"sha256:{sha(ME)}  query (anonymous)"])
    token = tokens[DEALER1]
    skus = {"documentId": f"sha256:{sha(SKUS)}"}
    assert "errors" not in (await post(client, skus, token)).json()
    assert "errors" not in (await post(client, {"query": SKUS}, token)).json()  # its exact text runs too

    removed = run_cli(settings, files[0], f"sha256:{'0' * 64}", action="remove")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.splitlines() == [f"sha256:{sha(SKUS)}  {files[0]}  removed",
                                           f"sha256:{'0' * 64}  was not registered"]
    assert "1 removed" in removed.stderr
    await asyncio.sleep(0.6)  # this process's trust in it ends
    assert code(await post(client, skus, token)) == "PERSISTED_QUERY_NOT_FOUND"
    assert code(await post(client, {"query": SKUS}, token)) == "PERSISTED_QUERY_NOT_ALLOWED"
    assert "errors" not in (await post(client, {"documentId": f"sha256:{sha(ME)}"}, token)).json()  # kept
    assert run_cli(settings, action="list").stdout.splitlines() == [f"sha256:{sha(ME)}  query (anonymous)"]
    bad = run_cli(settings, "sha256:nothex", action="remove")
    assert bad.returncode == 1 and "nothing removed" in bad.stderr


# -- only trusted documents --------------------------------------------------------------------------


async def test_only_trusted_documents_refuses_everything_else_but_exempt_roles(
        make_client: MakeClient, tokens: dict[str, str], redis: Redis, pipeline_runs: list[int]) -> None:
    client, settings = await make_client(only_trusted_documents=True)
    await register(settings, ME)
    raw = "{ me { role tenant { name } } }"
    for email, token in [*tokens.items(), ("anonymous", None)]:
        exempt = email in EXEMPT
        r = await post(client, {"query": raw}, token, GRAPHQL_RESPONSE)
        if exempt:
            assert "errors" not in r.json(), (email, r.json())
        else:
            assert r.status_code == 400 and code(r) == "PERSISTED_QUERY_NOT_ALLOWED", (email, r.json())
        # A registered document runs for everyone: by id, by hash, or sent verbatim.
        for body in ({"documentId": f"sha256:{sha(ME)}"}, {"extensions": apq(ME)}, {"query": ME}):
            r = await post(client, body, token)
            if token is None:
                assert code(r) == "UNAUTHENTICATED", (email, body, r.json())
            else:
                assert r.json()["data"]["me"]["role"], (email, body, r.json())
        # New APQ text: only exempt principals may register it.
        text = f"{{ me {{ role }} __typename }} # {email}"
        r = await post(client, {"query": text, "extensions": apq(text)}, token)
        stored = await redis.get(persisted.keys(settings)[0] + sha(text))
        if exempt:
            assert "errors" not in r.json() and stored == text
        else:
            assert code(r) == "PERSISTED_QUERY_NOT_ALLOWED" and stored is None, (email, r.json())

    # APQ text an exempt user registered is not a trusted document for the others.
    admin_text = f"{{ me {{ role }} __typename }} # {ADMIN}"
    r = await post(client, {"extensions": apq(admin_text)}, tokens[DEALER1])
    assert code(r) == "PERSISTED_QUERY_NOT_ALLOWED"
    assert "errors" not in (await post(client, {"extensions": apq(admin_text)}, tokens[ANALYST])).json()

    # Exempt users keep GraphiQL and introspection.
    page = await client.get("/graphql", headers={"Accept": "text/html", **headers(tokens[ADMIN])})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    intro = await post(client, {"query": "{ __schema { queryType { name } } }"}, tokens[ANALYST])
    assert intro.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    intro = await post(client, {"query": "{ __schema { queryType { name } } }"}, tokens[STORE1])
    assert code(intro) == "PERSISTED_QUERY_NOT_ALLOWED"

    # A known compiled read the fast path could answer is refused all the same.
    pipeline_runs.clear()  # counted from here
    for _ in range(3):
        assert "errors" not in (await post(client, {"query": SKUS}, tokens[ADMIN])).json()
    assert len(pipeline_runs) < 3  # the fast path answered the admin
    r = await post(client, {"query": SKUS}, tokens[DEALER1])
    assert code(r) == "PERSISTED_QUERY_NOT_ALLOWED"


async def test_websocket_operations_name_documents_as_requests_do(
        make_client: MakeClient, tokens: dict[str, str]) -> None:
    """graphql-transport-ws ``subscribe``: by ``documentId`` or APQ hash, and in only-trusted mode
    nothing else for the restricted (a refusal is the operation's ``error``); an exempt role runs
    any text. A real server in this process, a real socket."""
    _, settings = await make_client(only_trusted_documents=True)
    await register(settings, ME)
    other = "{ me { role tenant { code } } }"
    async with serving(settings) as url:
        async with ws_connect(url, tokens[DEALER1]) as sock:
            await sock.send({"id": "d", "type": "subscribe", "payload": {"documentId": f"sha256:{sha(ME)}"}})
            answer = await sock.recv()
            assert answer["id"] == "d" and answer["type"] == "next", answer
            assert answer["payload"]["data"] == {"me": {"role": "DEALER_ADMIN"}}
            assert (await sock.recv())["type"] == "complete"
            await sock.send({"id": "h", "type": "subscribe", "payload": {"extensions": apq(ME)}})
            answer = await sock.recv()
            assert answer["type"] == "next" and answer["payload"]["data"] == {"me": {"role": "DEALER_ADMIN"}}
            assert (await sock.recv())["type"] == "complete"
            await sock.send({"id": "t", "type": "subscribe", "payload": {"query": other}})
            assert (await sock.refused("t"))["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
            await sock.send({"id": "u", "type": "subscribe", "payload": {"documentId": f"sha256:{'0' * 64}"}})
            assert (await sock.refused("u"))["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        async with ws_connect(url, tokens[ADMIN]) as sock:
            await sock.send({"id": "a", "type": "subscribe", "payload": {"query": other}})
            answer = await sock.recv()
            assert answer["type"] == "next" and answer["payload"]["data"]["me"]["role"] == "HQ_ADMIN"


async def test_the_exemption_is_a_setting(make_client: MakeClient, tokens: dict[str, str]) -> None:
    client, _ = await make_client(only_trusted_documents=True, trusted_documents_exempt_roles=frozenset())
    for email in EXEMPT:
        r = await post(client, {"query": ME}, tokens[email])
        assert code(r) == "PERSISTED_QUERY_NOT_ALLOWED"
    assert Settings().trusted_documents_exempt_roles == {"HQ_ADMIN", "ANALYST"}
    assert not Settings().only_trusted_documents
    os_env = {"YMT_ONLY_TRUSTED_DOCUMENTS": "true", "YMT_TRUSTED_DOCUMENTS_EXEMPT_ROLES": '["ANALYST"]'}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in os_env.items():
            mp.setenv(k, v)
        env_settings = Settings()
    assert env_settings.only_trusted_documents and env_settings.trusted_documents_exempt_roles == {"ANALYST"}
    # Off (the default), anything goes.
    client, _ = await make_client()
    assert "errors" not in (await post(client, {"query": ME}, tokens[DEALER1])).json()


# -- limits and paths --------------------------------------------------------------------------------


async def test_cost_and_rate_limits_apply_to_persisted_documents(make_client: MakeClient,
                                                                 tokens: dict[str, str]) -> None:
    client, settings = await make_client(rate_limit_enabled=True, rate_limit_bucket_size=10,
                                         rate_limit_restore_rate=0.01)
    await register(settings, SKUS5, TOO_BIG)
    token = tokens[DEALER1]
    big = await post(client, {"documentId": f"sha256:{sha(TOO_BIG)}"}, token, GRAPHQL_RESPONSE)
    assert big.status_code == 400 and code(big) == "QUERY_TOO_COMPLEX"
    assert big.json()["extensions"]["cost"]["requestedQueryCost"] == 63252
    first = await post(client, {"documentId": f"sha256:{sha(SKUS5)}"}, token)
    assert "errors" not in first.json()
    cost = first.json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 7 and cost["throttleStatus"]["maximumAvailable"] == 10
    second = await post(client, {"extensions": apq(SKUS5)}, token)
    assert second.status_code == 429 and code(second) == "RATE_LIMITED" and int(second.headers["retry-after"]) > 0

    # An APQ registration refused for its cost is stored all the same (it is valid): the next
    # hash-only request is priced again, not a miss.
    client, settings = await make_client()
    r = await post(client, {"query": TOO_BIG, "extensions": apq(TOO_BIG)}, token)
    assert code(r) == "QUERY_TOO_COMPLEX"
    assert code(await post(client, {"extensions": apq(TOO_BIG)}, token)) == "QUERY_TOO_COMPLEX"
    # A document that does not validate is not stored.
    invalid = "{ skus(first: 2) { nope } }"
    assert code(await post(client, {"query": invalid, "extensions": apq(invalid)}, token)) == "BAD_USER_INPUT"
    assert code(await post(client, {"extensions": apq(invalid)}, token)) == "PERSISTED_QUERY_NOT_FOUND"


async def test_compiled_fast_and_resolver_paths_answer_persisted_documents_alike(
        make_client: MakeClient, tokens: dict[str, str], compiled_answers: list[bool],
        pipeline_runs: list[int]) -> None:
    query = "query P { skus(first: 4) { edges { node { code name moq } } } }"
    client, settings = await make_client()
    await register(settings, query)
    token = tokens[DEALER1]
    persisted.STORE._trusted.items.clear()
    bodies = ({"documentId": f"sha256:{sha(query)}"}, {"extensions": apq(query)})
    compiled = [await post(client, body, token) for body in bodies for _ in range(2)]
    assert compiled_answers and all(compiled_answers)

    pipeline_runs.clear()  # counted from here
    fast = [await post(client, body, token) for body in bodies]
    assert pipeline_runs == []  # known text, known plan: the fast path answered, persisted or not

    resolver_client, _ = await make_client(compiled_reads=False,
                                                           persisted_key_prefix=settings.persisted_key_prefix)
    compiled_answers.clear()
    resolver = [await post(resolver_client, body, token) for body in bodies]
    assert compiled_answers == []
    expected = (await post(client, {"query": query}, token)).json()
    assert expected["data"]["skus"]["edges"]
    for r in (*compiled, *fast, *resolver):
        assert r.status_code == 200 and r.json()["data"] == expected["data"], r.json()
        assert r.json()["extensions"]["cost"]["requestedQueryCost"] == 6
