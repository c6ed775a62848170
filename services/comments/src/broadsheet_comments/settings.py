"""Configuration of the comments service (env prefix ``COMMENTS_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from broadsheet_shared import devkeys
from broadsheet_shared.settings import AddressDigestSettings


class Settings(AddressDigestSettings):
    model_config = SettingsConfigDict(env_prefix="COMMENTS_", extra="ignore", frozen=True)

    service_name: str = "comments"
    port: int = Field(default=8002, ge=1, le=65535)
    mongo_database: str = "broadsheet_comments"

    # Signs edit tokens. Shared with nothing else; must be set in prod.
    signing_secret: SecretStr = SecretStr(devkeys.DEV_SIGNING_SECRET)
    edit_window_seconds: int = Field(default=15 * 60, ge=1)

    # Peers whose last X-Forwarded-For hop names the real client (the gateway).
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]
    rate_limit_per_client: int = Field(default=5, ge=1)
    rate_limit_per_email: int = Field(default=5, ge=1)
    rate_limit_window_seconds: int = Field(default=60, ge=1)

    max_links: int = Field(default=2, ge=0)
    suspect_words: list[str] = []
    banned_words: list[str] = []
    premoderate_first_time: bool = False
    duplicate_window_seconds: int = Field(default=3600, ge=0)

    # Comments are at most 5,000 characters: anything far bigger is refused before parsing.
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)

    @model_validator(mode="after")
    def _refuse_dev_secret_in_prod(self) -> Settings:
        if (
            self.environment == "prod"
            and self.signing_secret.get_secret_value() == devkeys.DEV_SIGNING_SECRET
        ):
            raise ValueError("COMMENTS_SIGNING_SECRET must be set in prod")
        return self
