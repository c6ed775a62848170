"""The upstream clients are shared by every reader: nothing of one reader's exchange (cookies)
may ride along on another reader's request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from broadsheet_gateway.upstreams import (
    AiohttpUpstreamClient,
    HttpxUpstreamClient,
    Timeouts,
    UpstreamClient,
    UpstreamTimeout,
    UpstreamUnavailable,
)

pytestmark = pytest.mark.unit

TIMEOUTS = Timeouts(connect=2, read=5)


async def _two_requests(client: UpstreamClient, base: str) -> None:
    first = await client.send("GET", f"{base}/login", [("accept", "*/*")], None, TIMEOUTS)
    assert ("Set-Cookie", "sid=secret; Path=/") in [
        (k.title(), v) for k, v in first.headers
    ]  # passed on to the reader...
    await first.read()
    second = await client.send("GET", f"{base}/other", [("accept", "*/*")], None, TIMEOUTS)
    await second.read()


async def test_httpx_client_keeps_no_cookies() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, headers={"Set-Cookie": "sid=secret; Path=/"}, stream=httpx.ByteStream(b"{}")
        )

    client = HttpxUpstreamClient(
        max_connections=4, max_keepalive=4, transport=httpx.MockTransport(handler)
    )
    await _two_requests(client, "http://articles.internal:8001")
    await client.aclose()
    assert "cookie" not in seen[1].headers  # ...but never replayed to another one


CLIENTS = {"aiohttp": AiohttpUpstreamClient}


@pytest.fixture(params=sorted(CLIENTS))
async def real(
    unused_tcp_port: int, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[UpstreamClient, str, list[web.Request]]]:
    """A real upstream on a TCP port, and a client of the parametrised kind."""
    seen: list[web.Request] = []

    async def handler(req: web.Request) -> web.StreamResponse:
        seen.append(req)
        body = await req.read()
        path = req.path
        if path == "/slow":
            await asyncio.sleep(2)
        if path == "/empty":
            return web.Response(status=204)
        if path == "/big":
            response = web.StreamResponse()  # chunked
            await response.prepare(req)
            for _ in range(30):
                await response.write(b"z" * 10_000)
            await response.write_eof()
            return response
        return web.Response(
            body=b"echo:" + body,
            headers={
                "Set-Cookie": "sid=secret; Path=/",
                "X-Peer": str(req.transport and id(req.transport)),
            },
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", unused_tcp_port)
    await site.start()
    client = CLIENTS[request.param](max_connections=4, max_keepalive=4)
    try:
        yield client, f"http://localhost:{unused_tcp_port}", seen
    finally:
        await client.aclose()
        await runner.cleanup()


async def test_real_clients_keep_no_cookies(
    real: tuple[UpstreamClient, str, list[web.Request]],
) -> None:
    client, base, seen = real
    await _two_requests(client, base)
    assert [r.headers.get("Cookie") for r in seen] == [None, None]


async def test_real_clients_bodies_streams_and_reuse(
    real: tuple[UpstreamClient, str, list[web.Request]],
) -> None:
    client, base, seen = real
    posted = await client.send(
        "POST", f"{base}/p?q=1", [("content-type", "application/json")], b'{"a":1}', TIMEOUTS
    )
    assert posted.status == 200
    assert await posted.read() == b'echo:{"a":1}'
    assert seen[-1].path_qs == "/p?q=1"

    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    streamed = await client.send("PUT", f"{base}/s", [], chunks(), TIMEOUTS)
    assert await streamed.read() == b"echo:one,two,three"

    big = await client.send("GET", f"{base}/big", [], None, TIMEOUTS)
    got = b"".join([chunk async for chunk in big.stream])
    await big.close()
    assert got == b"z" * 300_000

    empty = await client.send("GET", f"{base}/empty", [], None, TIMEOUTS)
    assert empty.status == 204
    assert await empty.read() == b""

    head = await client.send("HEAD", f"{base}/h", [], None, TIMEOUTS)
    assert head.status == 200
    await head.close()

    peers = set()
    for _ in range(5):
        again = await client.send("GET", f"{base}/again", [], None, TIMEOUTS)
        peers.add(dict((k.lower(), v) for k, v in again.headers)["x-peer"])
        await again.read()
    assert len(peers) == 1  # one kept-alive connection


async def test_real_clients_time_out_and_fail(
    real: tuple[UpstreamClient, str, list[web.Request]], unused_tcp_port_factory: object
) -> None:
    client, base, _ = real
    with pytest.raises(UpstreamTimeout):
        await client.send("GET", f"{base}/slow", [], None, Timeouts(connect=1, read=0.2))
    ok = await client.send("GET", f"{base}/after", [], None, TIMEOUTS)
    assert ok.status == 200
    await ok.read()
    port = unused_tcp_port_factory()  # type: ignore[operator]
    with pytest.raises(UpstreamUnavailable):
        await client.send("GET", f"http://127.0.0.1:{port}/", [], None, TIMEOUTS, retries=1)
