"""Configuration of the comments service (env prefix ``COMMENTS_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from broadsheet_shared import devkeys
from broadsheet_shared.http.clients import LOOPBACK_PROXIES, TrustedProxies
from broadsheet_shared.settings import AddressDigestSettings


class Settings(AddressDigestSettings):
    model_config = SettingsConfigDict(env_prefix="COMMENTS_", extra="ignore", frozen=True)

    service_name: str = "comments"
    port: int = Field(default=8002, ge=1, le=65535)
    mongo_database: str = "broadsheet_comments"

    # Signs edit tokens. Shared with nothing else; must be set in prod.
    signing_secret: SecretStr = SecretStr(devkeys.DEV_SIGNING_SECRET)
    edit_window_seconds: int = Field(default=15 * 60, ge=1)
    # Keys the seeds of the authors' generated avatars (avatars.py); must be set in prod.
    avatar_key: SecretStr = SecretStr(devkeys.DEV_AVATAR_KEY)

    # Peers whose last X-Forwarded-For hop names the client (the gateway): addresses or networks.
    trusted_proxies: TrustedProxies = LOOPBACK_PROXIES
    rate_limit_per_client: int = Field(default=5, ge=1)
    rate_limit_per_email: int = Field(default=5, ge=1)
    rate_limit_window_seconds: int = Field(default=60, ge=1)

    max_links: int = Field(default=2, ge=0)
    suspect_words: list[str] = []
    banned_words: list[str] = []
    premoderate_first_time: bool = False
    duplicate_window_seconds: int = Field(default=3600, ge=0)

    # The client address stored with a comment (for rate limits, client bans and moderation) is
    # forgotten this long after the comment was posted, by a sweep every interval.
    client_address_retention_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    client_address_sweep_interval_seconds: float = Field(default=3600, gt=0)

    # Comments are at most 5,000 characters: anything far bigger is refused before parsing.
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)

    @model_validator(mode="after")
    def _refuse_dev_secret(self) -> Settings:
        self.require_secret(
            "COMMENTS_SIGNING_SECRET", self.signing_secret, devkeys.DEV_SIGNING_SECRET, signing=True
        )
        self.require_secret(
            "COMMENTS_AVATAR_KEY", self.avatar_key, devkeys.DEV_AVATAR_KEY, signing=True
        )
        return self
