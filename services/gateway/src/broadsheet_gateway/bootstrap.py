"""The composition root: settings in, a wired container out."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

import httpx
from jinja2 import Environment
from prometheus_client import start_http_server

from broadsheet_gateway.assets import StaticAssets
from broadsheet_gateway.client_address import client_ip
from broadsheet_gateway.consumers import LiveFeed, build_router
from broadsheet_gateway.limits import FixedWindowLimiter
from broadsheet_gateway.live import LiveHub, ReplayBuffer, StreamLimits
from broadsheet_gateway.openapi import OpenApiService
from broadsheet_gateway.page_cache import PageCache
from broadsheet_gateway.proxy import ProxyService
from broadsheet_gateway.render import CommentRenderer, build_templates, preview_html
from broadsheet_gateway.routing import Upstream
from broadsheet_gateway.service import SiteService
from broadsheet_gateway.settings import Settings
from broadsheet_gateway.upstreams import (
    AiohttpUpstreamClient,
    HttpxUpstreamClient,
    ServiceApis,
    Timeouts,
    UpstreamClient,
)
from broadsheet_newsroom import bootstrap as newsroom
from broadsheet_newsroom.settings import Settings as NewsroomSettings
from broadsheet_shared.events import topics
from broadsheet_shared.http.clients import Network


@dataclass
class Container:
    settings: Settings
    client: UpstreamClient
    proxy: ProxyService
    site: SiteService
    openapi: OpenApiService
    hub: LiveHub
    live_feed: LiveFeed | None
    templates: Environment
    assets: StaticAssets
    comments: CommentRenderer
    pages: PageCache
    trusted_proxies: tuple[Network, ...]
    write_limiter: FixedWindowLimiter
    newsroom: newsroom.Container
    _live_task: asyncio.Task[None] | None = None
    _metrics_server: WSGIServer | None = None

    async def start(self) -> None:
        # Modules, settings and templates live as long as the process: keeping them out of the
        # cyclic collector's generations shortens the pauses that would land in page p99.
        gc.collect()
        gc.freeze()
        if self.settings.metrics_port:
            # The public port has no /metrics: readers must not see the traffic figures.
            self._metrics_server, _ = start_http_server(
                self.settings.metrics_port, addr=self.settings.metrics_host
            )
        if self.live_feed is not None:
            self._live_task = asyncio.create_task(self.live_feed.run(), name="live-feed")

    async def stop(self) -> None:
        if self.live_feed is not None:
            await self.live_feed.stop()
        if self._live_task is not None:
            self._live_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._live_task
        await self.client.aclose()
        await self.newsroom.stop()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()


def build_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> UpstreamClient:
    if transport is not None or settings.upstream_client == "httpx":
        return HttpxUpstreamClient(
            max_connections=settings.pool_max_connections,
            max_keepalive=settings.pool_max_keepalive,
            transport=transport,
        )
    return AiohttpUpstreamClient(
        max_connections=settings.pool_max_connections, max_keepalive=settings.pool_max_keepalive
    )


def bootstrap(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    newsroom_settings: NewsroomSettings | None = None,
) -> Container:
    """``transport`` replaces the network (stand-in upstream apps in unit tests)."""
    client = build_client(settings, transport)
    base_urls = {
        Upstream.ARTICLES: settings.articles_url,
        Upstream.COMMENTS: settings.comments_url,
        Upstream.NOTIFICATIONS: settings.notifications_url,
    }
    timeouts = Timeouts(connect=settings.connect_timeout, read=settings.read_timeout)
    slow = Timeouts(connect=settings.connect_timeout, read=settings.slow_read_timeout)
    apis = ServiceApis(client, base_urls, timeouts, settings.get_retries)
    assets = StaticAssets()
    templates = build_templates(assets)
    comments = CommentRenderer(templates)
    pages = PageCache(
        comments,
        max_entries=settings.page_cache_entries,
        max_age=settings.page_cache_seconds,
    )
    trusted_proxies = tuple(settings.trusted_proxies)
    hub = LiveHub(
        StreamLimits(settings.live_streams_per_client, settings.live_streams_total),
        ReplayBuffer(settings.live_replay_updates),
    )
    live_feed = (
        LiveFeed(
            settings.kafka_bootstrap_servers,
            [settings.topic(topics.COMMENTS), settings.topic(topics.ARTICLES)],
            build_router(hub, comments, pages),
            pages,
            settings.kafka_replication_factor,
        )
        if settings.live_updates
        else None
    )
    return Container(
        settings=settings,
        client=client,
        proxy=ProxyService(
            client,
            base_urls,
            timeouts=timeouts,
            slow_timeouts=slow,
            get_retries=settings.get_retries,
        ),
        site=SiteService(
            apis,
            page_size=settings.comments_page_size,
            front_page_articles=settings.front_page_articles,
        ),
        openapi=OpenApiService(apis, cache_seconds=settings.openapi_cache_seconds),
        hub=hub,
        live_feed=live_feed,
        templates=templates,
        assets=assets,
        comments=comments,
        pages=pages,
        trusted_proxies=trusted_proxies,
        write_limiter=FixedWindowLimiter(
            settings.write_rate_limit, settings.write_rate_window_seconds, time.monotonic
        ),
        # The Newsroom lives in this process (docs/newsroom.md): same services, same proxies,
        # and the reader site's own article renderer for its Preview.
        newsroom=newsroom.bootstrap(
            newsroom_settings or NewsroomSettings(),
            upstream_urls={str(name): url for name, url in base_urls.items()},
            trusted_proxies=trusted_proxies,
            render_article=lambda article: preview_html(templates, comments, article),
            client_ip=lambda peer, forwarded: client_ip(peer, forwarded, trusted_proxies),
            transport=transport,
        ),
    )
