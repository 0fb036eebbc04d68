"""The wire side of webhooks: the body, its HMAC signature, one HTTP attempt, the backoff.

A receiver verifies a delivery with ``verify_signature(secret, body, header)`` over the exact
body bytes it received (never a re-serialisation), and de-duplicates on ``X-Ymt-Delivery``,
which stays the same on every retry of one event to one endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from pydantic_settings import BaseSettings, SettingsConfigDict

SIGNATURE_PREFIX = "sha256="
USER_AGENT = "ymt-graph-webhooks/1"


class WebhookSettings(BaseSettings):
    """``YMT_WEBHOOK_*`` environment variables (kept here so the centre owns its knobs)."""

    model_config = SettingsConfigDict(env_prefix="YMT_WEBHOOK_", extra="ignore")

    max_attempts: int = 8  # then the delivery is DEAD
    backoff_base_seconds: float = 30.0  # attempt n waits base * 2**(n-1), jittered
    backoff_max_seconds: float = 6 * 3600.0
    timeout_seconds: float = 10.0
    batch_size: int = 200  # outbox events per fan-out transaction
    # A claimed delivery is retried by the sweeper if its worker died mid-request.
    lease_seconds: float = 60.0


def sign(secret: str, body: bytes) -> str:
    """The ``X-Ymt-Signature`` header value: ``sha256=<hex HMAC-SHA256(secret, body)>``."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """For receivers: whether ``header`` is the signature of exactly these body bytes."""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), header)


def event_body(event: dict[str, Any], delivery_id: str) -> bytes:
    """The JSON body of a delivery (sorted keys: the same event always gives the same bytes)."""
    return orjson.dumps({**event, "deliveryId": delivery_id}, option=orjson.OPT_SORT_KEYS)


def backoff_seconds(attempt: int, settings: WebhookSettings, rng: random.Random | None = None) -> float:
    """Wait before attempt ``attempt + 1``: exponential, capped, with ±20 % jitter so endpoints
    that failed together do not get hammered together."""
    base = min(settings.backoff_base_seconds * 2 ** max(attempt - 1, 0), settings.backoff_max_seconds)
    return base * (0.8 + 0.4 * (rng or random).random())


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    status_code: int | None
    error: str | None
    response_ms: int


async def post(
    client: httpx.AsyncClient, url: str, secret: str, event_type: str, delivery_id: str, body: bytes
) -> AttemptResult:
    """One POST; 2xx is success, anything else (status, timeout, refused connection) a failure."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Ymt-Event": event_type,
        "X-Ymt-Delivery": delivery_id,
        "X-Ymt-Signature": sign(secret, body),
        "X-Ymt-Timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    started = time.perf_counter()
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        elapsed = int((time.perf_counter() - started) * 1000)
        return AttemptResult(False, None, f"{type(exc).__name__}: {exc}"[:500], elapsed)
    elapsed = int((time.perf_counter() - started) * 1000)
    if 200 <= response.status_code < 300:
        return AttemptResult(True, response.status_code, None, elapsed)
    return AttemptResult(False, response.status_code, f"HTTP {response.status_code}", elapsed)


def http_client(settings: WebhookSettings) -> httpx.AsyncClient:
    # No redirects: a 3xx is a failure the subscriber should fix, not a hop to somewhere unsigned-for.
    return httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout_seconds), follow_redirects=False)
