"""Settings rules: records that outlive redelivery (exactly once), and the digest key applied."""

import hashlib
import hmac

import pytest
from pydantic import SecretStr, ValidationError

from broadsheet_notifications.bootstrap import bootstrap
from broadsheet_notifications.settings import Settings
from broadsheet_shared.inbox import PROCESSED_EVENTS_RETENTION_SECONDS

pytestmark = pytest.mark.unit
DAY = 24 * 3600


def test_defaults_keep_records_longer_than_kafka_keeps_events() -> None:
    s = Settings()
    assert s.kafka_retention_seconds == 7 * DAY
    assert s.ledger_retention_seconds == 30 * DAY
    assert s.inbound_smtp_port == 0  # no listener unless configured


def test_ledger_retention_must_exceed_kafka_retention() -> None:
    with pytest.raises(ValidationError, match="must exceed"):
        Settings(ledger_retention_seconds=7 * DAY, kafka_retention_seconds=7 * DAY)
    assert Settings(ledger_retention_seconds=8 * DAY).ledger_retention_seconds == 8 * DAY


def test_kafka_retention_must_stay_below_the_processed_event_records() -> None:
    with pytest.raises(ValidationError, match="processed-event records"):
        Settings(
            kafka_retention_seconds=PROCESSED_EVENTS_RETENTION_SECONDS,
            ledger_retention_seconds=PROCESSED_EVENTS_RETENTION_SECONDS + DAY,
        )


def test_digest_window_must_fit_in_the_ledger_retention() -> None:
    with pytest.raises(ValidationError, match="DIGEST_WINDOW"):
        Settings(
            digest_window_seconds=3 * DAY,
            ledger_retention_seconds=3 * DAY,
            kafka_retention_seconds=DAY,
        )


def test_ledger_retention_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFICATIONS_LEDGER_RETENTION_SECONDS", str(10 * DAY))
    monkeypatch.setenv("NOTIFICATIONS_INBOUND_SMTP_PORT", "2525")
    s = Settings()
    assert (s.ledger_retention_seconds, s.inbound_smtp_port) == (10 * DAY, 2525)


async def test_bootstrap_keys_the_address_digests() -> None:
    key = "k" * 32
    container = bootstrap(Settings(environment="test", address_digest_key=SecretStr(key)))
    expected = hmac.new(key.encode(), b"ada@example.org", hashlib.sha256).hexdigest()
    digest = container.address_digest
    assert digest("Ada@example.org") == expected
    # Every use case that digests an address was given that one (not the dev key's).
    users = (container.planner, container.subscriptions, container.staff)
    assert all(use_case._digest is digest for use_case in users)
