"""The composition root: settings in, a wired container out."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import nh3
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from broadsheet_gateway.consumers import LiveFeed, build_router
from broadsheet_gateway.domain import FixedWindowLimiter, Network, Upstream, parse_networks
from broadsheet_gateway.render import BoundedCache, CommentRenderer
from broadsheet_gateway.repository import (
    AiohttpUpstreamClient,
    HttpxUpstreamClient,
    ServiceApis,
    Timeouts,
    UpstreamClient,
)
from broadsheet_gateway.service import LiveHub, OpenApiService, ProxyService, SiteService
from broadsheet_gateway.settings import Settings
from broadsheet_shared.events import topics
from broadsheet_shared.kafka.router import EventRouter

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass
class Container:
    settings: Settings
    client: UpstreamClient
    proxy: ProxyService
    site: SiteService
    openapi: OpenApiService
    hub: LiveHub
    router: EventRouter
    live_feed: LiveFeed | None
    templates: Environment
    comments: CommentRenderer
    trusted_proxies: tuple[Network, ...]
    post_limiter: FixedWindowLimiter


def _nicedate(value: Any, with_time: bool = False) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    day = f"{moment.strftime('%B')} {moment.day}, {moment.year}"
    return f"{day} at {moment.strftime('%H:%M')}" if with_time else day


_CLEANED = BoundedCache(2_000)


def _clean(value: Any) -> Markup:
    # The services sanitise what they store; cleaning again here means a bug there cannot
    # become script on the reader site. Same input, same output: kept by content.
    text = str(value or "")
    cleaned: str = _CLEANED.get_or_make(
        text, lambda: nh3.clean(text, link_rel="nofollow ugc noopener")
    )
    return Markup(cleaned)  # noqa: S704


def build_templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["nicedate"] = _nicedate
    env.filters["clean"] = _clean
    return env


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
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
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
    templates = build_templates()
    comment_template = templates.get_template("comment.html")
    hub = LiveHub()
    router = build_router(hub, lambda comment: comment_template.render(c=comment))
    live_feed = (
        LiveFeed(settings.kafka_bootstrap_servers, settings.topic(topics.COMMENTS), router)
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
        router=router,
        live_feed=live_feed,
        templates=templates,
        comments=CommentRenderer(templates),
        trusted_proxies=parse_networks(settings.trusted_proxies),
        post_limiter=FixedWindowLimiter(
            settings.post_rate_limit, settings.post_rate_window_seconds, time.monotonic
        ),
    )
