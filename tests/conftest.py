"""Shared fixtures: real PostgreSQL + Redis, one migrated+seeded template per run,
one database copy per test module, the ASGI app, an HTTP client and demo logins.

Servers come from ``DATABASE_URL`` / ``REDIS_URL`` (an admin-capable PostgreSQL
URL; CI sets them). Unset, an embedded PostgreSQL and Redis are started for the
session under ``.ymt/test-embedded`` (override with ``YMT_TEST_DATA_DIR``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ymt_graph import migrate
from ymt_graph.db import dispose_engines, get_engine, plain_url
from ymt_graph.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]

DEMO_PASSWORD = "demo-password"
DEMO_EMAILS = (
    "admin@demo.example",
    "sales.east@demo.example",
    "analyst@demo.example",
    "dealer1@demo.example",
    "dealer2@demo.example",
    "subdealer1@demo.example",
    "store1@demo.example",
    "staff1@demo.example",
)

TOKEN_CREATE = """
mutation($i: TokenCreateInput!) {
  tokenCreate(input: $i) { token userErrors { code message } }
}
"""


# -- database helpers ---------------------------------------------------------------


def database_url(base_url: str, name: str) -> str:
    """``base_url`` pointed at database ``name`` (keeps host, socket query, credentials)."""
    parts = urlsplit(plain_url(base_url))
    return urlunsplit(parts._replace(path="/" + name))


async def create_database(base_url: str, name: str, *, template: str | None = None) -> str:
    conn = await asyncpg.connect(plain_url(base_url))
    try:
        if template is None:
            await conn.execute(f'CREATE DATABASE "{name}"')
        else:
            # CREATE … TEMPLATE fails while anyone is connected to the template;
            # a stray pooled connection must not fail the whole module.
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                template,
            )
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return database_url(base_url, name)


async def drop_database(base_url: str, name: str) -> None:
    conn = await asyncpg.connect(plain_url(base_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


# -- servers & databases ---------------------------------------------------------------


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    """(PostgreSQL URL with CREATE DATABASE rights, Redis URL) for this test run."""
    database = os.environ.get("DATABASE_URL")
    redis = os.environ.get("REDIS_URL")
    if database and redis:
        yield database, redis
        return
    from ymt_graph.embedded import EmbeddedServices

    data_dir = Path(os.environ.get("YMT_TEST_DATA_DIR", REPO_ROOT / ".ymt" / "test-embedded"))
    # durable=False: fsync off, test databases are disposable and copying is faster.
    services = EmbeddedServices(durable=False)
    services.start(data_dir, need_postgres=not database, need_redis=not redis)
    try:
        database = database or services.database_url
        redis = redis or services.redis_url
        assert database and redis
        yield database, redis
    finally:
        services.stop()


@pytest.fixture(scope="session")
def redis_url(server_urls: tuple[str, str]) -> str:
    return server_urls[1]


@pytest.fixture(scope="session")
async def template_db(server_urls: tuple[str, str]) -> AsyncIterator[str]:
    """Name of a database migrated to head and seeded with the demo data, once per run."""
    base = server_urls[0]
    name = _unique("ymt_tmpl")
    url = await create_database(base, name)
    try:
        await migrate.upgrade_async(url)
        from ymt_graph.seed import seed  # lazy: only suites that need data pay for it

        await seed(url, scale="demo")
        # Copies need the template idle: close every pooled connection to it.
        await dispose_engines()
        yield name
    finally:
        await dispose_engines()
        await drop_database(base, name)


class NewDatabase(Protocol):
    def __call__(self, *, template: str | None = None) -> Awaitable[str]: ...


@pytest.fixture
async def new_database(server_urls: tuple[str, str]) -> AsyncIterator[NewDatabase]:
    """Factory for extra databases (empty, or copied from a template) dropped after the test."""
    base = server_urls[0]
    names: list[str] = []

    async def make(*, template: str | None = None) -> str:
        name = _unique("ymt_t")
        names.append(name)
        return await create_database(base, name, template=template)

    yield make
    await dispose_engines()
    for name in names:
        await drop_database(base, name)


@pytest.fixture(scope="module")
async def db_url(server_urls: tuple[str, str], template_db: str) -> AsyncIterator[str]:
    """This module's own copy of the seeded template (asyncpg-style ``postgresql://`` URL)."""
    base = server_urls[0]
    name = _unique("ymt_t")
    url = await create_database(base, name, template=template_db)
    try:
        yield url
    finally:
        # Engines are cached per URL; close them so DROP DATABASE doesn't wait.
        await dispose_engines()
        await drop_database(base, name)


@pytest.fixture(scope="module")
def settings(db_url: str, redis_url: str, request: pytest.FixtureRequest) -> Settings:
    # A module that pins the resolver path (its statement counts) says COMPILED_READS = False.
    compiled = getattr(request.module, "COMPILED_READS", True)
    return Settings(database_url=db_url, redis_url=redis_url, env="test", compiled_reads=compiled)


@pytest.fixture(scope="module")
def engine(db_url: str) -> AsyncEngine:
    return get_engine(db_url)


# -- the app over HTTP -------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(settings: Settings) -> Starlette:
    from ymt_graph.app import create_app  # lazy: collection must not need the whole app

    return create_app(settings)


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as c:
        yield c


async def post_graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    expect_errors: bool = False,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    response = await client.post("/graphql", json=payload, headers=headers)
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        raise AssertionError(
            f"/graphql answered {response.status_code} with non-JSON: {response.text[:500]}"
        ) from None
    if not expect_errors:
        assert "errors" not in body, f"GraphQL errors: {body['errors']}"
        assert response.status_code == 200, f"HTTP {response.status_code}: {body}"
    return body


class Gql(Protocol):
    def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        expect_errors: bool = False,
    ) -> Awaitable[dict[str, Any]]: ...


@pytest.fixture(scope="module")
async def module_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client shared by the module (backs ``gql`` and ``tokens``, usable from module fixtures)."""
    async with _client(app) as c:
        yield c


@pytest.fixture(scope="module")
def gql(module_client: httpx.AsyncClient) -> Gql:
    """``await gql(query, variables, token=..., expect_errors=False)`` → the JSON body.

    Module-scoped so module-scoped fixtures can use it too.
    """

    async def run(
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        expect_errors: bool = False,
    ) -> dict[str, Any]:
        return await post_graphql(module_client, query, variables, token=token, expect_errors=expect_errors)

    return run


@pytest.fixture(scope="module")
async def tokens(module_client: httpx.AsyncClient) -> dict[str, str]:
    """Access token of every demo login, by email."""
    result: dict[str, str] = {}
    for email in DEMO_EMAILS:
        body = await post_graphql(module_client, TOKEN_CREATE, {"i": {"email": email, "password": DEMO_PASSWORD}})
        payload = body["data"]["tokenCreate"]
        assert not payload["userErrors"], f"login {email}: {payload['userErrors']}"
        assert payload["token"], f"login {email}: no token"
        result[email] = payload["token"]
    return result
