"""The edge as a client sees it: authentication, limits, error codes, HTTP rules, probes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ymt_graph.catalog import service as catalog_service

ADMIN = "admin@demo.example"


async def test_unauthenticated_request_gets_coded_error(client: httpx.AsyncClient) -> None:
    r = await client.post("/graphql", json={"query": "{ me { user { email } } }"})
    assert r.status_code == 200
    body = r.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-jwt", "Bearer ymt_deadbeef0000_nope", "Basic dXNlcjpwdw==", "Bearer "],
)
async def test_bad_credentials_are_unauthenticated(client: httpx.AsyncClient, header: str) -> None:
    r = await client.post("/graphql", json={"query": "{ dealers(first: 1) { totalCount } }"},
                          headers={"Authorization": header})
    err = r.json()["errors"][0]
    assert err["extensions"]["code"] == "UNAUTHENTICATED"
    assert err["message"]


async def test_token_create_wrong_password(gql: Any) -> None:
    q = """mutation { tokenCreate(input: {email: "admin@demo.example", password: "nope"}) {
             token userErrors { code field } } }"""
    payload = (await gql(q))["data"]["tokenCreate"]
    assert payload["token"] is None
    assert payload["userErrors"] == [{"code": "INVALID_CREDENTIALS", "field": ["email"]}]


async def test_token_refresh_issues_working_token(gql: Any) -> None:
    q = 'mutation { tokenCreate(input: {email: "dealer1@demo.example", password: "demo-password"}) { refreshToken } }'
    refresh = (await gql(q))["data"]["tokenCreate"]["refreshToken"]
    q2 = "mutation($r: String!) { tokenRefresh(input: {refreshToken: $r}) { token expiresAt userErrors { code } } }"
    out = (await gql(q2, {"r": refresh}))["data"]["tokenRefresh"]
    assert out["userErrors"] == [] and out["token"]
    me = (await gql("{ me { role dealer { code } } }", token=out["token"]))["data"]["me"]
    assert me == {"role": "DEALER_ADMIN", "dealer": {"code": "D0001"}}
    bad = (await gql(q2, {"r": out["token"]}))["data"]["tokenRefresh"]  # an access token is no refresh token
    assert bad["userErrors"][0]["code"] == "REFRESH_TOKEN_INVALID"


def _nested(depth: int) -> str:
    inner = "id"
    for _ in range(depth):
        inner = f"parent {{ {inner} }}"
    return "{ dealer(code: \"D0001-01\") { " + inner + " } }"


async def test_deep_query_refused_before_execution(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    r = await client.post("/graphql", json={"query": _nested(20)}, headers={"Authorization": f"Bearer {tokens[ADMIN]}"})
    body = r.json()
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_reasonable_depth_runs(gql: Any, tokens: dict[str, str]) -> None:
    assert (await gql(_nested(1), token=tokens[ADMIN]))["data"]["dealer"]["parent"]["id"]
    q = """{ dealers(first: 2) { edges { node { stores(first: 2) {
             edges { node { region { parent { parent { code } } } } } } } } } }"""
    assert (await gql(q, token=tokens[ADMIN]))["data"]["dealers"]["edges"]


async def test_alias_limit(gql: Any, tokens: dict[str, str]) -> None:
    query = "{ " + " ".join(f"a{i}: me {{ role }}" for i in range(40)) + " }"
    body = await gql(query, token=tokens[ADMIN], expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_token_limit(gql: Any, tokens: dict[str, str]) -> None:
    query = "{ me { " + " ".join(["role"] * 5000) + " } }"
    body = await gql(query, token=tokens[ADMIN], expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_page_size_is_bounded(gql: Any, tokens: dict[str, str]) -> None:
    body = await gql("{ skus(first: 251) { totalCount } }", token=tokens[ADMIN], expect_errors=True)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}


async def test_garbage_cursor_is_bad_input(gql: Any, tokens: dict[str, str]) -> None:
    body = await gql('{ dealers(after: "%%%") { totalCount } }', token=tokens[ADMIN], expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_graphql_response_media_type_and_400(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {tokens[ADMIN]}", "Accept": "application/graphql-response+json"}
    bad = await client.post("/graphql", json={"query": "{ noSuchField }"}, headers=headers)
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/graphql-response+json")
    good = await client.post("/graphql", json={"query": "{ me { role } }"}, headers=headers)
    assert good.status_code == 200
    assert good.json()["data"] == {"me": {"role": "HQ_ADMIN"}} and "errors" not in good.json()
    legacy = await client.post("/graphql", json={"query": "{ noSuchField }"},
                               headers={"Authorization": f"Bearer {tokens[ADMIN]}"})
    assert legacy.status_code == 200 and legacy.headers["content-type"].startswith("application/json")


async def test_get_query_and_no_mutation_over_get(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {tokens[ADMIN]}"}
    r = await client.get("/graphql", params={"query": "{ me { role } }"}, headers=auth)
    assert r.json()["data"] == {"me": {"role": "HQ_ADMIN"}}
    assert r.json()["extensions"]["cost"]["requestedQueryCost"] == 1
    m = 'mutation { tokenCreate(input: {email: "a", password: "b"}) { token } }'
    r = await client.get("/graphql", params={"query": m}, headers=auth)
    assert r.status_code in (400, 405)


async def test_graphiql_served_to_browsers(client: httpx.AsyncClient) -> None:
    r = await client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "graphiql" in r.text.lower()


async def test_internal_errors_are_masked_with_request_id(
    client: httpx.AsyncClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail: SELECT password_hash FROM users")

    monkeypatch.setattr(catalog_service, "skus_page", broken)
    # `Me.user` is not compiled: the query takes the resolver path, where skus_page is broken.
    r = await client.post("/graphql", json={"query": "{ me { user { id } } skus { totalCount } }"},
                          headers={"Authorization": f"Bearer {tokens[ADMIN]}", "X-Request-Id": "req-123"})
    err = r.json()["errors"][0]
    assert err["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-123"}
    assert "secret" not in r.text and "SELECT" not in r.text
    assert r.headers["x-request-id"] == "req-123"
    assert any("req-123" in rec.getMessage() for rec in caplog.records), "the traceback is logged under the id"


async def test_health_ready_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    await client.post("/graphql", json={"query": "{ __typename }"})
    metrics = (await client.get("/metrics")).text
    assert "ymt_graphql_requests_total" in metrics and "ymt_graphql_request_seconds_bucket" in metrics


def test_schema_file_matches_code() -> None:
    from pathlib import Path

    from ymt_graph.api.schema import schema_sdl

    committed = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text(encoding="utf-8")
    assert committed == schema_sdl(), "run `ymt-graph schema export` and commit schema.graphql"
