"""Newsroom settings (prefix ``NEWSROOM_``). Where the services are is the gateway's to say: the
Newsroom is mounted inside it and uses the same upstream URLs."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from broadsheet_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSROOM_", extra="ignore", frozen=True)

    service_name: str = "newsroom"
    session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="A session unused this long ends"
    )
    session_lifetime_hours: int = Field(
        default=12, ge=1, le=7 * 24, description="A session ends this long after sign-in"
    )
    max_sessions: int = Field(
        default=10_000, ge=1, description="Sessions held in memory (the oldest go first)"
    )
    time_zone: str = Field(
        default="Europe/London",
        description="Time zone of Publish at when the browser sends none (IANA name)",
    )
    page_size: int = Field(
        default=20,
        ge=1,
        le=100,
        description="Items per list page (articles, queue, comments found, deliveries)",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a page waits for a service"
    )
