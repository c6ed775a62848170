"""The one forwarder: every ``/api/...`` request, and the reader site's feed aliases of the
articles API, as a lean raw ASGI app in front of the rest of the FastAPI stack (only FastAPI's
own error, telemetry and body-limit layers wrap it).

Crossing six middlewares, Starlette's router, a ``Request`` object and header re-encoding was
most of the latency the gateway added (docs/gateway.md has the numbers). This app does, in one
pass over the headers, what those layers did: request id (created, or taken when it is a valid
one), body size limit (413), metrics, security headers, per-client rate limit on writes (429), JSON
depth limit, 503/504 problems (their words are in ``problems.py``, the header rules in
``headers.py``). A cross-origin request, while CORS is configured, goes through Starlette's CORS
middleware around this same forwarder. Everything else (the site's pages, lifespan) goes to
the full stack unchanged.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from asgi_correlation_id import correlation_id
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broadsheet_gateway import problems
from broadsheet_gateway.bootstrap import Container
from broadsheet_gateway.client_address import client_ip
from broadsheet_gateway.edge import SITE_SECURITY_HEADERS
from broadsheet_gateway.headers import (
    request_headers_for_upstream,
    request_id_for,
    response_headers_from_upstream,
)
from broadsheet_gateway.limits import json_depth_exceeds
from broadsheet_gateway.routing import FEED_METHOD, feed_alias
from broadsheet_gateway.upstreams import UpstreamError, UpstreamUnavailable
from broadsheet_shared.http.clients import client_key
from broadsheet_shared.http.metrics import REQUEST_SECONDS, method_label

log = structlog.get_logger(__name__)

# Bodies at most this large are read whole and sent with Content-Length; larger ones stream.
BUFFER_LIMIT = 256 * 1024
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
# Every method that changes something spends the client's write allowance (429 beyond it).
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The label of every /api request in the metrics (the route template it had in FastAPI, so
# dashboards kept one series); a feed alias is measured under its own template.
ROUTE_LABEL = "/api/{path:path}"


class _BodyTooLarge(Exception):
    pass


class ApiFastPath:
    """Outermost middleware: API calls and feed aliases forwarded here, the rest passed to
    ``app``."""

    def __init__(
        self, app: ASGIApp, container: Container, cors_options: dict[str, Any] | None
    ) -> None:
        self.app = app
        self.container = container
        self.service = container.settings.service_name
        self.max_body = container.settings.max_body_bytes
        self.max_depth = container.settings.max_json_depth
        self.trusted = container.trusted_proxies
        self._metrics: dict[tuple[str, str, int], Any] = {}
        # Cross-origin requests pass Starlette's CORS middleware, then a forwarder like this one.
        self._cors = (
            CORSMiddleware(ApiFastPath(app, container, None), **cors_options)
            if cors_options
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        alias = None
        if not scope["path"].startswith("/api/"):
            alias = feed_alias(scope["path"])
            if alias is None:
                await self.app(scope, receive, send)
                return
        if self._cors is not None and any(name == b"origin" for name, _ in scope["headers"]):
            await self._cors(scope, receive, send)
            return
        request_id: str | None = None
        forwarded_for: str | None = None
        host = ""
        content_type = b""
        content_length: bytes | None = None
        chunked = False
        connection: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded_for = value.decode("latin-1")
            elif name == b"host":
                host = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"connection":
                connection = value
        request_id = request_id_for(request_id)
        correlation_id.set(request_id)
        rid_header = (b"x-request-id", request_id.encode("latin-1"))
        started = time.perf_counter()
        method: str = scope["method"]
        label = ROUTE_LABEL
        status = 500
        response_started = False

        async def reply(message: Message) -> None:
            # Request id and security headers on every response, as the middlewares did.
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", ()))
                present = {n.lower() for n, _ in headers}
                headers.append(rid_header)
                for item in SITE_SECURITY_HEADERS:
                    if item[0] not in present:
                        headers.append(item)
                message = {**message, "headers": headers}
            await send(message)

        async def answer(response: Response) -> None:
            await response(scope, receive, reply)

        try:
            if alias is not None:
                label = alias.template
                if method != FEED_METHOD:
                    await answer(problems.method_not_allowed(FEED_METHOD, scope["path"]))
                    return
                if alias.target is None:
                    await answer(problems.no_such_section(scope["path"]))
                    return
                scope = {
                    **scope,
                    "path": alias.target,
                    "raw_path": alias.target.encode(),
                    "query_string": b"",
                }
            await self._handle(
                scope,
                receive,
                reply,
                method=method,
                request_id=request_id,
                forwarded_for=forwarded_for,
                host=host,
                content_type=content_type,
                content_length=content_length,
                chunked=chunked,
                connection=connection,
            )
        except _BodyTooLarge:
            if not response_started:
                await answer(problems.body_too_large(self.max_body, scope["path"]))
        except Exception:
            log.exception("unhandled error", path=scope["path"])
            if not response_started:
                await answer(problems.unexpected(scope["path"]))
            else:
                raise
        finally:
            measured = method_label(method)
            key = (measured, label, status)
            child = self._metrics.get(key)
            if child is None:
                child = REQUEST_SECONDS.labels(self.service, measured, label, str(status))
                self._metrics[key] = child
            child.observe(time.perf_counter() - started)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        method: str,
        request_id: str,
        forwarded_for: str | None,
        host: str,
        content_type: bytes,
        content_length: bytes | None,
        chunked: bool,
        connection: bytes | None,
    ) -> None:
        container = self.container
        path: str = scope["path"]

        async def answer(response: Response) -> None:
            await response(scope, receive, send)

        if (
            content_length is not None
            and content_length.isdigit()
            and int(content_length) > self.max_body
        ):
            await answer(problems.body_too_large(self.max_body, path))
            return
        route = container.proxy.resolve(path)
        if route is None:
            await answer(problems.no_route(path))
            return
        client = scope.get("client")
        ip = client_ip(client[0] if client else None, forwarded_for, self.trusted)
        if method in WRITE_METHODS:
            decision = container.write_limiter.hit(client_key(ip))
            if not decision.allowed:
                await answer(problems.rate_limited(decision.retry_after, path))
                return
        body: bytes | AsyncIterator[bytes] | None = None
        # Set when a streamed body passes the limit: the upstream client may wrap the error.
        overflow: list[bool] = []
        if content_length is not None or chunked or method not in _NO_BODY_METHODS:
            if b"json" in content_type:
                # Read whole (bounded by the size limit) to refuse deep nesting before any
                # service spends a parser on it.
                body = await self._read_body(receive)
                if json_depth_exceeds(body, self.max_depth):
                    await answer(problems.json_too_deep(self.max_depth, path))
                    return
            else:
                body = self._stream_body(receive, overflow)
        headers = request_headers_for_upstream(
            scope["headers"],
            connection,
            client_ip=ip,
            host=host,
            scheme=scope.get("scheme", "http"),
            request_id=request_id,
        )
        query: bytes = scope.get("query_string", b"")
        raw_path: bytes = scope.get("raw_path") or path.encode()
        target = raw_path.decode("latin-1") + (("?" + query.decode("latin-1")) if query else "")
        try:
            upstream = await container.proxy.send(route, method, target, headers, body)
        except UpstreamError as exc:
            if overflow and isinstance(exc, UpstreamUnavailable):
                raise _BodyTooLarge from None
            await answer(problems.upstream_failed(exc, route.upstream, path))
            return
        out, length = response_headers_from_upstream(upstream.headers)
        if method == "HEAD" or (length is not None and length <= BUFFER_LIMIT):
            try:
                content = b"" if method == "HEAD" else await upstream.read()
            except UpstreamError as exc:
                await answer(problems.answer_cut_short(exc, path))
                return
            finally:
                await upstream.close()
            if method != "HEAD":
                out.append((b"content-length", str(len(content)).encode()))
            elif length is not None:
                out.append((b"content-length", str(length).encode()))
            await send({"type": "http.response.start", "status": upstream.status, "headers": out})
            await send({"type": "http.response.body", "body": content})
            return
        if length is not None:
            out.append((b"content-length", str(length).encode()))
        try:
            await send({"type": "http.response.start", "status": upstream.status, "headers": out})
            async for chunk in upstream.stream:
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await upstream.close()

    async def _read_body(self, receive: Receive) -> bytes:
        return b"".join([chunk async for chunk in self._stream_body(receive, [])])

    async def _stream_body(self, receive: Receive, overflow: list[bool]) -> AsyncIterator[bytes]:
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                overflow.append(True)
                raise _BodyTooLarge
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
