"""Configuration of the articles service (env prefix ``ARTICLES_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from broadsheet_shared import devkeys
from broadsheet_shared.http.clients import LOOPBACK_PROXIES, TrustedProxies
from broadsheet_shared.settings import DatabaseServiceSettings

DEFAULT_SECTIONS = ["World", "Foreign Affairs", "Politics", "Business", "Opinion"]
DEV_EDITOR_EMAIL = "editor@broadsheet.local"
DEV_EDITOR_PASSWORD = "broadsheet-dev-password"  # noqa: S105 - dev default, refused off loopback


class Settings(DatabaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ARTICLES_", extra="ignore", frozen=True)

    SHARED_FIELDS: ClassVar[frozenset[str]] = DatabaseServiceSettings.SHARED_FIELDS | {
        "editor_email",
        "editor_password",
    }

    service_name: str = "articles"
    port: int = Field(default=8001, ge=1, le=65535)
    mongo_database: str = "broadsheet_articles"

    # The first admin, created at start-up if no account has this email yet.
    editor_email: str = DEV_EDITOR_EMAIL
    editor_password: SecretStr = SecretStr(DEV_EDITOR_PASSWORD)
    editor_name: str = "Editor"

    # Ed25519 private key (PEM) signing staff tokens; its public half is JWT_PUBLIC_KEY.
    jwt_private_key: SecretStr = SecretStr(devkeys.DEV_JWT_PRIVATE_KEY)
    access_token_minutes: int = Field(default=15, ge=1, le=15)
    refresh_token_days: int = Field(default=14, ge=1, le=90)
    password_link_hours: int = Field(
        default=48,
        ge=1,
        le=168,
        description="How long a new staff account's one-time set-password link works",
    )

    # Argon2id cost; the floor is OWASP's (19 MiB, 2 iterations, 1 lane).
    argon2_memory_kib: int = Field(default=65536, ge=19456)
    argon2_time_cost: int = Field(default=3, ge=2)
    argon2_parallelism: int = Field(default=4, ge=1)

    # Login throttling: attempts per window per (account, client address) and per client
    # address. The account alone is never locked: past this many failures in a window from
    # any clients, each further failed answer waits login_slowdown_seconds.
    login_attempts_per_account_client: int = Field(default=10, ge=1)
    login_attempts_per_client: int = Field(default=30, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    login_slow_after_failures: int = Field(default=50, ge=1)
    login_slowdown_seconds: float = Field(default=1.0, ge=0, le=10)
    # Below the gateway's upstream read timeout (10 s), like every database bound.
    bulk_change_timeout_ms: int = Field(
        default=8000,
        ge=100,
        le=9000,
        description="Bound on a change that rewrites many articles at once (a section rename)",
    )
    # Peers whose last X-Forwarded-For hop names the client (the gateway): addresses or networks.
    trusted_proxies: TrustedProxies = LOOPBACK_PROXIES

    default_sections: list[str] = DEFAULT_SECTIONS
    scheduler_interval_seconds: float = Field(default=1.0, gt=0, le=60)

    max_request_bytes: int = Field(default=512_000, ge=1024)
    public_cache_seconds: int = Field(default=60, ge=0)
    feed_size: int = Field(default=20, ge=1, le=100)

    @model_validator(mode="after")
    def _refuse_dev_secrets(self) -> Settings:
        self.require_secret(
            "ARTICLES_JWT_PRIVATE_KEY", self.jwt_private_key, devkeys.DEV_JWT_PRIVATE_KEY
        )
        self.require_secret("EDITOR_PASSWORD", self.editor_password, DEV_EDITOR_PASSWORD)
        return self
