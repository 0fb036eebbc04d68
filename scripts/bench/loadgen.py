"""A small, cheap HTTP/1.1 keep-alive load generator on plain asyncio streams.

Why not httpx/aiohttp: on a 2-core machine the client competes with the server
for CPU, and a general-purpose client spends more per request than a bare
uvicorn endpoint does. Here every request is pre-encoded once, each worker
keeps one connection open and sends the next request as soon as the previous
response is read (closed loop, no pipelining), and parsing is the minimum
needed to find the body: status line, a few headers, Content-Length or
chunked framing.

Only loopback targets are accepted: this is for benchmarking a local server,
never for loading someone else's.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_DURATION = 600.0  # seconds; a guard against a typo running for hours
MAX_CONCURRENCY = 1024
_GRACE = 10.0  # seconds after the window for in-flight requests before they are cancelled


class ProtocolError(Exception):
    """The server sent something this client does not understand."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class LoadResult:
    """Counts and latencies of the requests that completed inside the measured window."""

    requests: int  # completed in the window, errors included
    errors: int  # non-200, body with "errors", failed validation, connection errors
    duration: float  # length of the measured window, seconds
    total_requests: int  # every completed request, warmup and tail included (for CPU/request)
    validated: int = 0
    invalid: int = 0
    timeouts: int = 0  # requests still in flight when the grace ran out (also in errors)
    client_cpu: float = 0.0  # CPU seconds this process spent during the run
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: array[float] = field(default_factory=lambda: array("d"), repr=False)

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the window's latencies in ms (NaN when none)."""
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        rank = max(1, math.ceil(p / 100.0 * len(ordered)))
        return ordered[rank - 1]

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p90(self) -> float:
        return self.percentile(90)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    def summary(self) -> dict[str, Any]:
        """Plain numbers for JSON output."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "duration_s": round(self.duration, 3),
            "rps": round(self.rps, 1),
            "p50_ms": _round(self.p50),
            "p90_ms": _round(self.p90),
            "p99_ms": _round(self.p99),
            "total_requests": self.total_requests,
            "validated": self.validated,
            "invalid": self.invalid,
            "timeouts": self.timeouts,
            "client_cpu_s": round(self.client_cpu, 3),
            "error_samples": self.error_samples,
        }


def _round(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 2)


def check_loopback(host: str) -> None:
    """Refuse anything but this machine."""
    if host.lower() == "localhost":
        return
    try:
        ok = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"refusing to load {host!r}: only loopback hosts (127.x, ::1, localhost)")


def encode_request(
    host: str, port: int, path: str, body: bytes, headers: Mapping[str, str], method: str = "POST"
) -> bytes:
    """The complete request, built once and written as-is for every request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lower = {k.lower() for k in headers}
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
        if "content-type" not in lower:
            lines.append("Content-Type: application/json")
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool, bytes]:
    """(status, body, keep_alive, raw head) of one response; skips 1xx interim responses."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        if head[:7] != b"HTTP/1." or len(head) < 12:
            raise ProtocolError(f"bad status line: {head[:40]!r}")
        status = int(head[9:12])
        if status >= 200:
            break
    keep_alive = head[7:8] == b"1"  # HTTP/1.1 defaults to keep-alive, 1.0 to close
    length = -1
    chunked = False
    # Only three headers matter; a split/partition over ~6 lines is cheap.
    for line in head[:-4].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            v = value.strip().lower()
            keep_alive = v != b"close" and (keep_alive or v == b"keep-alive")
    if chunked:
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                # Trailers (usually none) end with an empty line.
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                break
            chunk = await reader.readexactly(size + 2)
            parts.append(chunk[:-2])
        body = b"".join(parts)
    elif length >= 0:
        body = await reader.readexactly(length) if length else b""
    elif status in (204, 304):
        body = b""
    else:
        body = await reader.read()  # framed by close
        keep_alive = False
    return status, body, keep_alive, head


async def request_once(
    host: str,
    port: int,
    path: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    method: str = "POST",
    time_limit: float = 30.0,
) -> Response:
    """One request on a fresh connection (logins, verification, readiness probes)."""
    check_loopback(host)
    hdrs = dict(headers or {})
    hdrs.setdefault("Connection", "close")
    raw = encode_request(host, port, path, body, hdrs, method)

    async def go() -> Response:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(raw)
            status, resp_body, _, head = await _read_response(reader)
        finally:
            writer.close()
        parsed: dict[str, str] = {}
        for line in head[:-4].split(b"\r\n")[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            parsed[name.strip().lower()] = value.strip()
        return Response(status=status, headers=parsed, body=resp_body)

    return await asyncio.wait_for(go(), time_limit)


class _Stats:
    """Shared by all workers of a run (one event loop, so no locking)."""

    def __init__(self, validate_every: int) -> None:
        self.latencies = array("d")
        self.requests = 0
        self.errors = 0
        self.total = 0
        self.validated = 0
        self.invalid = 0
        self.samples: list[str] = []
        self.validate_every = validate_every
        self.since_validate = validate_every  # so the first good response is validated

    def sample(self, text: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(text)


async def _worker(
    host: str,
    port: int,
    raw: bytes,
    warm_end: float,
    end: float,
    stats: _Stats,
    validate: Callable[[bytes], bool] | None,
) -> None:
    now = time.perf_counter
    lat = stats.latencies
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    try:
        while True:
            t0 = now()
            if t0 >= end:
                return
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                assert reader is not None
                writer.write(raw)
                status, body, keep_alive, _ = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError, ValueError) as exc:
                t1 = now()
                if writer is not None:
                    writer.close()
                writer = reader = None
                stats.total += 1
                if warm_end <= t1 <= end:
                    stats.requests += 1
                    stats.errors += 1
                    stats.sample(f"{type(exc).__name__}: {exc}")
                # A refused connection fails instantly; don't spin the CPU the server needs.
                await asyncio.sleep(0.02)
                continue
            t1 = now()
            stats.total += 1
            if not keep_alive:
                writer.close()
                writer = reader = None
            # Count completions inside the window: unbiased throughput in steady state.
            if warm_end <= t1 <= end:
                stats.requests += 1
                lat.append((t1 - t0) * 1000.0)
                if status != 200 or b'"errors"' in body:
                    stats.errors += 1
                    stats.sample(f"HTTP {status}: {body[:300].decode('utf-8', 'replace')}")
                elif validate is not None:
                    stats.since_validate += 1
                    if stats.since_validate >= stats.validate_every:
                        stats.since_validate = 0
                        stats.validated += 1
                        if not validate(body):
                            stats.invalid += 1
                            stats.errors += 1
                            stats.sample(f"invalid body: {body[:300].decode('utf-8', 'replace')}")
    finally:
        if writer is not None:
            writer.close()


async def run_load(
    host: str,
    port: int,
    path: str,
    body: bytes,
    headers: dict[str, str],
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    validate: Callable[[bytes], bool] | None = None,
    validate_every: int = 50,
    method: str = "POST",
) -> LoadResult:
    """Closed-loop load: ``concurrency`` connections each send the same request back to
    back for ``warmup + duration`` seconds; only requests completing in the last
    ``duration`` seconds are measured. ``validate`` sees every ``validate_every``-th
    successful response of the window (a failure counts as an error)."""
    check_loopback(host)
    if not 0 < duration <= MAX_DURATION:
        raise ValueError(f"duration must be in (0, {MAX_DURATION}] seconds")
    if not 0 <= warmup <= MAX_DURATION:
        raise ValueError(f"warmup must be in [0, {MAX_DURATION}] seconds")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be in [1, {MAX_CONCURRENCY}]")
    raw = encode_request(host, port, path, body, headers, method)
    stats = _Stats(max(1, validate_every))
    cpu0 = time.process_time()
    start = time.perf_counter()
    warm_end = start + warmup
    end = warm_end + duration
    tasks = [asyncio.create_task(_worker(host, port, raw, warm_end, end, stats, validate)) for _ in range(concurrency)]
    # One deadline for the whole run instead of a timeout per request (wait_for per
    # request would cost a task each): whatever still hangs after the grace is cancelled.
    _, pending = await asyncio.wait(tasks, timeout=warmup + duration + _GRACE)
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending)
    for t in tasks:
        exc = None if t.cancelled() else t.exception()
        if exc is not None:
            raise exc  # a bug in the worker, not a server error
    return LoadResult(
        requests=stats.requests,
        errors=stats.errors + len(pending),
        duration=duration,
        total_requests=stats.total,
        validated=stats.validated,
        invalid=stats.invalid,
        timeouts=len(pending),
        client_cpu=time.process_time() - cpu0,
        error_samples=stats.samples,
        latencies_ms=stats.latencies,
    )


def main(argv: list[str] | None = None) -> int:
    """Ad-hoc use: ``python scripts/bench/loadgen.py http://127.0.0.1:8001/raw/catalog
    --body '{"first": 50}' -c 16 -d 10``."""
    import argparse
    import json
    from urllib.parse import urlsplit

    ap = argparse.ArgumentParser(description="Closed-loop HTTP/1.1 load against a local URL.")
    ap.add_argument("url")
    ap.add_argument("--body", default="", help="request body (POST unless --method says otherwise)")
    ap.add_argument("--method", default=None)
    ap.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    ap.add_argument("-c", "--concurrency", type=int, default=16)
    ap.add_argument("-d", "--duration", type=float, default=10.0)
    ap.add_argument("-w", "--warmup", type=float, default=2.0)
    args = ap.parse_args(argv)
    url = urlsplit(args.url)
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    method = args.method or ("POST" if args.body else "GET")
    coro = run_load(
        url.hostname or "",
        url.port or 80,
        url.path or "/",
        args.body.encode(),
        headers,
        concurrency=args.concurrency,
        duration=args.duration,
        warmup=args.warmup,
        method=method,
    )
    runner: Callable[[Any], LoadResult] = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    result = runner(coro)
    print(json.dumps(result.summary(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
