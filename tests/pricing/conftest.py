"""Fixtures of the price-centre tests (helpers live in ``pricing_helpers``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pricing_helpers import Demo, load_demo
from sqlalchemy.ext.asyncio import AsyncEngine

from ymt_graph.db import RequestDb


@pytest.fixture(scope="module")
async def demo(gql: Any, tokens: dict[str, str], engine: AsyncEngine) -> Demo:
    return await load_demo(gql, tokens, engine)


@pytest.fixture
async def request_db(engine: AsyncEngine) -> AsyncIterator[RequestDb]:
    db = RequestDb(engine)
    try:
        yield db
    finally:
        await db.close()
