"""The read gate (``Settings.read_concurrency``; docs/DESIGN.md "Read gate"): an API process runs at
most that many compiled reads in PostgreSQL at once, and the others wait their turn in the order
they came. Requests go through the real app; a spy on the statement's execution holds each
statement a little longer, so that requests overlap and the gate has something to do."""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pydantic
import pytest

from ymt_graph.compiled import runner
from ymt_graph.settings import Settings

MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]  # tests/api/conftest.py's make_client
SKUS = "query Skus($n: Int) { skus(first: $n) { edges { node { code category { code } } } } }"
ADMIN = "admin@demo.example"

# Which of a test's requests a statement belongs to (each request runs in a task of its own).
WHO: contextvars.ContextVar[int] = contextvars.ContextVar("who", default=-1)


class Statements:
    """Compiled statements as PostgreSQL receives them: how many ran at once at most, whose
    request each was, in the order they started."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hold: float) -> None:
        self.running = self.peak = 0
        self.started: list[int] = []
        original = runner._fetch

        async def fetch(*args: Any, **kwargs: Any) -> bytes | None:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.started.append(WHO.get())
            try:
                await asyncio.sleep(hold)
                return await original(*args, **kwargs)
            finally:
                self.running -= 1

        monkeypatch.setattr(runner, "_fetch", fetch)


async def send_together(client: httpx.AsyncClient, token: str, count: int, spacing: float = 0.0) -> list[Any]:
    """``count`` requests at once, request ``i`` sent ``i × spacing`` seconds after the first."""

    async def one(i: int) -> Any:
        WHO.set(i)
        await asyncio.sleep(i * spacing)
        r = await client.post("/graphql", json={"query": SKUS, "variables": {"n": 3}},
                              headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return r.json()

    return await asyncio.gather(*(one(i) for i in range(count)))


@pytest.mark.parametrize("gate", [1, 2, 3])
async def test_no_more_compiled_reads_at_once_than_the_gate_allows(
    make_client: MakeClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    compiled_answers: list[bool], gate: int,
) -> None:
    client = await make_client(db_read_concurrency=gate)
    token = tokens[ADMIN]
    first = await send_together(client, token, 1)  # the plan is built (and cached) here
    statements = Statements(monkeypatch, hold=0.02)
    answers = await send_together(client, token, 12)
    assert statements.peak == gate  # the gate is full while requests wait, and never over
    assert len(statements.started) == 12 and all(compiled_answers)
    assert all(a == first[0] for a in answers)  # waiting changes nothing in the answer


async def test_without_a_tight_gate_the_same_requests_overlap_further(
    make_client: MakeClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The measurement above can see more than the gate allows: with room for all, it does."""
    client = await make_client(db_read_concurrency=64)
    await send_together(client, tokens[ADMIN], 1)
    statements = Statements(monkeypatch, hold=0.02)
    await send_together(client, tokens[ADMIN], 12)
    assert statements.peak > 3


async def test_waiting_reads_run_in_the_order_they_came(
    make_client: MakeClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """First come, first served: with a gate of one, a request that arrived while others waited
    never overtakes them (PostgreSQL's run queue and SQLAlchemy's pool promise no such order)."""
    client = await make_client(db_read_concurrency=1)
    await send_together(client, tokens[ADMIN], 1)
    statements = Statements(monkeypatch, hold=0.04)
    await send_together(client, tokens[ADMIN], 8, spacing=0.01)
    assert statements.started == list(range(8))
    assert statements.peak == 1


def test_the_gate_defaults_to_twice_the_machines_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YMT_DB_READ_CONCURRENCY", raising=False)
    assert Settings().read_concurrency == 2 * len(os.sched_getaffinity(0))
    monkeypatch.setenv("YMT_DB_READ_CONCURRENCY", "5")
    assert Settings().read_concurrency == 5
    with pytest.raises(pydantic.ValidationError):
        Settings(db_read_concurrency=0)
