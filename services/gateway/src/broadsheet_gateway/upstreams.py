"""The only code that talks to the services: HTTP clients for their APIs.

The gateway has no database; this is its outside. Two interchangeable HTTP clients sit behind
:class:`UpstreamClient`: httpx and aiohttp.
httpx's pool serialises under heavy concurrency (httpx issue 3215); the benchmark measures both
and aiohttp is the default because it was faster there (docs/gateway.md has the numbers).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
import httpx
import orjson
import yarl

from broadsheet_gateway.routing import Upstream

Headers = Sequence[tuple[str, str]]
Body = bytes | AsyncIterator[bytes] | None

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


class UpstreamError(Exception):
    def __init__(self, upstream: str, reason: str) -> None:
        super().__init__(f"{upstream}: {reason}")
        self.upstream = upstream


class UpstreamUnavailable(UpstreamError):
    """Refused, reset or unreachable: 503."""


class UpstreamTimeout(UpstreamError):
    """Connected, but no answer in time: 504."""


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float


@dataclass
class UpstreamResponse:
    status: int
    headers: list[tuple[str, str]]
    stream: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]

    async def read(self) -> bytes:
        try:
            return b"".join([chunk async for chunk in self.stream])
        finally:
            await self.close()


class UpstreamClient(Protocol):
    async def send(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: Body,
        timeouts: Timeouts,
        *,
        retries: int = 0,
    ) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


async def _with_retries(
    attempt: Callable[[], Awaitable[UpstreamResponse]], method: str, body: Body, retries: int
) -> UpstreamResponse:
    # Only requests that are safe to repeat and have no streamed body are retried, and only when
    # the connection failed (a stale pooled connection, a restarting upstream): never a timeout.
    tries = retries + 1 if method in IDEMPOTENT and not isinstance(body, AsyncIterator) else 1
    for number in range(1, tries + 1):
        try:
            return await attempt()
        except UpstreamUnavailable:
            if number == tries:
                raise
            await asyncio.sleep(0.05 * number)
    raise AssertionError("unreachable")


def _httpx_failure(host: str, exc: httpx.TransportError) -> UpstreamError:
    # Only a connected request that got no answer in time is a timeout (504); a connection
    # that could not be made, even in time, or that broke is an unavailable upstream (503).
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return UpstreamTimeout(host, repr(exc))
    return UpstreamUnavailable(host, repr(exc))


class HttpxUpstreamClient:
    def __init__(
        self,
        *,
        max_connections: int,
        max_keepalive: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_keepalive
        )
        self._transport = transport
        self._limits = limits
        self._client = self._new_client()

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self._transport or httpx.AsyncHTTPTransport(limits=self._limits),
            follow_redirects=False,
            trust_env=False,
            # One client serves every reader: a Set-Cookie from an upstream goes to the reader
            # who caused it and must never be kept and replayed on someone else's request.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    async def send(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: Body,
        timeouts: Timeouts,
        *,
        retries: int = 0,
    ) -> UpstreamResponse:
        host = httpx.URL(url).host
        if self._client.is_closed:
            # An app may be started again after a stop (test clients run the lifespan per use).
            self._client = self._new_client()

        async def attempt() -> UpstreamResponse:
            request = self._client.build_request(
                method,
                url,
                headers=list(headers),
                content=body,
                timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect, pool=timeouts.read),
            )
            try:
                response = await self._client.send(request, stream=True)
            except httpx.TransportError as exc:
                raise _httpx_failure(host, exc) from exc
            return UpstreamResponse(
                status=response.status_code,
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
                ],
                stream=_httpx_stream(response),
                close=response.aclose,
            )

        return await _with_retries(attempt, method, body, retries)

    async def aclose(self) -> None:
        await self._client.aclose()


async def _httpx_stream(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.TransportError as exc:
        raise _httpx_failure(str(response.url.host), exc) from exc
    finally:
        await response.aclose()


def _aiohttp_failure(host: str, exc: TimeoutError | aiohttp.ClientError) -> UpstreamError:
    # As for httpx: a timeout while connecting is an unavailable upstream, not a slow one.
    if isinstance(exc, TimeoutError) and not isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamTimeout(host, repr(exc))
    return UpstreamUnavailable(host, repr(exc))


class AiohttpUpstreamClient:
    def __init__(self, *, max_connections: int, max_keepalive: int) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily, inside the running loop, as aiohttp requires.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=self._max_connections, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                trust_env=False,
                # Shared by every reader: upstream cookies are passed on, never kept (see httpx).
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: Body,
        timeouts: Timeouts,
        *,
        retries: int = 0,
    ) -> UpstreamResponse:
        target = yarl.URL(url, encoded=True)
        host = target.host or "?"
        timeout = self._timeouts.get(timeouts)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
            )
            self._timeouts[timeouts] = timeout

        async def attempt() -> UpstreamResponse:
            session = self._get_session()
            try:
                response = await session.request(
                    method,
                    target,
                    headers=list(headers),  # type: ignore[arg-type]
                    data=body,
                    timeout=timeout,
                    allow_redirects=False,
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise _aiohttp_failure(host, exc) from exc

            return _AiohttpResponse(
                status=response.status,
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers
                ],
                stream=_aiohttp_stream(response, host),
                close=_releaser(response),
                response=response,
                host=host,
            )

        return await _with_retries(attempt, method, body, retries)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _releaser(response: aiohttp.ClientResponse) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        response.release()

    return close


@dataclass
class _AiohttpResponse(UpstreamResponse):
    response: aiohttp.ClientResponse | None = None
    host: str = "?"

    async def read(self) -> bytes:
        # One read of the whole body: cheaper than draining the chunk iterator.
        assert self.response is not None
        try:
            return await self.response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _aiohttp_failure(self.host, exc) from exc
        finally:
            self.response.release()


async def _aiohttp_stream(response: aiohttp.ClientResponse, host: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise _aiohttp_failure(host, exc) from exc
    finally:
        response.release()


@dataclass(frozen=True)
class ApiResult:
    status: int
    data: Any
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class ServiceApis:
    """The services' public JSON APIs as the reader site needs them."""

    def __init__(
        self,
        client: UpstreamClient,
        base_urls: Mapping[Upstream, str],
        timeouts: Timeouts,
        retries: int,
    ) -> None:
        self._client = client
        self._base = {k: v.rstrip("/") for k, v in base_urls.items()}
        self._timeouts = timeouts
        self._retries = retries

    def url(self, upstream: Upstream, path: str, params: Sequence[tuple[str, str]] = ()) -> str:
        query = urlencode(list(params))
        return f"{self._base[upstream]}{path}" + (f"?{query}" if query else "")

    async def call(
        self,
        upstream: Upstream,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        json: Any = None,
        form: bytes | None = None,
        headers: Headers = (),
    ) -> ApiResult:
        all_headers = [("accept", "application/json"), *headers]
        body: bytes | None = None
        if json is not None:
            body = orjson.dumps(json)
            all_headers.append(("content-type", "application/json"))
        elif form is not None:
            body = form
            all_headers.append(("content-type", "application/x-www-form-urlencoded"))
        response = await self._client.send(
            method,
            self.url(upstream, path, params),
            all_headers,
            body,
            self._timeouts,
            retries=self._retries,
        )
        raw = await response.read()
        header_map = {k.lower(): v for k, v in response.headers}
        data: Any = None
        if raw and "json" in header_map.get("content-type", ""):
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                data = None
        return ApiResult(response.status, data, header_map)

    async def get(
        self, upstream: Upstream, path: str, params: Sequence[tuple[str, str]] = ()
    ) -> ApiResult:
        return await self.call(upstream, "GET", path, params=params)
