"""The gateway's edge against a hostile reader, through the real platform (issue 11)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from broadsheet_devstack.pytest_plugin import ServiceFactory

from .conftest import Platform

pytestmark = pytest.mark.e2e


def _gateway_rss_kib(platform: Platform) -> int:
    gateway = next(s for s in platform.factory.started if s.name == "gateway")
    status = Path(f"/proc/{gateway.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1])


def test_distinct_long_unknown_paths_do_not_grow_the_gateway(platform: Platform) -> None:
    filler = "x" * 60_000
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:

        def ask(first: int, count: int) -> None:
            for n in range(first, first + count):
                response = client.get(f"/api/nowhere-{n}/{filler}")
                assert response.status_code == 404, response.text[:200]

        ask(0, 20)  # allocator and connection warmed up
        before = _gateway_rss_kib(platform)
        ask(20, 100)  # 6 MB of distinct paths: all of them were kept
        grown = _gateway_rss_kib(platform) - before
    assert grown < 3_000, f"the gateway grew by {grown} KiB"


@pytest.fixture(scope="module")
def edge_gateway(platform: Platform) -> Iterator[str]:
    """A second gateway in front of the platform's services: behind a trusted proxy network
    (127.0.0.0/8: 127.0.0.2, 127.0.0.3 … are proxies of this machine), with small limits."""
    urls = {s.name: s.url for s in platform.factory.started}
    factory = ServiceFactory(platform.factory.infra, platform.factory.prefix)
    try:
        gateway = factory(
            "gateway",
            env={
                "GATEWAY_ARTICLES_URL": urls["articles"],
                "GATEWAY_COMMENTS_URL": urls["comments"],
                "GATEWAY_NOTIFICATIONS_URL": urls["notifications"],
                "GATEWAY_TRUSTED_PROXIES": '["127.0.0.0/8"]',
                "GATEWAY_WRITE_RATE_LIMIT": "2",
                "GATEWAY_LIVE_UPDATES": "false",
                "GATEWAY_LIVE_STREAMS_PER_CLIENT": "2",
                "GATEWAY_LIVE_STREAMS_TOTAL": "3",
                "GATEWAY_LIVE_IDLE_SECONDS": "3",
            },
        )
        yield gateway.url
    finally:
        factory.stop_all()


def _behind_proxy(url: str, proxy: str) -> httpx.AsyncClient:
    # uvicorn itself believes X-Forwarded-For from 127.0.0.1 only: these proxies reach the
    # gateway's own rules.
    transport = httpx.AsyncHTTPTransport(local_address=proxy)
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=30)


async def test_readers_behind_one_trusted_proxy_network_are_limited_apart(
    platform: Platform, edge_gateway: str
) -> None:
    path = f"/api/articles/{platform.article_slug}/comments"
    async with (
        _behind_proxy(edge_gateway, "127.0.0.2") as first_proxy,
        _behind_proxy(edge_gateway, "127.0.0.3") as second_proxy,
    ):

        async def write(proxy: httpx.AsyncClient, reader: str) -> int:
            # An empty comment: the service refuses it (422), the gateway counts it first.
            headers = {"X-Forwarded-For": reader}
            return (await proxy.post(path, json={}, headers=headers)).status_code

        spammer = [await write(first_proxy, "198.51.100.1") for _ in range(3)]
        assert spammer[:2] == [422, 422]
        assert spammer[2] == 429
        # Another reader, through the other proxy of the same network: a limit of its own.
        assert await write(second_proxy, "198.51.100.2") == 422
        # The spammer through the other proxy is still the spammer.
        assert await write(second_proxy, "198.51.100.1") == 429


async def test_live_streams_are_capped_per_client_and_in_all_and_idle_ones_close(
    platform: Platform, edge_gateway: str
) -> None:
    live = f"/articles/{platform.article_slug}/live"
    async with contextlib.AsyncExitStack() as stack:
        proxy = await stack.enter_async_context(_behind_proxy(edge_gateway, "127.0.0.4"))

        async def open_stream(reader: str) -> httpx.Response:
            headers = {"X-Forwarded-For": reader}
            return await stack.enter_async_context(proxy.stream("GET", live, headers=headers))

        opened = [await open_stream("203.0.113.1") for _ in range(2)]
        assert [stream.status_code for stream in opened] == [200, 200]
        mine = await proxy.get(live, headers={"X-Forwarded-For": "203.0.113.1"})
        assert mine.status_code == 429
        assert mine.headers["content-type"].startswith("application/problem+json")
        assert int(mine.headers["retry-after"]) >= 1
        opened.append(await open_stream("203.0.113.2"))
        full = await proxy.get(live, headers={"X-Forwarded-For": "203.0.113.3"})
        assert full.status_code == 503
        assert int(full.headers["retry-after"]) >= 1
        # Nothing happens on the article: every stream is closed after the idle time ...
        started = time.monotonic()
        for stream in opened:
            assert "event: ready" in "".join([text async for text in stream.aiter_text()])
        assert time.monotonic() - started < 15
        # ... and its place is free again.
        again = await open_stream("203.0.113.3")
        assert again.status_code == 200
