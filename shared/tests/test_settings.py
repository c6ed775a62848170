from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError, model_validator
from pydantic_settings import SettingsConfigDict

from broadsheet_shared import devkeys
from broadsheet_shared.settings import AddressDigestSettings, DatabaseServiceSettings

pytestmark = pytest.mark.unit


class DemoSettings(DatabaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", frozen=True)
    service_name: str = "demo"


def test_unprefixed_shared_variable_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGO_URL", "mongodb://db.example:27017")
    assert DemoSettings().mongo_url == "mongodb://db.example:27017"


def test_prefixed_variable_wins_over_unprefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGO_URL", "mongodb://shared:27017")
    monkeypatch.setenv("DEMO_MONGO_URL", "mongodb://own:27017")
    assert DemoSettings().mongo_url == "mongodb://own:27017"


def test_service_fields_are_not_read_unprefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9999")
    assert DemoSettings().port == 8000
    monkeypatch.setenv("DEMO_PORT", "9001")
    assert DemoSettings().port == 9001


def test_topics_and_group_carry_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", "t1.")
    settings = DemoSettings()
    assert settings.topic("broadsheet.articles") == "t1.broadsheet.articles"
    assert settings.consumer_group == "t1.demo"


def test_prod_refuses_the_embedded_dev_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "prod")
    with pytest.raises(ValidationError, match="JWT_PUBLIC_KEY"):
        DemoSettings()


class DigestingSettings(AddressDigestSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", frozen=True)


def test_one_address_digest_key_for_every_digesting_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ADDRESS_DIGEST_KEY", "k" * 32)
    assert DigestingSettings().address_digest_key.get_secret_value() == "k" * 32
    monkeypatch.setenv("DEMO_ADDRESS_DIGEST_KEY", "own")
    assert DigestingSettings().address_digest_key.get_secret_value() == "own"


def test_prod_refuses_the_embedded_address_digest_and_data_grant_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("JWT_PUBLIC_KEY", "a-real-key")
    with pytest.raises(ValidationError, match="ADDRESS_DIGEST_KEY"):
        DigestingSettings()
    monkeypatch.setenv("ADDRESS_DIGEST_KEY", "k" * 32)
    with pytest.raises(ValidationError, match="DATA_GRANT_KEY"):
        DigestingSettings()
    monkeypatch.setenv("DATA_GRANT_KEY", "g" * 32)
    assert DigestingSettings().data_grant_key.get_secret_value() == "g" * 32
    assert DigestingSettings().environment == "prod"


def test_the_relay_lease_must_outlast_a_batch() -> None:
    # Default: a 15 s publish plus three 1.5 s database operations fit in the 30 s lease.
    assert DemoSettings().outbox_lease_seconds > 15 + 3 * 1.5
    with pytest.raises(ValidationError, match="OUTBOX_LEASE_SECONDS"):
        DemoSettings(outbox_lease_seconds=10)  # the old lease, shorter than a publish
    with pytest.raises(ValidationError, match="OUTBOX_LEASE_SECONDS"):
        DemoSettings(outbox_lease_seconds=30, kafka_producer_timeout_seconds=28)
    assert DemoSettings(outbox_lease_seconds=12, kafka_producer_timeout_seconds=5)


@pytest.mark.parametrize("environment", ["dev", "test"])
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "broadsheet.example"])
def test_off_loopback_the_embedded_key_is_refused_whatever_environment_says(
    monkeypatch: pytest.MonkeyPatch, environment: str, host: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", environment)
    monkeypatch.setenv("HOST", host)  # what the image sets, and what uvicorn binds
    with pytest.raises(ValidationError, match="JWT_PUBLIC_KEY is the embedded development"):
        DemoSettings()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_on_loopback_dev_runs_on_the_embedded_key(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("DEMO_HOST", host)
    assert DemoSettings().jwt_public_key == devkeys.DEV_JWT_PUBLIC_KEY


class SigningSettings(DemoSettings):
    signing_secret: SecretStr = SecretStr(devkeys.DEV_SIGNING_SECRET)

    @model_validator(mode="after")
    def _refuse_dev_secret(self) -> SigningSettings:
        self.require_secret(
            "DEMO_SIGNING_SECRET", self.signing_secret, devkeys.DEV_SIGNING_SECRET, signing=True
        )
        return self


def test_prod_refuses_signing_secrets_shorter_than_32_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("JWT_PUBLIC_KEY", "a real key")
    monkeypatch.setenv("DEMO_SIGNING_SECRET", "x" * 31)
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        SigningSettings()
    monkeypatch.setenv("DEMO_SIGNING_SECRET", "x" * 32)
    assert SigningSettings().signing_secret.get_secret_value() == "x" * 32
    monkeypatch.setenv("DEMO_SIGNING_SECRET", devkeys.DEV_SIGNING_SECRET)
    with pytest.raises(ValidationError, match="DEMO_SIGNING_SECRET is the embedded"):
        SigningSettings()
