"""The HTTP/WebSocket view: strawberry's ASGI GraphQL with our context, JSON and status rules."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult

from ymt_graph.api.auth import authenticate
from ymt_graph.api.errors import shape
from ymt_graph.api.metrics import ERRORS, LATENCY, REQUESTS
from ymt_graph.db import RequestDb, get_engine
from ymt_graph.graph.context import Context
from ymt_graph.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"


class GraphQLView(GraphQL):
    def __init__(self, schema: Any, settings: Settings) -> None:
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings
        assert settings.database_url is not None
        self.engine = get_engine(settings.database_url, settings.db_pool_size)

    async def make_context(self, request: Any) -> Context:
        db = RequestDb(self.engine)
        principal, auth_error = await authenticate(request.headers.get("authorization"), self.settings, db)
        return Context(
            settings=self.settings,
            db=db,
            principal=principal,
            auth_error=auth_error,
            request_id=request.headers.get("x-request-id") or uuid.uuid4().hex[:16],
            request=request,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        ctx = await self.make_context(request)
        try:
            response = await self.run(request, context=ctx)  # type: ignore[call-overload]
        except HTTPException as exc:
            response = PlainTextResponse(exc.reason, status_code=exc.status_code)
        finally:
            await ctx.db.close()
        self._apply_http_rules(request, response)
        response.headers["x-request-id"] = ctx.request_id
        REQUESTS.labels(str(response.status_code)).inc()
        LATENCY.observe(time.perf_counter() - started)
        await response(scope, receive, send)

    def _apply_http_rules(self, request: Request, response: Response) -> None:
        """GraphQL-over-HTTP: a client asking for application/graphql-response+json gets it,
        and a request that never reached execution (parse/validation) answers 4xx."""
        if response.media_type != "application/json" or GRAPHQL_RESPONSE not in request.headers.get("accept", ""):
            return
        response.media_type = GRAPHQL_RESPONSE
        response.headers["content-type"] = GRAPHQL_RESPONSE
        if getattr(request.state, "not_executed", False):
            response.status_code = 400

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            # Errors raised outside the operation (the token limiter fires while parsing)
            # never passed through ErrorShaping: shape them here so each has a code.
            result.errors = [e if (e.extensions or {}).get("code") else shape(e, None) for e in result.errors]
            for error in result.errors:
                ERRORS.labels((error.extensions or {}).get("code", "UNKNOWN")).inc()
            # Errors without a path come from parsing or validation: nothing was executed.
            request.state.not_executed = result.data is None and all(e.path is None for e in result.errors)
        return process_result(result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)
