"""Who a request is: passwords (argon2), user tokens (JWT) and integrators' API keys.

A user's access token carries everything the principal needs (role, dealer
path, store, regions), so authenticating a request costs no database round
trip; tokens are short-lived, so a moved dealer is seen within the hour.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ymt_graph import redis_clients
from ymt_graph.access import ALL_SCOPES, Principal, Role
from ymt_graph.db import table
from ymt_graph.errors import DomainError, Executor
from ymt_graph.org import models
from ymt_graph.settings import Settings

users = table(models.User)
dealers = table(models.Dealer)
stores = table(models.Store)
regions = table(models.Region)
api_keys = table(models.ApiKey)

_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps the timing the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
API_KEY_PREFIX = "ymt_"
log = logging.getLogger(__name__)


class AuthErrorCode(enum.Enum):
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    REFRESH_TOKEN_INVALID = "REFRESH_TOKEN_INVALID"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"


class TokenInvalid(Exception):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenPair:
    token: str
    refresh_token: str
    expires_at: int


async def principal_for_user(db: Executor, user_id: int) -> tuple[Principal, str] | None:
    """The principal of an active user, and its status (None if no such user)."""
    u = (await db.execute(sa.select(users).where(users.c.id == user_id))).first()
    if u is None:
        return None
    dealer_path = None
    dealer_id = u.dealer_id
    if u.store_id is not None:
        row = (
            await db.execute(
                sa.select(stores.c.dealer_id, dealers.c.path)
                .join(dealers, dealers.c.id == stores.c.dealer_id)
                .where(stores.c.id == u.store_id)
            )
        ).one()
        dealer_id, dealer_path = row.dealer_id, row.path
    elif dealer_id is not None:
        dealer_path = (await db.execute(sa.select(dealers.c.path).where(dealers.c.id == dealer_id))).scalar_one()
    region_paths: tuple[str, ...] = ()
    if u.region_ids:
        rows = await db.execute(sa.select(regions.c.path).where(regions.c.id.in_(u.region_ids)))
        region_paths = tuple(sorted(r.path for r in rows))
    principal = Principal(
        tenant_id=u.tenant_id,
        role=Role(u.role),
        user_id=u.id,
        dealer_id=dealer_id,
        dealer_path=dealer_path,
        store_id=u.store_id,
        region_paths=region_paths,
    )
    return principal, u.status


def issue_tokens(settings: Settings, p: Principal) -> TokenPair:
    now = int(time.time())
    exp = now + settings.jwt_ttl_seconds
    claims: dict[str, Any] = {
        "sub": str(p.user_id),
        "tid": p.tenant_id,
        "role": p.role.value,
        "did": p.dealer_id,
        "dpath": p.dealer_path,
        "sid": p.store_id,
        "rpaths": list(p.region_paths),
        "typ": "access",
        "iat": now,
        "exp": exp,
    }
    token = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
    refresh = jwt.encode(
        {"sub": str(p.user_id), "typ": "refresh", "iat": now, "exp": now + settings.refresh_ttl_seconds,
         "jti": secrets.token_hex(8)},
        settings.jwt_secret,
        algorithm="HS256",
    )
    return TokenPair(token=token, refresh_token=refresh, expires_at=exp)


def principal_from_token(settings: Settings, token: str) -> Principal:
    try:
        claims = jwt.decode(token, settings.jwt_secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise TokenInvalid("Token expired: refresh it with tokenRefresh.") from exc
    except jwt.PyJWTError as exc:
        raise TokenInvalid("Invalid token.") from exc
    if claims.get("typ") != "access":
        raise TokenInvalid("Not an access token.")
    try:
        return Principal(
            tenant_id=int(claims["tid"]),
            role=Role(claims["role"]),
            user_id=int(claims["sub"]),
            dealer_id=claims.get("did"),
            dealer_path=claims.get("dpath"),
            store_id=claims.get("sid"),
            region_paths=tuple(claims.get("rpaths") or ()),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise TokenInvalid("Invalid token.") from exc


class LoginAttempts:
    """Failed logins per account, in Redis: after ``login_max_failures`` within
    ``login_failure_window_seconds`` of the first, the account takes no password — not even the
    right one — until the window ends. The cost buckets limit a client address; this stops many
    addresses guessing one account's password. Unknown emails count alike (answers must not tell
    which accounts exist). A Redis that does not answer limits nothing (logged), as for buckets."""

    def __init__(self, settings: Settings, email: str) -> None:
        self.settings = settings
        digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        self.key = f"{redis_clients.namespace(settings.rate_limit_key_prefix, settings.database_url)}:login:{digest}"

    def _redis(self) -> Any:
        return redis_clients.for_loop(self.settings.redis_url) if self.settings.redis_url else None

    async def locked_for(self) -> int:
        """Seconds until the account takes passwords again; 0 when it does now."""
        redis = self._redis()
        if redis is None:
            return 0
        try:
            failures, ttl = await redis.pipeline(transaction=False).get(self.key).ttl(self.key).execute()
        except Exception as exc:
            log.warning("login attempts: Redis did not answer (%s: %s); not limited", type(exc).__name__, exc)
            return 0
        if int(failures or 0) < self.settings.login_max_failures:
            return 0
        return max(int(ttl), 1)

    async def failed(self) -> None:
        redis = self._redis()
        if redis is None:
            return
        try:
            _, ttl = await redis.pipeline(transaction=True).incr(self.key).ttl(self.key).execute()
            if ttl < 0:  # the first failure opens the window (EXPIRE NX needs Redis 7: embedded is older)
                await redis.expire(self.key, self.settings.login_failure_window_seconds)
        except Exception as exc:
            log.warning("login attempts: not counted, Redis did not answer (%s: %s)", type(exc).__name__, exc)

    async def cleared(self) -> None:
        redis = self._redis()
        if redis is None:
            return
        try:
            await redis.delete(self.key)
        except Exception as exc:
            log.warning("login attempts: not cleared, Redis did not answer (%s: %s)", type(exc).__name__, exc)


async def create_token(db: Executor, settings: Settings, email: str, password: str) -> TokenPair:
    email = email.strip().lower()
    attempts = LoginAttempts(settings, email)
    wait = await attempts.locked_for()
    if wait:
        minutes = -(-wait // 60)
        raise DomainError(AuthErrorCode.TOO_MANY_ATTEMPTS,
                          f"Too many failed logins for this account: try again in {minutes} minute(s).", ["email"])
    row = (await db.execute(sa.select(users.c.id, users.c.password_hash).where(users.c.email == email))).first()
    if not verify_password(row.password_hash if row is not None else _DUMMY_HASH, password) or row is None:
        await attempts.failed()
        raise DomainError(AuthErrorCode.INVALID_CREDENTIALS, "Wrong email or password.", ["email"])
    await attempts.cleared()
    found = await principal_for_user(db, row.id)
    assert found is not None
    principal, status = found
    if status != "ACTIVE":
        raise DomainError(AuthErrorCode.ACCOUNT_DISABLED, "This account is disabled.", ["email"])
    return issue_tokens(settings, principal)


async def refresh_token(db: Executor, settings: Settings, refresh: str) -> TokenPair:
    try:
        claims = jwt.decode(refresh, settings.jwt_secret, algorithms=["HS256"])
    except jwt.PyJWTError as exc:
        raise DomainError(AuthErrorCode.REFRESH_TOKEN_INVALID, "Invalid or expired refresh token.",
                          ["refreshToken"]) from exc
    if claims.get("typ") != "refresh":
        raise DomainError(AuthErrorCode.REFRESH_TOKEN_INVALID, "Not a refresh token.", ["refreshToken"])
    # Re-read the user: role, dealer and status may have changed since the last token.
    found = await principal_for_user(db, int(claims["sub"]))
    if found is None or found[1] != "ACTIVE":
        raise DomainError(AuthErrorCode.ACCOUNT_DISABLED, "This account is disabled.", ["refreshToken"])
    return issue_tokens(settings, found[0])


# ---- API keys -------------------------------------------------------------------------------


def _key_hash(secret: str) -> str:
    # API keys are long random secrets, so a fast hash is enough (unlike passwords).
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scopes(scopes: Sequence[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)} (known: {' '.join(ALL_SCOPES)})")
    return sorted(set(scopes))


async def create_api_key(
    db: Executor,
    tenant_id: int,
    name: str,
    scopes: Sequence[str],
    dealer_id: int | None = None,
    role: Role = Role.INTEGRATION,
) -> str:
    """Create a key and return its secret; only its hash is kept, so it is shown once.
    An INTEGRATION key may do what its scopes say; an ANALYST key (BI tools) reads the
    whole tenant and writes nothing."""
    if role not in (Role.INTEGRATION, Role.ANALYST):
        raise ValueError("API keys are INTEGRATION or ANALYST principals")
    clean = check_scopes(scopes)
    prefix = secrets.token_hex(6)
    secret = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    await db.execute(
        sa.insert(api_keys).values(
            tenant_id=tenant_id, name=name, prefix=prefix, key_hash=_key_hash(secret),
            role=role.value, scopes=clean, dealer_id=dealer_id,
        )
    )
    return secret


_key_cache: dict[str, tuple[float, Principal | None]] = {}
_KEY_CACHE_SECONDS = 30.0


async def principal_from_api_key(db: Executor, secret: str) -> Principal:
    """Look a key up by its prefix (cached briefly: keys are checked on every request)."""
    now = time.monotonic()
    cached = _key_cache.get(secret)
    if cached is not None and now - cached[0] < _KEY_CACHE_SECONDS:
        if cached[1] is None:
            raise TokenInvalid("Invalid API key.")
        return cached[1]
    parts = secret.split("_")
    if len(parts) < 3 or not secret.startswith(API_KEY_PREFIX):
        raise TokenInvalid("Invalid API key.")
    row = (
        await db.execute(
            sa.select(api_keys, dealers.c.path.label("dealer_path"))
            .outerjoin(dealers, dealers.c.id == api_keys.c.dealer_id)
            .where(api_keys.c.prefix == parts[1])
        )
    ).first()
    principal: Principal | None = None
    if row is not None and row.revoked_at is None and secrets.compare_digest(row.key_hash, _key_hash(secret)):
        principal = Principal(
            tenant_id=row.tenant_id,
            role=Role(row.role),
            api_key_id=row.id,
            dealer_id=row.dealer_id,
            dealer_path=row.dealer_path,
            scopes=frozenset(row.scopes),
        )
    if len(_key_cache) > 10_000:
        _key_cache.clear()
    _key_cache[secret] = (now, principal)
    if principal is None:
        raise TokenInvalid("Invalid API key.")
    return principal
