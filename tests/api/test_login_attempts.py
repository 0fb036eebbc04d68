"""Failed logins per account (org.identity.LoginAttempts): past the limit within the window, the
account takes no password — the right one included — until the window ends; other accounts are
untouched; a success clears the count; unknown emails count alike; without Redis nothing is
limited. Real Redis, through the app; each client has its own key namespace."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from live_helpers import free_port

MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]  # tests/api/conftest.py's make_client
LOGIN = """mutation($e: String!, $p: String!) { tokenCreate(input: {email: $e, password: $p}) {
  token userErrors { code field message } } }"""
RIGHT = "demo-password"


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    r = await client.post("/graphql", json={"query": LOGIN, "variables": {"e": email, "p": password}})
    assert r.status_code == 200, r.text
    return dict(r.json()["data"]["tokenCreate"])


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


async def test_past_the_limit_the_account_takes_no_password(make_client: MakeClient) -> None:
    client = await make_client(login_max_failures=3, login_failure_window_seconds=60)
    for _ in range(3):
        assert codes(await login(client, "staff1@demo.example", "guess")) == ["INVALID_CREDENTIALS"]
    locked = await login(client, "staff1@demo.example", RIGHT)
    assert locked["token"] is None and codes(locked) == ["TOO_MANY_ATTEMPTS"]
    assert locked["userErrors"][0]["field"] == ["email"] and "1 minute(s)" in locked["userErrors"][0]["message"]
    # The same account however it is spelled; another account logs in as before.
    assert codes(await login(client, "  Staff1@Demo.Example ", RIGHT)) == ["TOO_MANY_ATTEMPTS"]
    assert (await login(client, "dealer2@demo.example", RIGHT))["token"]


async def test_a_success_clears_the_count(make_client: MakeClient) -> None:
    client = await make_client(login_max_failures=3, login_failure_window_seconds=60)
    for _ in range(2):
        await login(client, "dealer1@demo.example", "guess")
    assert (await login(client, "dealer1@demo.example", RIGHT))["token"]
    for _ in range(2):
        await login(client, "dealer1@demo.example", "guess")
    assert (await login(client, "dealer1@demo.example", RIGHT))["token"]  # 2 since the success, not 4
    for _ in range(3):
        await login(client, "dealer1@demo.example", "guess")
    assert codes(await login(client, "dealer1@demo.example", RIGHT)) == ["TOO_MANY_ATTEMPTS"]


async def test_unknown_emails_count_alike(make_client: MakeClient) -> None:
    """Answers must not tell which accounts exist."""
    client = await make_client(login_max_failures=2, login_failure_window_seconds=60)
    answers = [codes(await login(client, email, "guess")) for email in ("ghost@demo.example", "store1@demo.example")
               for _ in range(3)]
    assert answers[:3] == answers[3:] == [["INVALID_CREDENTIALS"]] * 2 + [["TOO_MANY_ATTEMPTS"]]


async def test_the_account_opens_again_when_the_window_ends(make_client: MakeClient) -> None:
    client = await make_client(login_max_failures=2, login_failure_window_seconds=1)
    for _ in range(2):
        await login(client, "analyst@demo.example", "guess")
    assert codes(await login(client, "analyst@demo.example", RIGHT)) == ["TOO_MANY_ATTEMPTS"]
    await asyncio.sleep(1.2)
    assert (await login(client, "analyst@demo.example", RIGHT))["token"]


async def test_without_redis_logins_are_not_limited(make_client: MakeClient) -> None:
    client = await make_client(login_max_failures=1, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    for _ in range(3):
        assert codes(await login(client, "sales.east@demo.example", "guess")) == ["INVALID_CREDENTIALS"]
    assert (await login(client, "sales.east@demo.example", RIGHT))["token"]
