"""Redis for the API's own bookkeeping (rate-limit buckets, persisted queries, login attempts):
clients per event loop and URL, and the namespace of a deployment's keys."""

from __future__ import annotations

import asyncio
import weakref
from functools import lru_cache
from urllib.parse import urlsplit

from redis.asyncio import Redis

# A request never waits longer than this for its bookkeeping: past it, the caller fails open.
REDIS_TIMEOUT_SECONDS = 0.5

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, bool], Redis]] = (
    weakref.WeakKeyDictionary())


def for_loop(url: str, *, decode: bool = False) -> Redis:
    """This event loop's client for ``url`` (redis-py connections belong to the loop that opened
    them; a test suite runs many loops). ``decode``: answers as ``str``, not ``bytes``."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get((url, decode))
    if client is None:
        client = per_loop[(url, decode)] = Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS,
            decode_responses=decode)
    return client


@lru_cache(maxsize=64)
def namespace(prefix: str, database_url: str | None) -> str:
    """``<prefix>:<database name>``. Tenant, user and key ids are ids in one database: two databases
    sharing a Redis (test modules, staging next to production) must not share keys. The name, not
    the URL: every API node of a deployment reaches the same database, maybe by other hosts."""
    name = urlsplit(database_url).path.strip("/") if database_url else ""
    return f"{prefix}:{name or '-'}"
