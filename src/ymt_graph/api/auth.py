"""Authentication: ``Authorization: Bearer <user JWT | API key>`` → Principal.

Only who the caller is is decided here; what it may do is ``ymt_graph.access``.
"""

from __future__ import annotations

from ymt_graph.access import Principal
from ymt_graph.errors import Executor
from ymt_graph.org.identity import API_KEY_PREFIX, TokenInvalid, principal_from_api_key, principal_from_token
from ymt_graph.settings import Settings


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
        return principal_from_token(settings, credential), None
    except TokenInvalid as exc:
        return None, str(exc)
