"""Gateway settings: where the services are, who may set X-Forwarded-For, and the limits."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from broadsheet_shared.http.clients import TrustedProxies
from broadsheet_shared.identifiers import THREAD_PAGE_MAX
from broadsheet_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    port: int = Field(default=8000, ge=1, le=65535)

    articles_url: str = "http://127.0.0.1:8001"
    comments_url: str = "http://127.0.0.1:8002"
    notifications_url: str = "http://127.0.0.1:8003"

    # Peers (addresses or networks) whose X-Forwarded-For we believe. Empty: the gateway is the
    # edge. Never the compose network's subnet: published ports may arrive from its gateway.
    trusted_proxies: TrustedProxies = Field(default_factory=list)
    cors_allow_origins: list[str] = Field(default_factory=list)

    max_body_bytes: int = Field(default=256_000, ge=1024)
    max_json_depth: int = Field(default=20, ge=2)
    write_rate_limit: int = Field(default=30, ge=1)
    write_rate_window_seconds: int = Field(default=60, ge=1)

    connect_timeout: float = Field(default=2.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    # Slow routes (token issuing hashes a password; feeds render many articles) get longer.
    slow_read_timeout: float = Field(default=30.0, gt=0)
    get_retries: int = Field(default=2, ge=0, le=5)
    pool_max_connections: int = Field(default=200, ge=1)
    pool_max_keepalive: int = Field(default=100, ge=1)
    upstream_client: Literal["httpx", "aiohttp"] = "aiohttp"

    comments_page_size: int = Field(default=50, ge=1, le=THREAD_PAGE_MAX)
    front_page_articles: int = Field(default=30, ge=1, le=100)
    # Consume comment.approved for the live updates (every replica reads every event).
    live_updates: bool = True
    live_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # Open live-update streams (each holds a connection): per client (an IPv4 address or an
    # IPv6 /64) and in all; beyond them 429 / 503. A stream with no new comment for
    # live_idle_seconds is closed (the page's EventSource reconnects while it is open).
    live_streams_per_client: int = Field(default=8, ge=1)
    live_streams_total: int = Field(default=2000, ge=1)
    live_idle_seconds: float = Field(default=600.0, gt=0)
    # The last so many live updates (of any article) are kept for pages that reconnect with
    # Last-Event-ID; a page that missed more is told to reload.
    live_replay_updates: int = Field(default=1000, ge=1)
    # Rendered article pages kept while the live feed is connected, dropped by the events that
    # change them (page_cache.py); also after page_cache_seconds, since votes have no event.
    page_cache_entries: int = Field(default=500, ge=0)
    page_cache_seconds: float = Field(default=10.0, ge=0)
    openapi_cache_seconds: float = Field(default=60.0, ge=0)
    # Prometheus metrics on their own listener, never the public one (0: no metrics listener).
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
