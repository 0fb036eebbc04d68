"""Helpers of the notifications tests: demo ids, a clean slate, a real HTTP receiver."""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ymt_graph.notifications import service
from ymt_graph.notifications.delivery import verify_signature


@dataclass(frozen=True)
class Demo:
    tenant_id: int
    d1: int  # D0001
    d2: int  # D0002


async def demo_ids(engine: AsyncEngine) -> Demo:
    async with engine.connect() as conn:
        tenant = (await conn.execute(sa.text("SELECT id FROM tenants WHERE code = 'demo'"))).scalar_one()
        rows = dict((await conn.execute(sa.text(
            "SELECT code, id FROM dealers WHERE code IN ('D0001', 'D0002')"))).all())
    return Demo(tenant, rows["D0001"], rows["D0002"])


async def clean_slate(engine: AsyncEngine) -> None:
    """Earlier tests of the module leave subscriptions and events: retire them."""
    async with engine.begin() as conn:
        await conn.execute(sa.update(service.subscriptions).values(active=False, deleted_at=sa.func.now()))
        await conn.execute(sa.update(service.events).where(service.events.c.published_at.is_(None))
                           .values(published_at=sa.func.now()))


async def add_subscription(
    engine: AsyncEngine, tenant_id: int, url: str, event_types: list[str], owner: int | None = None
) -> tuple[int, str]:
    secret = "whsec_test_" + url[-6:]
    async with engine.begin() as conn:
        new_id = (await conn.execute(sa.insert(service.subscriptions).values(
            tenant_id=tenant_id, url=url, event_types=event_types, secret=secret, owner_dealer_id=owner,
        ).returning(service.subscriptions.c.id))).scalar_one()
    return int(new_id), secret


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    """A webhook endpoint on a loopback port: verifies signatures against the secrets it was
    given, records every request, answers the statuses queued per path (then 200)."""

    base_url: str = ""
    secrets: dict[str, str] = field(default_factory=dict)  # path → secret
    statuses: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [orjson.loads(r.body) for r in self.received if r.path == path]

    async def handle(self, request: Request) -> JSONResponse:
        path = request.path_params["path"]
        body = await request.body()
        secret = self.secrets.get(path, "")
        self.received.append(Received(path, dict(request.headers), body,
                                      verify_signature(secret, body, request.headers.get("x-ymt-signature"))))
        if self.delay:
            await asyncio.sleep(self.delay)
        queued = self.statuses[path]
        return JSONResponse({"ok": True}, status_code=queued.pop(0) if queued else 200)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = Starlette(routes=[Route("/{path}", rec.handle, methods=["POST"])])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no "started" event to await
        await asyncio.sleep(0.01)
    rec.base_url = f"http://127.0.0.1:{port}"
    try:
        yield rec
    finally:
        server.should_exit = True
        await task
