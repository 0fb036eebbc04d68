"""The per-request context every resolver receives."""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry

from ymt_graph.access import Principal
from ymt_graph.db import RequestDb
from ymt_graph.graph.errors import CodedError, ErrorCode, unauthenticated
from ymt_graph.settings import Settings

L = TypeVar("L")


class Context:
    """Principal, the request's database connection, and its DataLoaders (one set per request)."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: RequestDb,
        principal: Principal | None,
        request_id: str,
        auth_error: str | None = None,
        redis: Any = None,
        request: Any = None,
        response: Any = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.principal = principal
        self.request_id = request_id
        self.auth_error = auth_error
        self.redis = redis
        self.request = request
        self.response = response
        self._loaders: dict[type[Any], Any] = {}
        # Set by the view's fast path (api/view.py) when it hands a request it began back to the
        # normal path: the cost it took from the bucket ((cost, throttle), not to be taken twice)
        # and what the compiled statement did (an exception to raise where it would have been
        # raised, or None: answer on the resolver path).
        self.prepaid: tuple[int, Any] | None = None
        self.compiled_outcome: tuple[BaseException | None] | None = None

    def require_principal(self) -> Principal:
        if self.principal is None:
            if self.auth_error:
                raise CodedError(ErrorCode.UNAUTHENTICATED, self.auth_error)
            raise unauthenticated()
        return self.principal

    def loaders(self, cls: type[L]) -> L:
        """The request's instance of a domain's loader set, built on first use."""
        found = self._loaders.get(cls)
        if found is None:
            found = cls(self)  # type: ignore[call-arg]
            self._loaders[cls] = found
        return found


Info = strawberry.Info[Context, None]
