"""Settings base shared by every service.

Each service subclasses :class:`ServiceSettings` with its own env prefix (``ARTICLES_``,
``COMMENTS_`` …). Infrastructure settings that every process shares (``MONGO_URL``,
``KAFKA_BOOTSTRAP_SERVERS``, ``JWT_PUBLIC_KEY`` …) may also be given once, unprefixed: a
prefixed variable wins over the unprefixed one, so one service can still be pointed elsewhere.
"""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from broadsheet_shared import devkeys

Environment = Literal["dev", "test", "prod"]


# HMAC secrets shorter than this are refused in prod (a 256-bit key, as for HMAC-SHA256).
MIN_SECRET_BYTES = 32


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps a server reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # any other address (0.0.0.0 and :: are every interface), or a name


class _UnprefixedSharedEnv(EnvSettingsSource):
    """Reads the shared infrastructure fields from unprefixed variables (``MONGO_URL``)."""

    def __init__(self, settings_cls: type[BaseSettings], shared_fields: frozenset[str]) -> None:
        super().__init__(settings_cls, env_prefix="", case_sensitive=False)
        self._shared_fields = shared_fields

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name not in self._shared_fields:
            return None, field_name, False
        return super().get_field_value(field, field_name)


class ServiceSettings(BaseSettings):
    """What every Broadsheet process needs: who it is, where Kafka is, how it logs."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # Fields that may also be set without the service prefix.
    SHARED_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "environment",
            "host",
            "log_level",
            "log_json",
            "mongo_url",
            "kafka_bootstrap_servers",
            "kafka_topic_prefix",
            "kafka_replication_factor",
            "jwt_public_key",
            "public_base_url",
            "data_dir",
        }
    )

    service_name: str = Field(
        default="broadsheet",
        description="Name in logs, metrics, Kafka client ids and the consumer group",
    )
    environment: Environment = Field(
        default="dev", description="dev, test or prod; prod refuses the embedded development keys"
    )
    host: str = Field(
        default="127.0.0.1",
        description="Interface the HTTP server binds; off loopback the embedded keys are refused",
    )
    port: int = Field(default=8000, ge=1, le=65535, description="HTTP port")
    log_level: str = Field(default="INFO", description="Log level")
    log_json: bool = Field(default=True, description="JSON log lines (false: human-readable)")
    data_dir: Path = Field(
        default=Path(".data"), description="Local data folder (Kafka, database, mail, logs)"
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers"
    )
    kafka_topic_prefix: str = Field(
        default="",
        description="Prefix for every topic and consumer group (isolates tests, tenants)",
    )
    kafka_replication_factor: int = Field(
        default=1,
        ge=1,
        description="Copies of each topic a service creates (3 on a three-broker cluster)",
    )
    kafka_consumer_group: str = Field(
        default="", description="Consumer group (default: prefix + service name)"
    )
    # Run the outbox relay and the event consumers inside the API process.
    run_workers: bool = Field(
        default=True, description="Run the outbox relay and consumers in the API process"
    )

    # Ed25519 public key (PEM) that verifies staff tokens issued by the articles service.
    jwt_public_key: str = Field(
        default=devkeys.DEV_JWT_PUBLIC_KEY,
        description="Ed25519 public key (PEM) verifying staff tokens",
    )
    jwt_issuer: str = Field(default="broadsheet-articles", description="Expected token issuer")
    jwt_audience: str = Field(default="broadsheet", description="Expected token audience")

    # Where readers reach the site; used to build absolute links (feeds, emails).
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where readers reach the site; absolute links in feeds and emails",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = _UnprefixedSharedEnv(settings_cls, cls.SHARED_FIELDS)
        return init_settings, env_settings, shared, dotenv_settings, file_secret_settings

    @property
    def refuses_embedded_keys(self) -> bool:
        """The embedded development keys and secrets are public (they are in the repository):
        only a process that no other machine can reach may use them, whatever ENVIRONMENT says."""
        return self.environment == "prod" or not is_loopback(self.host)

    def require_secret(
        self, name: str, value: str | SecretStr, embedded: str, *, signing: bool = False
    ) -> None:
        """Refuse the embedded development ``value`` of setting ``name`` off loopback or in
        prod; in prod a ``signing`` secret must also be at least 32 bytes long."""
        secret = value.get_secret_value() if isinstance(value, SecretStr) else value
        if secret == embedded and self.refuses_embedded_keys:
            raise ValueError(
                f"{name} is the embedded development value, which is public: set your own. It is "
                f"refused in prod and whenever the service binds a non-loopback address "
                f"(ENVIRONMENT={self.environment}, HOST={self.host})"
            )
        if signing and self.environment == "prod" and len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"{name} must be at least {MIN_SECRET_BYTES} bytes long in prod")

    @model_validator(mode="after")
    def _refuse_dev_keys(self) -> ServiceSettings:
        self.require_secret("JWT_PUBLIC_KEY", self.jwt_public_key, devkeys.DEV_JWT_PUBLIC_KEY)
        return self

    def topic(self, name: str) -> str:
        """The full Kafka topic name for one of :mod:`broadsheet_shared.events.topics`."""
        return f"{self.kafka_topic_prefix}{name}"

    @property
    def consumer_group(self) -> str:
        return self.kafka_consumer_group or f"{self.kafka_topic_prefix}{self.service_name}"


class DatabaseServiceSettings(ServiceSettings):
    """A service that owns a MongoDB database (every service but the gateway)."""

    mongo_url: str = Field(
        default="mongodb://127.0.0.1:27017/?directConnection=true",
        description="MongoDB connection string (a replica set: transactions need one)",
    )
    mongo_database: str = Field(default="broadsheet", description="The service's own database")
    # Below the gateway's upstream read timeout (10 s): a write the gateway gave up on (504)
    # has failed here too, instead of committing afterwards.
    mongo_timeout_ms: int = Field(
        default=1500,
        ge=100,
        le=8000,
        description=(
            "Bound on one database operation or transaction, server selection included; "
            "beyond it the request answers 503"
        ),
    )
    kafka_producer_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How long a publish may wait for the broker's acknowledgement",
    )
    outbox_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Lease of the one outbox relay; longer than a publish and the writes around it"
        ),
    )
    outbox_max_refusals: int = Field(
        default=5,
        ge=1,
        description="Times the broker may refuse an outbox event before it is marked failed",
    )

    @model_validator(mode="after")
    def _lease_outlasts_a_publish(self) -> DatabaseServiceSettings:
        # A relay renews its lease, then reads a batch, checks the lease, publishes and marks
        # the batch (renewing the lease again): one publish and at most three database
        # operations between two renewals. Were the lease shorter, a second
        # relay could take over a batch still being published and publish it again.
        batch_seconds = self.kafka_producer_timeout_seconds + 3 * self.mongo_timeout_ms / 1000
        if self.outbox_lease_seconds <= batch_seconds:
            raise ValueError(
                f"OUTBOX_LEASE_SECONDS must exceed one relay batch ({batch_seconds:g} s: the "
                "producer timeout plus three database operations)"
            )
        return self


class AddressDigestSettings(DatabaseServiceSettings):
    """A service that digests addresses (``AddressDigest``) into events, links or its own keys:
    comments and notifications, which compare each other's digests, so they share the key."""

    SHARED_FIELDS: ClassVar[frozenset[str]] = DatabaseServiceSettings.SHARED_FIELDS | {
        "address_digest_key",
        "data_grant_key",
    }

    address_digest_key: SecretStr = Field(
        default=SecretStr(devkeys.DEV_ADDRESS_DIGEST_KEY),
        description="HMAC key of the address digests in events and links; the same in comments "
        "and notifications (set ADDRESS_DIGEST_KEY once); changing it needs the stored "
        "digests rewritten (docs/security.md)",
    )
    data_grant_key: SecretStr = Field(
        default=SecretStr(devkeys.DEV_DATA_GRANT_KEY),
        description="HMAC key of the five-minute grants notifications issues for a my-data "
        "link and comments honours; the same in both (set DATA_GRANT_KEY once)",
    )

    @model_validator(mode="after")
    def _refuse_dev_digest_key(self) -> AddressDigestSettings:
        self.require_secret(
            "ADDRESS_DIGEST_KEY",
            self.address_digest_key,
            devkeys.DEV_ADDRESS_DIGEST_KEY,
            signing=True,
        )
        self.require_secret(
            "DATA_GRANT_KEY", self.data_grant_key, devkeys.DEV_DATA_GRANT_KEY, signing=True
        )
        return self


def secret_value(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None
