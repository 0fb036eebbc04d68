"""Authentication: ``Authorization: Bearer <user JWT | API key>`` → Principal.

Only who the caller is is decided here; what it may do is ``ymt_graph.access``.

A user JWT is verified once (signature, claims) and then remembered (``TokenCache``) with the
times it is valid between: while ``iat``/``nbf`` ≤ now < ``exp`` the same token is the same
principal, which is all PyJWT would check again. Outside that window, or for a token not seen
yet, it is verified afresh (and expired ones answer the same "Token expired" as ever). API keys
go through ``principal_from_api_key`` as before (revocation: its own lookup and cache).
"""

from __future__ import annotations

import base64
import json
import time
from collections import OrderedDict

from ymt_graph.access import Principal
from ymt_graph.errors import Executor
from ymt_graph.org.identity import API_KEY_PREFIX, TokenInvalid, principal_from_api_key, principal_from_token
from ymt_graph.settings import Settings


class TokenCache:
    """Verified access tokens: (secret, token) → (principal, valid from, valid until)."""

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._found: OrderedDict[tuple[str, str], tuple[Principal, float, float]] = OrderedDict()

    def principal(self, settings: Settings, token: str) -> Principal:
        """``principal_from_token``, verified once per token while it holds (raises ``TokenInvalid``)."""
        key = (settings.jwt_secret, token)
        found = self._found.get(key)
        if found is not None:
            principal, valid_from, valid_until = found
            # PyJWT's own tests: iat <= now, nbf <= now (no leeway), exp > now.
            if valid_from <= time.time() < valid_until:
                return principal
            del self._found[key]
        principal = principal_from_token(settings, token)
        window = _window(token)
        if window is not None:
            self._found[key] = (principal, *window)
            if len(self._found) > self.maxsize:
                self._found.popitem(last=False)
        return principal

    def clear(self) -> None:
        self._found.clear()


def _window(token: str) -> tuple[float, float] | None:
    """When a token ``principal_from_token`` just accepted stays acceptable: from max(iat, nbf)
    to exp, as PyJWT reads them (``int()`` of each). None: do not remember it."""
    try:
        segment = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        valid_from = max((int(claims[c]) for c in ("iat", "nbf") if c in claims), default=float("-inf"))
        return float(valid_from), float(int(claims["exp"]))
    except Exception:  # anything unusual: verified every time, as before
        return None


TOKENS = TokenCache()


async def authenticate(
    authorization: str | None, settings: Settings, db: Executor
) -> tuple[Principal | None, str | None]:
    """(principal, None), or (None, why) for a bad credential, or (None, None) for none sent.

    A bad credential is not rejected here: fields that need a principal answer
    UNAUTHENTICATED with the reason, and public fields (tokenCreate) still work."""
    if not authorization:
        return None, None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        return None, "Use the header `Authorization: Bearer <token>`."
    try:
        if credential.startswith(API_KEY_PREFIX):
            return await principal_from_api_key(db, credential), None
        return TOKENS.principal(settings, credential), None
    except TokenInvalid as exc:
        return None, str(exc)
