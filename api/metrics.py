"""Prometheus metrics of the API: requests by route and status, and their latency.

A plain ASGI middleware (not ``BaseHTTPMiddleware``): no extra task or stream per request.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Where API processes sharing a port keep their counters (prometheus_client's multiprocess
# mode; read when the module is imported, so set before the process starts).
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter("parcours_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "parcours_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            # The route template (not the raw path) keeps the label set small.
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            LATENCY.labels(method, route).observe(time.perf_counter() - started)
            REQUESTS.labels(method, route, str(status["code"])).inc()


def metrics_response() -> Response:
    """This process's figures; those of every API process on the port when they share one
    (``PROMETHEUS_MULTIPROC_DIR``, set by ``parcours dev --apis N``: each process writes its
    counters to files there, a killed one's included)."""
    if MULTIPROCESS_DIR_ENV in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
