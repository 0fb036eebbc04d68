"""What the API tests share: clients of apps with their own settings, and spies (which read path
answered, how often strawberry's pipeline ran, what was taken from the cost bucket), each of which
records real calls and passes them through."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from ymt_graph.api import cost as cost_module
from ymt_graph.api.view import GraphQLView
from ymt_graph.compiled import runner
from ymt_graph.settings import Settings


@pytest.fixture
def compiled_answers(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each operation since was answered by the compiled path."""
    seen: list[bool] = []
    original = runner.answer

    async def spy(*args: Any, **kwargs: Any) -> bytes | None:
        data = await original(*args, **kwargs)
        seen.append(data is not None)
        return data

    monkeypatch.setattr(runner, "answer", spy)
    return seen


@pytest.fixture
def pipeline_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per request that went through strawberry's pipeline (``GraphQLView.run``), not
    the view's fast path."""
    calls: list[int] = []
    original = GraphQLView.run

    async def run(view: GraphQLView, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await original(view, *args, **kwargs)

    monkeypatch.setattr(GraphQLView, "run", run)
    return calls


@pytest.fixture
def bucket_takes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The cost of each take from the rate-limit bucket since."""
    takes: list[int] = []
    original = cost_module.Buckets.take

    async def take(self: Any, settings: Settings, key: str, cost: int) -> Any:
        takes.append(cost)
        return await original(self, settings, key, cost)

    monkeypatch.setattr(cost_module.Buckets, "take", take)
    return takes


MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def make_client(settings: Settings) -> AsyncIterator[MakeClient]:
    """A client of an app with these settings changed (``make(**update)``), and a rate-limit
    bucket namespace of its own."""
    from ymt_graph.app import create_app

    clients: list[httpx.AsyncClient] = []

    async def make(**update: Any) -> httpx.AsyncClient:
        update = {"rate_limit_key_prefix": f"ymt-test-{secrets.token_hex(4)}", **update}
        app: Starlette = create_app(settings.model_copy(update=update))
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()
