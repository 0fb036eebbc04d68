"""Fixtures of the compiled-path tests: the same database served twice, compiled and not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.db import count_statements
from ymt_graph.settings import Settings


def canonical(body: Any) -> bytes:
    """JSON with keys sorted: what both paths must agree on byte for byte."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


@pytest.fixture(scope="module")
async def reference(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The resolver path only (compiled reads off), on the module's database."""
    from ymt_graph.app import create_app

    app = create_app(settings.model_copy(update={"compiled_reads": False}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ref") as c:
        yield c


class Both:
    """Run one operation on both paths; return both bodies and the compiled path's statements."""

    def __init__(self, compiled: httpx.AsyncClient, reference: httpx.AsyncClient, engine: AsyncEngine) -> None:
        self.compiled, self.reference, self.engine = compiled, reference, engine

    async def run(self, query: str, variables: dict[str, Any] | None, token: str) -> tuple[Any, Any, int]:
        payload = {"query": query, "variables": variables or {}}
        headers = {"Authorization": f"Bearer {token}"}
        with count_statements(self.engine) as counter:
            fast = (await self.compiled.post("/graphql", json=payload, headers=headers)).json()
        slow = (await self.reference.post("/graphql", json=payload, headers=headers)).json()
        return fast, slow, counter.count


@pytest.fixture(scope="module")
def both(module_client: httpx.AsyncClient, reference: httpx.AsyncClient, engine: AsyncEngine) -> Both:
    return Both(module_client, reference, engine)
