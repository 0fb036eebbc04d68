"""scripts/bench/loadgen.py against a tiny in-process HTTP/1.1 server whose behaviour
is chosen by path (delay, chunked framing, GraphQL errors, status, Connection: close).
No database; a few short runs, well under 3 s in all."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_loadgen() -> ModuleType:
    # scripts/ is not a package; register the module so its dataclasses resolve.
    spec = importlib.util.spec_from_file_location("bench_loadgen", ROOT / "scripts" / "bench" / "loadgen.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


loadgen = _load_loadgen()

OK_BODY = b'{"data":{"ok":true}}'
ERR_BODY = b'{"data":null,"errors":[{"message":"boom"}]}'
SHORT = {"duration": 0.2, "warmup": 0.03}


class FakeServer:
    """Keep-alive HTTP/1.1 server; counts requests and connections per path."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                self.requests[path] += 1
                if not await self._respond(path, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _respond(self, path: str, writer: asyncio.StreamWriter) -> bool:
        """Write the response for ``path``; False to close the connection."""
        if path == "/slow":
            await asyncio.sleep(0.02)
        if path in ("/ok", "/slow"):
            writer.write(self._fixed(200, OK_BODY))
        elif path == "/chunked":
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                + b"8;ext=1\r\n"
                + OK_BODY[:8]
                + b"\r\n"
                + f"{len(OK_BODY) - 8:x}\r\n".encode()
                + OK_BODY[8:]
                + b"\r\n"
                + b"0\r\nX-Trailer: t\r\n\r\n"
            )
        elif path == "/errors":
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + f"{len(ERR_BODY):X}\r\n".encode()
                + ERR_BODY
                + b"\r\n0\r\n\r\n"
            )
        elif path == "/500":
            writer.write(self._fixed(500, b"Internal Server Error"))
        elif path == "/close":
            writer.write(self._fixed(200, OK_BODY, b"Connection: close\r\n"))
            await writer.drain()
            return False
        else:
            writer.write(self._fixed(404, b""))
        await writer.drain()
        return True

    @staticmethod
    def _fixed(status: int, body: bytes, extra: bytes = b"") -> bytes:
        return (
            f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\nContent-Type: application/json\r\n".encode()
            + extra
            + b"\r\n"
            + body
        )


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    srv = FakeServer()
    await srv.start()
    yield srv
    await srv.stop()


async def test_counts_requests_and_latency(server: FakeServer) -> None:
    res = await loadgen.run_load("127.0.0.1", server.port, "/slow", b"{}", {}, concurrency=4, duration=0.3, warmup=0.05)
    assert res.errors == 0 and res.timeouts == 0
    # Every request the server saw completed (warmup and tail included).
    assert res.total_requests == server.requests["/slow"]
    assert server.connections == 4  # keep-alive: one connection per worker
    # 4 connections x >= 20 ms each in a 0.3 s window: at most ~60 measured requests.
    assert 15 <= res.requests <= 64
    assert res.requests < res.total_requests
    assert len(res.latencies_ms) == res.requests
    assert res.rps == pytest.approx(res.requests / 0.3)
    assert 20.0 <= res.p50 <= res.p90 <= res.p99 < 200.0


async def test_chunked_body_is_read_and_validated(server: FakeServer) -> None:
    seen: list[bytes] = []

    def validate(body: bytes) -> bool:
        seen.append(body)
        return body == OK_BODY

    res = await loadgen.run_load(
        "127.0.0.1", server.port, "/chunked", b"{}", {}, concurrency=2, validate=validate, validate_every=1, **SHORT
    )
    assert res.requests > 0 and res.errors == 0
    assert res.validated == res.requests == len(seen) and res.invalid == 0
    assert server.connections == 2


async def test_failed_validation_is_an_error(server: FakeServer) -> None:
    res = await loadgen.run_load(
        "127.0.0.1", server.port, "/ok", b"", {}, concurrency=1, validate=lambda b: False, validate_every=3, **SHORT
    )
    assert res.validated > 0
    assert res.invalid == res.validated == res.errors
    assert res.validated == pytest.approx(res.requests / 3, abs=1)


@pytest.mark.parametrize("path", ["/errors", "/500"])
async def test_graphql_errors_and_bad_status_count_as_errors(server: FakeServer, path: str) -> None:
    res = await loadgen.run_load("127.0.0.1", server.port, path, b"{}", {}, concurrency=2, **SHORT)
    assert res.requests > 0
    assert res.errors == res.requests
    assert res.error_samples


async def test_connection_close_reconnects(server: FakeServer) -> None:
    res = await loadgen.run_load("127.0.0.1", server.port, "/close", b"{}", {}, concurrency=2, **SHORT)
    assert res.requests > 0 and res.errors == 0
    # One connection per request: the server closes each. At most one request per worker
    # may still be in flight when the run stops, counted by the server but not by the run.
    assert res.total_requests <= server.requests["/close"] <= server.connections <= res.total_requests + 2


async def test_refused_connections_are_errors_and_the_run_still_ends() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    res = await loadgen.run_load("127.0.0.1", port, "/", b"", {}, concurrency=2, **SHORT)
    assert res.requests == res.errors > 0
    assert res.latencies_ms.tolist() == []


async def test_request_once_and_headers(server: FakeServer) -> None:
    r = await loadgen.request_once("127.0.0.1", server.port, "/ok", b"{}", {"Authorization": "Bearer x"})
    assert (r.status, r.body, r.headers["content-type"]) == (200, OK_BODY, "application/json")
    raw = loadgen.encode_request("127.0.0.1", 8000, "/graphql", b"{}", {"Authorization": "Bearer x"})
    assert raw.startswith(b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Length: 2\r\n")
    assert raw.endswith(b"Authorization: Bearer x\r\n\r\n{}")


@pytest.mark.parametrize("host", ["10.0.0.1", "example.com", "0.0.0.0", "192.168.1.2"])
async def test_refuses_non_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        await loadgen.run_load(host, 80, "/", b"", {}, concurrency=1, duration=0.1, warmup=0)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "localhost", "::1"])
def test_accepts_loopback(host: str) -> None:
    loadgen.check_loopback(host)


def test_percentiles_are_nearest_rank() -> None:
    res = loadgen.LoadResult(requests=100, errors=0, duration=1.0, total_requests=100)
    res.latencies_ms.extend(float(i) for i in range(1, 101))
    assert (res.p50, res.p90, res.p99) == (50.0, 90.0, 99.0)
