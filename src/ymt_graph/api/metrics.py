"""Prometheus metrics, recorded once per HTTP request (never per field)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

REQUESTS = Counter("ymt_graphql_requests_total", "GraphQL HTTP requests", ["status"])
LATENCY = Histogram(
    "ymt_graphql_request_seconds",
    "GraphQL HTTP request latency",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ERRORS = Counter("ymt_graphql_errors_total", "GraphQL errors returned", ["code"])


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
