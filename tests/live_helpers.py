"""Real servers for tests that go over the network: the app under uvicorn on a loopback port, a
graphql-transport-ws client, and a webhook receiver that verifies signatures. Shared by the
subscription tests and the acceptance tests (``tests/`` is on the import path via its conftest)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from ymt_graph.notifications.delivery import verify_signature
from ymt_graph.settings import Settings

PROTOCOL = "graphql-transport-ws"
WAIT = 5.0  # seconds a message may take before a test fails


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    """The app under a real uvicorn server in this process; its ws:// URL."""
    from ymt_graph.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        srv.should_exit = True
        await task


class Socket:
    """One graphql-transport-ws connection, spoken message by message."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def recv(self) -> dict[str, Any]:
        data = await asyncio.wait_for(self.ws.recv(), WAIT)
        message: dict[str, Any] = orjson.loads(data)
        return message

    async def init(self, payload: dict[str, Any] | None = None) -> None:
        await self.send({"type": "connection_init", "payload": payload or {}})
        assert (await self.recv())["type"] == "connection_ack"

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any]) -> None:
        await self.send({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}})

    async def next_event(self, op_id: str) -> dict[str, Any]:
        """The next event of an operation (its ``next`` message's single root field)."""
        message = await self.recv()
        assert message["type"] == "next" and message["id"] == op_id, message
        assert "errors" not in message["payload"], message
        (event,) = message["payload"]["data"].values()
        assert isinstance(event, dict)
        return event

    async def refused(self, op_id: str) -> dict[str, Any]:
        """The operation's ``error`` message: its one GraphQL error."""
        message = await self.recv()
        assert message["type"] == "error" and message["id"] == op_id, message
        (error,) = message["payload"]
        assert isinstance(error, dict)
        return error

    async def complete(self, op_id: str) -> None:
        await self.send({"id": op_id, "type": "complete"})


@contextlib.asynccontextmanager
async def ws_connect(
    url: str, token: str | None = None, *, header_token: str | None = None, init: dict[str, Any] | None = None,
) -> AsyncIterator[Socket]:
    """Connected and acknowledged. ``token`` goes in connection_init (``{"authorization": "Bearer …"}``),
    ``header_token`` in the upgrade request; ``init`` replaces the whole connection_init payload."""
    headers = {"Authorization": f"Bearer {header_token}"} if header_token else None
    async with connect(url, subprotocols=[Subprotocol(PROTOCOL)], additional_headers=headers, open_timeout=5) as ws:
        assert ws.subprotocol == PROTOCOL
        sock = Socket(ws)
        await sock.init(init if init is not None else ({"authorization": f"Bearer {token}"} if token else {}))
        yield sock



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


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = Starlette(routes=[Route("/{path}", rec.handle, methods=["POST"])])
    port = free_port()
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
