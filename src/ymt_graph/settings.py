"""One Settings object, read from the environment (``YMT_*``, ``DATABASE_URL``, ``REDIS_URL``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ymt_graph.access import Role


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YMT_", extra="ignore")

    env: str = "development"
    # Unset means "start the embedded server" (see embedded.py).
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "YMT_DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "YMT_REDIS_URL")
    )
    data_dir: Path = Path(".ymt")
    jwt_secret: str = "dev-only-secret-change-me-in-production-0123456789"
    jwt_ttl_seconds: int = 3600
    refresh_ttl_seconds: int = 30 * 24 * 3600
    graphiql: bool = True
    max_depth: int = 12
    max_tokens: int = 4000
    max_aliases: int = 30
    # No page-size setting: API.md promises every list takes first ≤ 250 (graph.connection.MAX_PAGE).
    # Query cost (api/cost.py; docs/DESIGN.md "Cost and rate limits"). One query may cost at most
    # this much (YMT_MAX_QUERY_COST): 250 shipments with lines and events cost ~10,800, a 250-SKU
    # priced and stocked storefront page ~3,300; 250 dealers × 250 stores (63,252) is refused.
    max_query_cost: int = Field(default=20_000, gt=0)
    # Per-principal leaky bucket in Redis (YMT_RATE_LIMIT_*): holds one maximal query and refills in
    # 20 s. Unset: on when YMT_ENV=production (dev servers, benchmarks and tests are not throttled
    # unless they ask). Keys are "<prefix>:<database name>:…".
    rate_limit_enabled: bool | None = None
    rate_limit_bucket_size: int = Field(default=20_000, gt=0)
    rate_limit_restore_rate: float = Field(default=1_000.0, gt=0)  # points per second
    rate_limit_key_prefix: str = "ymt:cost"
    # Per account, whatever the client's address (org.identity.LoginAttempts): this many failed
    # logins within the window from the first, and the account takes no password until it ends.
    login_max_failures: int = Field(default=10, gt=0)
    login_failure_window_seconds: int = Field(default=15 * 60, gt=0)
    # Connections kept open per API process. Under load every request holds one while it runs;
    # past the pool, overflow connections are opened and closed again, and each new connection
    # prepares (plans) its statements afresh — so size it to the concurrency a process serves.
    db_pool_size: int = 32
    # Compiled reads (one statement each) running in PostgreSQL at once per API process; the rest
    # wait in arrival order (YMT_DB_READ_CONCURRENCY; unset: 2 × this machine's cores, right when
    # PostgreSQL shares the machine). Past the database's cores, more at once only adds context
    # switches: throughput drops and the unlucky wait longest (docs/DESIGN.md "Read gate").
    # With a database elsewhere: about 2 × its cores ÷ the number of API processes.
    db_read_concurrency: int | None = Field(default=None, gt=0)
    debug_sql: bool = False
    # Answer compilable queries with one SQL statement (``ymt_graph.compiled``); off: every
    # query takes the resolver path (the reference the compiled path is tested against).
    compiled_reads: bool = True
    currency: str = "CNY"
    # Shipments arriving within this many hours get their arrival notice (YMT_ARRIVAL_NOTICE_HOURS).
    arrival_notice_hours: int = 24
    # Redis pub/sub channels of events are "<prefix>:events:<tenant id>": the worker publishes and
    # every API process listens there, so all of them must share it. Test runs sharing one Redis
    # set their own (test databases all have tenant 1).
    events_channel_prefix: str = "ymt"
    # Persisted queries (API.md "Persisted queries"; api/persisted.py). Keys are
    # "<prefix>:<database name>:apq:<sha256>" (automatic persisted queries, each kept this many
    # seconds after its last registration; 0: no expiry) and "<prefix>:<database name>:documents"
    # (the trusted documents, a hash of "sha256:<hex>" → text; no expiry: `ymt-graph documents
    # register` writes it at each deploy).
    persisted_key_prefix: str = "ymt:pq"
    persisted_query_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    # YMT_ONLY_TRUSTED_DOCUMENTS=true: only registered documents run; anything else answers
    # PERSISTED_QUERY_NOT_ALLOWED — except for the roles here (YMT_TRUSTED_DOCUMENTS_EXEMPT_ROLES,
    # a JSON list; [] exempts nobody), who keep GraphiQL and ad-hoc queries.
    only_trusted_documents: bool = False
    trusted_documents_exempt_roles: frozenset[Role] = frozenset({Role.HQ_ADMIN, Role.ANALYST})

    @property
    def is_production(self) -> bool:
        return self.env.lower() == "production"

    @property
    def rate_limits_on(self) -> bool:
        return self.is_production if self.rate_limit_enabled is None else self.rate_limit_enabled

    @property
    def read_concurrency(self) -> int:
        return self.db_read_concurrency or 2 * len(os.sched_getaffinity(0))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
