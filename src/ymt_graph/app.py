"""Starlette app factory: /graphql (+GraphiQL), /health, /ready, /metrics."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from ymt_graph.api.metrics import metrics_endpoint
from ymt_graph.api.schema import build_schema
from ymt_graph.api.view import GraphQLView
from ymt_graph.db import dispose_engines, get_engine
from ymt_graph.settings import Settings

log = logging.getLogger("ymt_graph")


def create_app(settings: Settings) -> Starlette:
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("create_app needs DATABASE_URL and REDIS_URL (the CLI starts embedded ones).")
    schema = build_schema(settings.max_depth, settings.max_tokens, settings.max_aliases)
    view = GraphQLView(schema, settings)
    engine = get_engine(settings.database_url, settings.db_pool_size)
    redis: Redis = Redis.from_url(settings.redis_url)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        checks: dict[str, str] = {}
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            checks["database"] = f"down: {type(exc).__name__}"
        try:
            await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"down: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", **checks}, status_code=200 if ok else 503)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Everything built at start-up lives for the process: keep the collector off it.
        gc.collect()
        gc.freeze()
        yield
        await redis.aclose()
        await dispose_engines()

    return Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/health", health),
            Route("/ready", ready),
            Route("/metrics", metrics_endpoint),
        ],
        lifespan=lifespan,
    )
