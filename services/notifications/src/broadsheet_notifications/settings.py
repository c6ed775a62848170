"""Configuration of the notifications service (env prefix ``NOTIFICATIONS_``)."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from broadsheet_notifications.domain import DigestPolicy, RetryPolicy
from broadsheet_shared import devkeys
from broadsheet_shared.http.clients import LOOPBACK_PROXIES, TrustedProxies
from broadsheet_shared.inbox import PROCESSED_EVENTS_RETENTION_SECONDS
from broadsheet_shared.ratelimit import RateLimit
from broadsheet_shared.settings import AddressDigestSettings

DAY = 24 * 3600


class Settings(AddressDigestSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore", frozen=True)

    # SMTP_HOST / SMTP_PORT may be given once for every process, like MONGO_URL.
    SHARED_FIELDS: ClassVar[frozenset[str]] = AddressDigestSettings.SHARED_FIELDS | {
        "smtp_host",
        "smtp_port",
    }

    service_name: str = "notifications"
    port: int = Field(default=8003, ge=1, le=65535)
    mongo_database: str = "broadsheet_notifications"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_pool_size: int = Field(default=16, ge=1, le=64)
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    mail_from: str = "Broadsheet <notifications@broadsheet.localhost>"
    reply_to: str | None = None
    unsubscribe_mailto: str = "unsubscribe@broadsheet.localhost"

    signing_secret: SecretStr = SecretStr(devkeys.DEV_SIGNING_SECRET)
    confirm_token_max_age_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    confirmation_limit_per_mailbox: int = Field(
        default=3,
        ge=1,
        description="Confirmation mails a mailbox (name+tag@ and name@ are one) may get per "
        "window, however many requests name it; each lists every pending request",
    )
    confirmation_limit_window_seconds: int = Field(default=DAY, ge=1)

    digest_max_per_window: int = Field(default=3, ge=1)
    digest_window_seconds: int = Field(default=600, ge=1)

    retry_initial_backoff_seconds: float = Field(default=5.0, gt=0)
    retry_max_backoff_seconds: float = Field(default=900.0, gt=0)
    retry_max_age_seconds: float = Field(default=24 * 3600.0, gt=0)

    delivery_batch_size: int = Field(default=100, ge=1, le=1000)
    delivery_concurrency: int = Field(default=3, ge=1, le=16)
    delivery_poll_seconds: float = Field(default=0.5, gt=0)
    delivery_lease_seconds: float = Field(default=60.0, gt=0)

    follow_limit_per_client: int = Field(default=10, ge=1)
    follow_limit_per_address: int = Field(default=5, ge=1)
    follow_limit_window_seconds: int = Field(default=3600, ge=1)
    # Peers whose last X-Forwarded-For hop names the client (the gateway): addresses or networks.
    trusted_proxies: TrustedProxies = LOOPBACK_PROXIES

    ledger_retention_seconds: int = Field(
        default=30 * DAY,
        ge=DAY,
        description="How long a finished (sent, failed, cancelled) delivery is kept, counted "
        "from when it finished; then a TTL index deletes it",
    )
    kafka_retention_seconds: int = Field(
        default=7 * DAY,
        ge=1,
        description="The longest retention.ms of the topics this service consumes (Kafka's "
        "default: 7 days); must stay below the ledger's and the processed-event records' "
        "retention, or a replayed event could be emailed twice",
    )

    inbound_smtp_host: str = Field(
        default="127.0.0.1", description="Interface the inbound (mailto: unsubscribe) SMTP binds"
    )
    inbound_smtp_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of the inbound SMTP listener for mailto: unsubscribes; 0: not started",
    )
    inbound_smtp_max_message_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="Larger inbound messages are refused (552)",
    )

    @model_validator(mode="after")
    def _refuse_dev_secret(self) -> Settings:
        self.require_secret(
            "NOTIFICATIONS_SIGNING_SECRET",
            self.signing_secret,
            devkeys.DEV_SIGNING_SECRET,
            signing=True,
        )
        return self

    @model_validator(mode="after")
    def _records_outlive_redelivery(self) -> Settings:
        """Exactly once holds while an event can only come back as long as its records live.

        Kafka redelivers at most what a topic still holds (a consumer group whose offsets
        expired, or a reset, replays the whole topic), so both the processed-event records and
        the ledger must be kept longer than that.
        """
        horizon = self.kafka_retention_seconds
        if horizon >= self.ledger_retention_seconds:
            raise ValueError(
                f"NOTIFICATIONS_LEDGER_RETENTION_SECONDS ({self.ledger_retention_seconds}) must "
                f"exceed NOTIFICATIONS_KAFKA_RETENTION_SECONDS ({horizon})"
            )
        if horizon >= PROCESSED_EVENTS_RETENTION_SECONDS:
            raise ValueError(
                f"NOTIFICATIONS_KAFKA_RETENTION_SECONDS ({horizon}) must stay below the "
                f"processed-event records' retention ({PROCESSED_EVENTS_RETENTION_SECONDS} s)"
            )
        # The digest rule counts the window's sent rows: they must still be there.
        if self.digest_window_seconds >= self.ledger_retention_seconds:
            raise ValueError(
                "NOTIFICATIONS_DIGEST_WINDOW_SECONDS must be shorter than the ledger retention"
            )
        return self

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            initial_backoff=timedelta(seconds=self.retry_initial_backoff_seconds),
            max_backoff=timedelta(seconds=self.retry_max_backoff_seconds),
            max_age=timedelta(seconds=self.retry_max_age_seconds),
        )

    @property
    def digest_policy(self) -> DigestPolicy:
        return DigestPolicy(
            max_per_window=self.digest_max_per_window,
            window=timedelta(seconds=self.digest_window_seconds),
        )

    @property
    def confirmation_limit(self) -> RateLimit:
        return RateLimit(
            self.confirmation_limit_per_mailbox, self.confirmation_limit_window_seconds
        )
