"""One Settings object, read from the environment (``YMT_*``, ``DATABASE_URL``, ``REDIS_URL``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    max_page_size: int = 250
    db_pool_size: int = 10
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

    @property
    def is_production(self) -> bool:
        return self.env.lower() == "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
