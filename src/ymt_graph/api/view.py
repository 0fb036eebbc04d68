"""The HTTP/WebSocket view: strawberry's ASGI GraphQL with our context, JSON and status rules.

**Fast path.** A query the compiled path has answered before (``compiled.runner.KnownDocuments``:
parsed, valid, within the depth/alias/token limits, a query), asked again over POST
``application/json`` or GET by a principal whose plan for it (and for this shape of variables) is
cached, skips strawberry's request pipeline (``GraphQLView._fast``): the request is priced with the
same ``CostCache``, charged to the same bucket, answered by the same ``runner.answer`` and written as
the same bytes (``{"data": …, "extensions": {"cost": …}}``) with the same HTTP rules, request id and
metrics. Anything else — first sight of a document or of a plan, a cost over the maximum, an
unusual body — goes the normal way, untouched. A request the fast path began but cannot finish
(bucket short, the statement failing) is handed to the normal path with what was done
(``Context.prepaid``, ``Context.compiled_outcome``), so nothing is charged or run twice: it then
answers exactly as it would have.

A websocket (graphql-transport-ws) gets one Context for the connection, like an HTTP request gets
one for the request: its principal comes from the upgrade request's ``Authorization`` header, or
from ``connection_init``'s payload ``{"authorization": "Bearer <token>"}`` (which wins; browsers
cannot set headers on a websocket). A missing or bad credential is not refused at connect: as
over HTTP, fields that need a principal answer UNAUTHENTICATED.

**Persisted queries** (``api/persisted.py``). ``parse_http_body`` keeps a top-level ``documentId``
(body or query string), and ``execute_single`` turns the request into the text it runs
(``persisted.resolve``) before strawberry executes it — so limits, cost and both read paths apply to a
persisted document exactly as to a sent one — or answers its coded error without executing anything.
PERSISTED_QUERY_NOT_FOUND answers HTTP 200 whatever was asked for (Apollo clients read the error from
the body and then send the text; a 4xx would also do for current Apollo Client, but 200 works for every
APQ client) with ``Cache-Control: no-store``, so a CDN never caches a miss of a GET. The fast path
answers persisted requests whose text this process has already seen (``persisted.local``); and with
``only_trusted_documents``, raw text only from principals who may send it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.async_base_view import AsyncHTTPRequestAdapter
from strawberry.http.parse_content_type import parse_content_type
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from ymt_graph.api import persisted
from ymt_graph.api.auth import authenticate
from ymt_graph.api.cost import BUCKETS, Throttle, bucket_key, cost_report
from ymt_graph.api.errors import shape
from ymt_graph.api.metrics import ERRORS, LATENCY, REQUESTS
from ymt_graph.compiled import runner
from ymt_graph.compiled.runner import KnownDocuments
from ymt_graph.db import RequestDb, fetch_records, get_engine
from ymt_graph.graph.context import Context
from ymt_graph.graph.errors import CodedError, ErrorCode
from ymt_graph.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
_REQUESTS: dict[int, Any] = {}  # REQUESTS' child per status code


def _floatless(value: Any) -> bool:
    """No float in these JSON values. orjson reads an integer beyond 64 bits as a float where json
    (strawberry's reader) keeps the int: a request with a float is left to the normal path."""
    kind = type(value)
    if kind is float:
        return False
    if kind is dict:
        return all(_floatless(v) for v in value.values())
    if kind is list:
        return all(_floatless(v) for v in value)
    return True


@dataclass
class PersistedRequestData(GraphQLRequestData):
    """A request naming a trusted document by ``documentId`` (a top-level key strawberry drops)."""

    document_id: Any = None


class SocketDb(RequestDb):
    """The database as a websocket sees it. A connection lives as long as its subscriptions (hours),
    so it holds no pooled connection between statements: each one borrows a connection and gives it
    back (reads in autocommit, as for a request; units of work still use ``transaction()``)."""

    holds_connection = False

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


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with persisted queries: a ``subscribe`` payload may name its document as
    a request does (``extensions.persistedQuery``, ``documentId``), and only trusted documents run
    when the principal is so restricted; a refusal is the operation's ``error`` message."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload")
        if (not self.connection_acknowledged or message["id"] in self.operations
                or not isinstance(payload, dict)):
            await super().handle_subscribe(message)
            return
        ctx = self.context
        try:
            query, remember = await persisted.resolve(ctx.settings, ctx.principal, payload.get("query"),
                                                      payload.get("extensions"), payload.get("documentId"))
        except CodedError as error:
            await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
            return
        if query is not None and query is not payload.get("query"):
            message = cast(SubscribeMessage, {**message, "payload": {**payload, "query": query}})
        # An APQ registration (``remember``) runs but is not stored: only HTTP, which checks that the
        # text validated first, stores documents.
        del remember
        await super().handle_subscribe(message)


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    # Known compiled reads skip strawberry's pipeline (module docstring); off: every request takes it.
    fast_path = True

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
        # Compiled reads queue here, first come first served, rather than in PostgreSQL's run
        # queue (docs/DESIGN.md "Read gate").
        self.read_gate = asyncio.Semaphore(settings.read_concurrency)
        # The fast path writes plain JSON responses only: no streaming transports configured.
        self._fast_ok = not self._stream_transport_map and not self.multipart_uploads_enabled
        self._json_types: dict[str | None, bool] = {}

    async def make_context(self, request: Any, *, socket: bool = False) -> Context:
        db = (SocketDb if socket else RequestDb)(self.engine, self.read_gate)
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
            response = await self._fast(request, ctx) if self.fast_path and self._fast_ok else None
            if response is None:
                response = await self.run(request, context=ctx)
        except HTTPException as exc:
            response = PlainTextResponse(exc.reason, status_code=exc.status_code)
        finally:
            await ctx.db.close()
        self._apply_http_rules(request, response)
        response.headers["x-request-id"] = ctx.request_id
        counter = _REQUESTS.get(response.status_code)
        if counter is None:
            counter = _REQUESTS[response.status_code] = REQUESTS.labels(str(response.status_code))
        counter.inc()
        LATENCY.observe(time.perf_counter() - started)
        await response(scope, receive, send)

    async def _fast(self, request: Request, ctx: Context) -> Response | None:
        """The response to a known compiled read, or None: the normal path answers (see the module
        docstring). Up to the bucket nothing here has an effect; past it, a request that cannot be
        finished here leaves what it did in ``ctx`` for the normal path."""
        known_documents = getattr(self.schema, "known_documents", None)
        settings = ctx.settings
        if not isinstance(known_documents, KnownDocuments) or ctx.principal is None or not settings.compiled_reads:
            return None
        method = request.method
        if method == "POST":
            if not self._is_json(request.headers.get("content-type")):
                return None
            body = await request.body()
        elif method != "GET" or self.should_render_graphql_ide(request) or not any(
                k in request.query_params for k in ("query", "extensions", "documentId")):
            return None  # GraphiQL, a bad request, another method: strawberry's to answer
        try:
            # Values the normal path would read alike: where orjson (stricter than json) refuses
            # a body, the normal path reads it and answers whatever it answers; numbers: below.
            data = orjson.loads(body) if method == "POST" else self.parse_query_params(request.query_params)
            if type(data) is not dict:
                return None
            query, name = data.get("query"), data.get("operationName")
            variables, extensions = data.get("variables"), data.get("extensions")
            # The text a persisted request runs if this process knows it; raw text as it is if the
            # principal may send it (only_trusted_documents): else None, the normal path decides.
            query = persisted.local(settings, ctx.principal, query, extensions, data.get("documentId"))
            if (type(query) is not str or (name is not None and type(name) is not str)
                    or (variables is not None and (type(variables) is not dict or not _floatless(variables)))
                    or (extensions is not None and type(extensions) is not dict)):
                return None
            known = known_documents.get(query, name)
            if known is None:
                return None
            ymt_schema: Any = self.schema
            schema = ymt_schema._schema
            cost = ymt_schema.costs.cost(schema, known.document, query, known.operation_name, variables)
            if cost > settings.max_query_cost:
                return None
            found = runner.cached(schema, known.document, query, known.operation_name, variables, ctx,
                                  known.query_digest)
            if found is None:
                return None
        except Exception:  # the normal path meets it too, and answers it its way
            return None
        # From here on as QueryCost._limit and CompiledReads.on_execute do it.
        throttle: Throttle | None = None
        if settings.rate_limits_on:
            throttle = await BUCKETS.take(settings, bucket_key(ctx), cost)
            if throttle is not None and not throttle.taken:
                ctx.prepaid = (cost, throttle)  # RATE_LIMITED, 429: the normal path writes it
                return None
        try:
            answered = await runner.answer(schema, known.document, query, known.operation_name, variables, ctx,
                                           found=found)
        except Exception as exc:
            answered, ctx.compiled_outcome = None, (exc,)
        else:
            if answered is None:
                ctx.compiled_outcome = (None,)  # the resolver path answers
        if answered is None:
            ctx.prepaid = (cost, throttle) if settings.rate_limits_on else None
            return None
        content = self.encode_json({"data": orjson.Fragment(answered),
                                    "extensions": {"cost": cost_report(cost, False, throttle)}})
        return Response(content, status_code=200, media_type="application/json")

    def should_render_graphql_ide(self, request: Any) -> bool:
        """GraphiQL for a browser's GET without a document — a persisted one included."""
        params = request.query_params
        return super().should_render_graphql_ide(request) and "extensions" not in params and "documentId" not in params

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        if not isinstance(data, GraphQLRequestData):
            return data
        # A documentId, read again from the body (Starlette keeps it) when it may have one.
        if request.method == "GET":
            document_id = request.query_params.get("documentId")
        elif request.method == "POST" and b'"documentId"' in (body := await request.get_body()):
            parsed = self.parse_json(body)
            document_id = parsed.get("documentId") if isinstance(parsed, dict) else None
        else:
            document_id = None
        if document_id is None:
            return data
        return PersistedRequestData(query=data.query, variables=data.variables, operation_name=data.operation_name,
                                    extensions=data.extensions, protocol=data.protocol, document_id=document_id)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Runs the document a persisted request names (module docstring); a sent one as before,
        unless only trusted documents may run for this principal."""
        document_id = getattr(request_data, "document_id", None)
        try:
            query, remember = await persisted.resolve(context.settings, context.principal, request_data.query,
                                                      request_data.extensions, document_id)
        except CodedError as error:
            return ExecutionResult(data=None, errors=[error])
        if query is not request_data.query:
            request_data = GraphQLRequestData(query=query, variables=request_data.variables,
                                              operation_name=request_data.operation_name,
                                              extensions=request_data.extensions, protocol=request_data.protocol)
        result = await super().execute_single(request, request_adapter, sub_response, context, root_value,
                                              request_data)
        # Stored once it parsed and validated: it ran, or was refused for its cost alone (QueryCost's
        # errors carry ``cost``) — never text the limits or validation refused.
        if remember is not None and query is not None and (
                not result.errors or result.data is not None or any(e.path is not None for e in result.errors)
                or any("cost" in (e.extensions or {}) for e in result.errors)):
            await persisted.STORE.remember(context.settings, remember, query)
        return result

    def _is_json(self, content_type: str | None) -> bool:
        """Whether strawberry reads this body as JSON (``parse_http_body``'s test)."""
        found = self._json_types.get(content_type)
        if found is None:
            found = "application/json" in parse_content_type(content_type or "")[0]
            if len(self._json_types) < 64:
                self._json_types[content_type] = found
        return found

    def _apply_http_rules(self, request: Request, response: Response) -> None:
        """GraphQL-over-HTTP: a client asking for application/graphql-response+json gets it,
        and a request that never reached execution (parse/validation) answers 4xx. A throttled
        one (RATE_LIMITED, API.md "Limits and cost") answers 429 + Retry-After whatever was asked
        for, so that clients and proxies back off."""
        # request.state, read without building it: its values live in scope["state"].
        state = request.scope.get("state") or {}
        retry_after = state.get("retry_after")
        if retry_after is not None:
            response.status_code = 429
            response.headers["retry-after"] = str(retry_after)
        if state.get("persisted_miss", False):
            response.headers["cache-control"] = "no-store"
        if response.media_type != "application/json" or GRAPHQL_RESPONSE not in request.headers.get("accept", ""):
            return
        response.media_type = GRAPHQL_RESPONSE
        response.headers["content-type"] = GRAPHQL_RESPONSE
        if state.get("not_executed", False) and retry_after is None:
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
            if any(_code(e) == ErrorCode.PERSISTED_QUERY_NOT_FOUND for e in result.errors):
                # Apollo's retry signal: 200 (see the module docstring), never cached.
                request.state.not_executed = False
                request.state.persisted_miss = True
            if request.state.not_executed:
                request.state.retry_after = next(
                    ((e.extensions or {}).get("retryAfter") for e in result.errors
                     if (e.extensions or {}).get("code") == "RATE_LIMITED"), None)
        return process_result(result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def _code(error: Any) -> Any:
    return (error.extensions or {}).get("code")
