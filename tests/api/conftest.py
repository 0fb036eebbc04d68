"""Spies the API tests share: which read path answered, how often strawberry's pipeline ran,
what was taken from the cost bucket. Each records real calls and passes them through."""

from __future__ import annotations

from typing import Any

import pytest

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
