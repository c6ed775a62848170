"""The API pass-through as a lean raw ASGI app, in front of the FastAPI stack.

Every ``/api/...`` request used to cross six middlewares, Starlette's router (matching each of
the site's routes in turn), a ``Request`` object and header re-encoding before it reached the
upstream client; that was most of the latency the gateway added (docs/gateway.md has the
numbers). This app does, in one pass over the headers, what those layers did for the proxied
routes: request id (created, or taken when it is a valid one), body size limit (413), metrics,
security headers, per-client POST rate limit (429), JSON depth limit, 503/504 problems. Any
request it does not take on (a cross-origin one while CORS is configured, anything outside
``/api/``, lifespan) goes to the full stack unchanged, and so do the feeds' site aliases.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import structlog
from asgi_correlation_id import correlation_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broadsheet_gateway.bootstrap import Container
from broadsheet_gateway.domain import (
    HOP_BY_HOP,
    client_ip,
    json_depth_exceeds,
)
from broadsheet_gateway.edge import SITE_CSP, STATIC_SECURITY_HEADERS
from broadsheet_gateway.repository import UpstreamTimeout, UpstreamUnavailable
from broadsheet_shared.http.metrics import REQUEST_SECONDS
from broadsheet_shared.http.problems import problem_response

log = structlog.get_logger(__name__)
_cid_log = logging.getLogger("asgi_correlation_id")

# Bodies at most this large are read whole and sent with Content-Length; larger ones stream.
BUFFER_LIMIT = 256 * 1024
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
# The label the FastAPI route for the same requests carries, so dashboards see one series.
ROUTE_LABEL = "/api/{path:path}"

_REQUEST_DROPPED = HOP_BY_HOP | {
    "host",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "forwarded",
    "x-request-id",
}
_RESPONSE_DROPPED = HOP_BY_HOP | {"server", "date"}
_SITE_SECURITY = [*STATIC_SECURITY_HEADERS, (b"content-security-policy", SITE_CSP.encode())]


def _valid_request_id(value: str) -> bool:
    # asgi-correlation-id's default validator: any 32-hex-digit string (a UUID) is accepted.
    try:
        return bool(UUID(value, version=4))
    except ValueError:
        return False


class _BodyTooLarge(Exception):
    pass


class ApiFastPath:
    """Outermost middleware: ``/api/...`` handled here, everything else passed to ``app``."""

    def __init__(self, app: ASGIApp, container: Container, cors: bool) -> None:
        self.app = app
        self.container = container
        self.cors = cors
        self.service = container.settings.service_name
        self.max_body = container.settings.max_body_bytes
        self.max_depth = container.settings.max_json_depth
        self.trusted = container.trusted_proxies
        self._metrics: dict[tuple[str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        request_id: str | None = None
        forwarded_for: str | None = None
        host = ""
        content_type = b""
        content_length: bytes | None = None
        chunked = False
        connection: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"origin":
                if self.cors:
                    # CORS (preflights and simple requests) is the full stack's business.
                    await self.app(scope, receive, send)
                    return
            elif name == b"x-request-id":
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
        if not request_id:
            request_id = uuid4().hex
        elif not _valid_request_id(request_id):
            request_id = uuid4().hex
            _cid_log.warning(
                "Generated new request ID (%s), since request header value failed validation",
                request_id,
            )
        correlation_id.set(request_id)
        rid_header = (b"x-request-id", request_id.encode("latin-1"))
        started = time.perf_counter()
        method: str = scope["method"]
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
                for item in _SITE_SECURITY:
                    if item[0] not in present:
                        headers.append(item)
                message = {**message, "headers": headers}
            await send(message)

        try:
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
                await self._problem(
                    scope,
                    receive,
                    reply,
                    413,
                    f"The request body is larger than {self.max_body} bytes.",
                )
        except Exception:
            log.exception("unhandled error", path=scope["path"])
            if not response_started:
                await self._problem(scope, receive, reply, 500, "Something went wrong on our side.")
            else:
                raise
        finally:
            key = (method, status)
            child = self._metrics.get(key)
            if child is None:
                child = REQUEST_SECONDS.labels(self.service, method, ROUTE_LABEL, str(status))
                self._metrics[key] = child
            child.observe(time.perf_counter() - started)

    async def _problem(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        detail: str,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        response = problem_response(
            status, detail, instance=scope["path"], headers=headers, **extensions
        )
        await response(scope, receive, send)

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
        if (
            content_length is not None
            and content_length.isdigit()
            and int(content_length) > self.max_body
        ):
            await self._problem(
                scope, receive, send, 413, f"The request body is larger than {self.max_body} bytes."
            )
            return
        route = container.proxy.resolve(scope["path"])
        if route is None:
            await self._problem(scope, receive, send, 404, "No such API route.")
            return
        client = scope.get("client")
        ip = client_ip(client[0] if client else None, forwarded_for, self.trusted)
        if method == "POST":
            decision = container.post_limiter.hit(ip)
            if not decision.allowed:
                await self._problem(
                    scope,
                    receive,
                    send,
                    429,
                    "Too many requests. Please wait a moment and try again.",
                    headers={"Retry-After": str(decision.retry_after)},
                    retry_after=decision.retry_after,
                )
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
                    await self._problem(
                        scope,
                        receive,
                        send,
                        400,
                        f"JSON nested deeper than {self.max_depth} levels.",
                    )
                    return
            else:
                body = self._stream_body(receive, overflow)
        dropped: frozenset[str] | set[str] = _REQUEST_DROPPED
        if connection is not None:
            tokens = {t.strip().lower() for t in connection.decode("latin-1").split(",")}
            dropped = _REQUEST_DROPPED | tokens
        headers = [
            (k, v)
            for k, v in (
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in scope["headers"]
            )
            if k not in dropped
        ]
        headers.append(("x-forwarded-for", ip))
        headers.append(("x-forwarded-host", host))
        headers.append(("x-forwarded-proto", scope.get("scheme", "http")))
        headers.append(("x-request-id", request_id))
        query: bytes = scope.get("query_string", b"")
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        target = raw_path.decode("latin-1") + (("?" + query.decode("latin-1")) if query else "")
        try:
            upstream = await container.proxy.send(route, method, target, headers, body)
        except UpstreamTimeout:
            await self._problem(
                scope,
                receive,
                send,
                504,
                f"The {route.upstream.value} service did not answer in time.",
                upstream=route.upstream.value,
            )
            return
        except UpstreamUnavailable:
            if overflow:
                raise _BodyTooLarge from None
            await self._problem(
                scope,
                receive,
                send,
                503,
                f"The {route.upstream.value} service is unavailable. Please try again shortly.",
                headers={"Retry-After": "5"},
                upstream=route.upstream.value,
            )
            return
        out, length = _response_headers(upstream.headers)
        if method == "HEAD" or (length is not None and length <= BUFFER_LIMIT):
            try:
                content = b"" if method == "HEAD" else await upstream.read()
            except UpstreamTimeout:
                await self._problem(scope, receive, send, 504, "The upstream answer was cut short.")
                return
            except UpstreamUnavailable:
                await self._problem(scope, receive, send, 503, "The upstream answer was cut short.")
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
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

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


def _response_headers(
    headers: list[tuple[str, str]],
) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """Upstream response headers minus hop-by-hop ones (content-length is set by us)."""
    dropped: frozenset[str] | set[str] = _RESPONSE_DROPPED
    for name, value in headers:
        if name.lower() == "connection":
            dropped = _RESPONSE_DROPPED | {t.strip().lower() for t in value.split(",")}
    out = []
    length: int | None = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-length":
            length = int(value) if value.isdigit() else None
        elif lowered not in dropped:
            out.append((lowered.encode("latin-1"), value.encode("latin-1")))
    return out, length
