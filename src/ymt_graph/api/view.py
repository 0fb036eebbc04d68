"""The HTTP/WebSocket view: strawberry's ASGI GraphQL with our context, JSON and status rules.

A websocket (graphql-transport-ws) gets one Context for the connection, like an HTTP request gets
one for the request: its principal comes from the upgrade request's ``Authorization`` header, or
from ``connection_init``'s payload ``{"authorization": "Bearer <token>"}`` (which wins; browsers
cannot set headers on a websocket). A missing or bad credential is not refused at connect: as
over HTTP, fields that need a principal answer UNAUTHENTICATED.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

import orjson
import sqlalchemy as sa
from cross_web import HTTPException
from sqlalchemy.engine import Result
from sqlalchemy.sql import Executable
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from ymt_graph.api.auth import authenticate
from ymt_graph.api.errors import shape
from ymt_graph.api.metrics import ERRORS, LATENCY, REQUESTS
from ymt_graph.db import RequestDb, fetch_records, get_engine
from ymt_graph.graph.context import Context
from ymt_graph.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"


class SocketDb(RequestDb):
    """The database as a websocket sees it. A connection lives as long as its subscriptions (hours),
    so it holds no pooled connection between statements: each one borrows a connection and gives it
    back (reads in autocommit, as for a request; units of work still use ``transaction()``)."""

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None, /
    ) -> Result[Any]:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            if isinstance(statement, sa.Select) and (parameters is None or isinstance(parameters, Mapping)):
                return cast(Result[Any], await fetch_records(conn, statement, parameters))
            return await conn.execute(statement, parameters)


class SocketContext(Context):
    """A websocket connection's context, shared by its operations. strawberry puts the
    ``connection_init`` payload in ``connection_params`` before calling ``on_ws_connect``."""

    connection_params: dict[str, Any] | None = None


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: Any, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            # API.md's transport; the legacy graphql-ws protocol is not offered.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.settings = settings
        assert settings.database_url is not None
        self.engine = get_engine(settings.database_url, settings.db_pool_size)

    async def make_context(self, request: Any, *, socket: bool = False) -> Context:
        db = SocketDb(self.engine) if socket else RequestDb(self.engine)
        principal, auth_error = await authenticate(request.headers.get("authorization"), self.settings, db)
        return (SocketContext if socket else Context)(
            settings=self.settings,
            db=db,
            principal=principal,
            auth_error=auth_error,
            request_id=request.headers.get("x-request-id") or uuid.uuid4().hex[:16],
            request=request,
        )

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        """strawberry asks for a context only for websockets (``__call__`` builds HTTP ones)."""
        return await self.make_context(request, socket=True)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """``connection_init``: a credential in its payload (``authorization`` or ``Authorization``,
        "Bearer <token>") replaces the upgrade request's. Always acknowledged (see the module doc)."""
        params = cast(SocketContext, context).connection_params or {}
        credential = params.get("authorization") or params.get("Authorization")
        if isinstance(credential, str):
            context.principal, context.auth_error = await authenticate(credential, self.settings, context.db)
        elif credential:
            context.principal, context.auth_error = None, 'Send {"authorization": "Bearer <token>"}.'
        return UNSET

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        ctx = await self.make_context(request)
        try:
            response = await self.run(request, context=ctx)
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
        and a request that never reached execution (parse/validation) answers 4xx. A throttled
        one (RATE_LIMITED, API.md "Limits and cost") answers 429 + Retry-After whatever was asked
        for, so that clients and proxies back off."""
        retry_after = getattr(request.state, "retry_after", None)
        if retry_after is not None:
            response.status_code = 429
            response.headers["retry-after"] = str(retry_after)
        if response.media_type != "application/json" or GRAPHQL_RESPONSE not in request.headers.get("accept", ""):
            return
        response.media_type = GRAPHQL_RESPONSE
        response.headers["content-type"] = GRAPHQL_RESPONSE
        if getattr(request.state, "not_executed", False) and retry_after is None:
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
            if request.state.not_executed:
                request.state.retry_after = next(
                    ((e.extensions or {}).get("retryAfter") for e in result.errors
                     if (e.extensions or {}).get("code") == "RATE_LIMITED"), None)
        return process_result(result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)
