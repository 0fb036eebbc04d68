"""Persisted queries (API.md "Persisted queries"): automatic persisted queries and trusted documents.

**Automatic persisted queries** (Apollo's protocol, version 1). A request carrying
``extensions.persistedQuery = {version: 1, sha256Hash}``:

- without ``query`` runs the document stored under that hash — a trusted document first (its id is
  the same SHA-256), else one an earlier request registered; none → the error ``PersistedQueryNotFound``
  (``PERSISTED_QUERY_NOT_FOUND``), on which Apollo clients send the query with the hash;
- with ``query``: the hash must be the SHA-256 of the text (else BAD_USER_INPUT, nothing stored);
  the text runs and, once it has parsed and validated, is stored in Redis for every node
  (``<prefix>:<db>:apq:<hex>``, ``Settings.persisted_query_ttl_seconds`` after its last registration).

A version other than 1 is BAD_USER_INPUT.

**Trusted documents.** ``ymt-graph documents register FILE...`` stores each file's text under
``sha256:<hex of the text>`` in the Redis hash ``<prefix>:<db>:documents`` (no expiry). A request may
send ``documentId: "sha256:<hex>"`` instead of ``query`` (unknown → PERSISTED_QUERY_NOT_FOUND).
``ymt-graph documents remove`` takes documents off the list; every process stops running them within
``TRUST_SECONDS``.
With ``Settings.only_trusted_documents``, a principal whose role is not in
``Settings.trusted_documents_exempt_roles`` (HQ_ADMIN and ANALYST by default) may run registered
documents only — by ``documentId``, by hash, or by sending a registered text verbatim; anything else
(other text, registering new APQ text, running APQ text someone else registered) is
PERSISTED_QUERY_NOT_ALLOWED.

What a request resolves to is then executed like any sent query: same limits, cost, bucket, paths.

**Caches.** Documents are content-addressed (the key is the hash of the text), so every node keeps
the texts it has looked up in an in-process LRU (``DocumentStore``): a hit costs no Redis call and
lets the view's fast path answer persisted requests too (``local``). Redis not answering: a lookup is
a miss (logged), a registration is skipped (logged); the request itself is not failed for it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from redis.asyncio import Redis

from ymt_graph import redis_clients
from ymt_graph.access import Principal
from ymt_graph.graph.errors import CodedError, ErrorCode, bad_input
from ymt_graph.settings import Settings

log = logging.getLogger("ymt_graph.persisted")

APQ_VERSION = 1
DOCUMENT_ID_PREFIX = "sha256:"
LOCAL_CACHE_SIZE = 1024
# How long a process runs a trusted document it has seen without asking Redis again: the longest
# a removed document keeps running somewhere.
TRUST_SECONDS = 60.0
_HEX = re.compile(r"[0-9a-fA-F]{64}")
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # what Apollo clients look for (with the code)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_id(text: str) -> str:
    return DOCUMENT_ID_PREFIX + sha256_hex(text)


def not_found() -> CodedError:
    return CodedError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, NOT_FOUND_MESSAGE)


def not_allowed() -> CodedError:
    return CodedError(ErrorCode.PERSISTED_QUERY_NOT_ALLOWED,
                      "Only registered documents may run here: send a documentId (or persisted query hash) "
                      "of a document registered with `ymt-graph documents register`.")


def keys(settings: Settings) -> tuple[str, str]:
    """(prefix of the APQ keys, the trusted documents' hash)."""
    namespace = redis_clients.namespace(settings.persisted_key_prefix, settings.database_url)
    return f"{namespace}:apq:", f"{namespace}:documents"


class _Lru:
    """Texts by Redis key. ``ttl``: seconds an entry is believed before Redis is asked again."""

    def __init__(self, maxsize: int, ttl: float | None = None) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self.items: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> str | None:
        found = self.items.get(key)
        if found is None:
            return None
        text, until = found
        if until < time.monotonic():
            del self.items[key]
            return None
        self.items.move_to_end(key)
        return text

    def put(self, key: tuple[str, str], text: str) -> None:
        self.items[key] = (text, time.monotonic() + self.ttl if self.ttl is not None else math.inf)
        self.items.move_to_end(key)
        while len(self.items) > self.maxsize:
            self.items.popitem(last=False)

    def forget(self, key: tuple[str, str]) -> None:
        self.items.pop(key, None)


class DocumentStore:
    """The documents in Redis, with an in-process cache of the texts seen (keyed by Redis key: a
    text never changes under its hash). A Redis client per event loop and URL, as ``cost.Buckets``.
    A process believes a trusted document it has seen for ``TRUST_SECONDS``, then asks Redis again:
    a document removed with ``ymt-graph documents remove`` stops running everywhere within that."""

    def __init__(self, maxsize: int = LOCAL_CACHE_SIZE, trust_seconds: float = TRUST_SECONDS) -> None:
        self._trusted = _Lru(maxsize, trust_seconds)
        self._apq = _Lru(maxsize)

    def _client(self, url: str) -> Redis:
        return redis_clients.for_loop(url, decode=True)

    # -- cached only (no I/O): the view's fast path

    def cached_trusted(self, settings: Settings, digest: str) -> str | None:
        return self._trusted.get((keys(settings)[1], digest))

    def forget_trusted(self, settings: Settings, digest: str) -> None:
        self._trusted.forget((keys(settings)[1], digest))

    def cached_apq(self, settings: Settings, digest: str) -> str | None:
        return self._apq.get((keys(settings)[0], digest))

    # -- Redis

    async def trusted(self, settings: Settings, digest: str) -> str | None:
        """The registered document ``sha256:<digest>``, or None."""
        key = (keys(settings)[1], digest)
        return await self._read(settings, self._trusted, key, "trusted documents",
                                lambda redis: redis.hget(key[0], DOCUMENT_ID_PREFIX + digest))

    async def apq(self, settings: Settings, digest: str) -> str | None:
        """The automatic persisted query under ``digest``, or None."""
        key = (keys(settings)[0], digest)
        return await self._read(settings, self._apq, key, "persisted queries", lambda redis: redis.get(key[0] + digest))

    async def _read(self, settings: Settings, cache: Any, key: tuple[str, str], what: str,
                    fetch: Callable[[Any], Any]) -> str | None:
        """From this process's cache (texts are content-addressed: never stale), else from Redis."""
        text: str | None = cache.get(key)
        if text is None and settings.redis_url:
            try:
                text = await fetch(self._client(settings.redis_url))
            except Exception as exc:
                log.warning("%s: Redis did not answer (%s: %s)", what, type(exc).__name__, exc)
                return None
            if text is not None:
                cache.put(key, text)
        return text

    async def remember(self, settings: Settings, digest: str, text: str) -> None:
        """Store an automatic persisted query (its hash checked), for every node."""
        prefix = keys(settings)[0]
        self._apq.put((prefix, digest), text)
        if not settings.redis_url:
            return
        ttl = settings.persisted_query_ttl_seconds or None
        try:
            await self._client(settings.redis_url).set(prefix + digest, text, ex=ttl)
        except Exception as exc:
            log.warning("persisted queries: not stored, Redis did not answer (%s: %s)", type(exc).__name__, exc)


STORE = DocumentStore()


async def register(settings: Settings, texts: Iterable[str]) -> list[tuple[str, bool]]:
    """Add documents to the trusted ones: ``[(id, new), …]`` in order (the CLI's work). Redis must
    answer: an allowlist that was not written is an error, not a warning."""
    assert settings.redis_url
    name = keys(settings)[1]
    mapping = {document_id(text): text for text in texts}
    client = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        known = await client.hmget(name, list(mapping)) if mapping else []
        if mapping:
            await client.hset(name, mapping=mapping)
    finally:
        await client.aclose()
    return [(doc_id, existing is None) for doc_id, existing in zip(mapping, known, strict=True)]


async def registered(settings: Settings) -> dict[str, str]:
    """The trusted documents: id → text."""
    assert settings.redis_url
    client = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        return dict(await client.hgetall(keys(settings)[1]))
    finally:
        await client.aclose()


async def unregister(settings: Settings, ids: Iterable[str], store: DocumentStore = STORE) -> list[tuple[str, bool]]:
    """Remove trusted documents: ``[(id, was registered), …]``. Other processes stop running them
    within ``TRUST_SECONDS``; this one at once."""
    assert settings.redis_url
    wanted = [DOCUMENT_ID_PREFIX + _parse_document_id(i) for i in ids]
    client = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        found = await client.hmget(keys(settings)[1], wanted) if wanted else []
        if wanted:
            await client.hdel(keys(settings)[1], *wanted)
    finally:
        await client.aclose()
    for doc_id in wanted:
        store.forget_trusted(settings, doc_id.removeprefix(DOCUMENT_ID_PREFIX))
    return [(doc_id, text is not None) for doc_id, text in zip(wanted, found, strict=True)]


# -- request rewriting ------------------------------------------------------------------------------


def exempt(settings: Settings, principal: Principal | None) -> bool:
    return principal is not None and principal.role in settings.trusted_documents_exempt_roles


def restricted(settings: Settings, principal: Principal | None) -> bool:
    """Whether this principal may run registered documents only."""
    return settings.only_trusted_documents and not exempt(settings, principal)


def _digest(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise bad_input(f"{what} must be a SHA-256 as 64 hexadecimal digits.")
    return value.lower()


def _parse_document_id(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(DOCUMENT_ID_PREFIX):
        raise bad_input('documentId must be "sha256:<64 hexadecimal digits>".')
    return _digest(value[len(DOCUMENT_ID_PREFIX):], "documentId")


def _persisted_query(extensions: Mapping[str, Any] | None) -> str | None:
    """The APQ hash a request names, or None if it names none; a malformed one is BAD_USER_INPUT."""
    pq = (extensions or {}).get("persistedQuery")
    if pq is None:
        return None
    if not isinstance(pq, Mapping):
        raise bad_input("extensions.persistedQuery must be {version: 1, sha256Hash}.")
    if pq.get("version") != APQ_VERSION:
        raise bad_input(f"Unsupported persisted query version {pq.get('version')!r}: this server speaks "
                        f"version {APQ_VERSION}.", field=["extensions", "persistedQuery", "version"])
    return _digest(pq.get("sha256Hash"), "extensions.persistedQuery.sha256Hash")


async def resolve(settings: Settings, principal: Principal | None, query: str | None,
                  extensions: Mapping[str, Any] | None, doc_id: Any = None,
                  store: DocumentStore = STORE) -> tuple[str | None, str | None]:
    """What the request runs: ``(query text, APQ hash to store once it ran)``, or a CodedError.
    ``(None, None)``: no document at all (strawberry answers it: 400, no query)."""
    digest = _persisted_query(extensions)
    if doc_id is not None:
        if query is not None or digest is not None:
            raise bad_input("Send a documentId, a persisted query or a query, not several.")
        text = await store.trusted(settings, _parse_document_id(doc_id))
        if text is None:
            raise not_found()
        return text, None
    limited = restricted(settings, principal)
    if digest is not None:
        if query is None:
            text = await store.trusted(settings, digest)
            if text is not None:
                return text, None
            text = await store.apq(settings, digest)
            if text is None:
                raise not_found()
            if limited:
                raise not_allowed()
            return text, None
        if sha256_hex(query) != digest:
            raise bad_input("provided sha does not match query",
                            field=["extensions", "persistedQuery", "sha256Hash"])
        if await store.trusted(settings, digest) is not None:
            return query, None
        if limited:
            raise not_allowed()
        return query, digest
    if query is not None and limited and await store.trusted(settings, sha256_hex(query)) is None:
        raise not_allowed()
    return query, None


def local(settings: Settings, principal: Principal | None, query: Any, extensions: Any,
          doc_id: Any, store: DocumentStore = STORE) -> str | None:
    """``resolve`` for the view's fast path, from the in-process cache alone and only for requests it
    would run unchanged: the text to run, or None (the normal path decides, errors included)."""
    try:
        if extensions is not None and not isinstance(extensions, Mapping):
            return None
        digest = _persisted_query(extensions)
        limited = restricted(settings, principal)
        if doc_id is not None:
            if query is not None or digest is not None:
                return None
            return store.cached_trusted(settings, _parse_document_id(doc_id))
        if digest is not None:
            if query is not None:
                return None  # a registration: the normal path checks and stores it
            text = store.cached_trusted(settings, digest)
            if text is None and not limited:
                text = store.cached_apq(settings, digest)
            return text
        if not isinstance(query, str):
            return None
        if limited and store.cached_trusted(settings, sha256_hex(query)) is None:
            return None
        return query
    except CodedError:
        return None
