"""The composition root: settings and what the host gateway lends (where the services are, its
trusted proxies, its article renderer) in, a wired container out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape

from broadsheet_newsroom.admin_service import Admin
from broadsheet_newsroom.moderation_service import Moderation
from broadsheet_newsroom.service import Desk, Staff
from broadsheet_newsroom.session import SessionStore
from broadsheet_newsroom.settings import Settings
from broadsheet_newsroom.subscribers_service import Subscribers
from broadsheet_newsroom.timezones import shown
from broadsheet_newsroom.upstream import UpstreamClient
from broadsheet_shared.auth import TokenVerifier
from broadsheet_shared.http.clients import Network
from broadsheet_shared.http.html import without_forbidden_code_points

TEMPLATES = Path(__file__).parent / "templates"

# The reader site's article page for an article that is not saved: the gateway's own renderer
# and template, so a preview is exactly what readers will see.
RenderArticle = Callable[[Mapping[str, Any]], str]
# The client's address from the TCP peer and X-Forwarded-For, by the host's trusted-proxy rules.
ClientIp = Callable[[str | None, str | None], str]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    upstream: UpstreamClient
    sessions: SessionStore
    staff: Staff
    desk: Desk
    moderation: Moderation
    admin: Admin
    subscribers: Subscribers
    templates: Environment
    trusted_proxies: tuple[Network, ...]
    render_article: RenderArticle
    client_ip: ClientIp

    async def stop(self) -> None:
        await self.upstream.aclose()


def build_templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        finalize=without_forbidden_code_points,
    )
    env.filters["shown"] = shown
    return env


def bootstrap(
    settings: Settings,
    *,
    upstream_urls: Mapping[str, str],
    trusted_proxies: Sequence[Network],
    render_article: RenderArticle,
    client_ip: ClientIp,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = _now,
) -> Container:
    """``transport`` replaces the network (stand-in services in unit tests)."""
    upstream = UpstreamClient(upstream_urls, timeout=settings.timeout_seconds, transport=transport)
    sessions = SessionStore(
        idle=timedelta(minutes=settings.session_idle_minutes),
        lifetime=timedelta(hours=settings.session_lifetime_hours),
        max_sessions=settings.max_sessions,
        clock=clock,
    )
    verifier = TokenVerifier(
        settings.jwt_public_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    staff = Staff(upstream, sessions, verifier, clock)
    return Container(
        settings=settings,
        upstream=upstream,
        sessions=sessions,
        staff=staff,
        desk=Desk(staff, page_size=settings.page_size, clock=clock),
        moderation=Moderation(staff, page_size=settings.page_size),
        admin=Admin(staff, page_size=settings.page_size),
        subscribers=Subscribers(staff, page_size=settings.page_size),
        templates=build_templates(),
        trusted_proxies=tuple(trusted_proxies),
        render_article=render_article,
        client_ip=client_ip,
    )
