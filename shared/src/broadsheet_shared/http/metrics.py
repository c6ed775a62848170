"""Prometheus metrics: request latency per route template, and the /metrics endpoint."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_SECONDS = Histogram(
    "broadsheet_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

# A client may send any token as its method: the others are measured as "OTHER", so that
# made-up methods cannot add series (and memory) without end.
_MEASURED_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


def method_label(method: str) -> str:
    return method if method in _MEASURED_METHODS else "OTHER"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        # labels() hashes and locks on every call; the children are few (route templates).
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            # The template, not the path, so slugs and ids do not explode the label set.
            template = getattr(route, "path", "unmatched")
            key = (method_label(scope["method"]), template, status)
            child = self._children.get(key)
            if child is None:
                child = REQUEST_SECONDS.labels(self.service, key[0], template, str(status))
                self._children[key] = child
            child.observe(time.perf_counter() - started)


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
