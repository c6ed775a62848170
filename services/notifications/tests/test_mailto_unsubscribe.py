"""mailto: unsubscribe for real: the service (in-process, real lifespan, real database and Kafka)
runs its inbound SMTP listener; a real SMTP client sends what a reader's mail client sends for
the List-Unsubscribe mailto of an email the service composed."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
from asgi_lifespan import LifespanManager

from broadsheet_devstack.processes import free_port
from broadsheet_notifications.domain import (
    Address,
    Delivery,
    DeliveryState,
    Subscription,
)
from broadsheet_notifications.main import create_app
from broadsheet_notifications.repository import DELIVERIES, LEDGER_TTL_INDEX
from broadsheet_notifications.settings import Settings
from broadsheet_shared.testing import DEV_DIGEST

pytestmark = pytest.mark.integration
MAX_BYTES = 4096
RETENTION = 10 * 24 * 3600

Mailto = Callable[[bytes], tuple[str, str]]


@pytest.fixture(scope="module")
async def app(devstack_settings: Callable[..., Settings]) -> AsyncIterator[Any]:
    prefix = f"t{secrets.token_hex(4)}"
    settings = devstack_settings(
        prefix,
        unsubscribe_mailto="unsubscribe@news.example",
        inbound_smtp_port=free_port(),
        inbound_smtp_max_message_bytes=MAX_BYTES,
        ledger_retention_seconds=RETENTION,
        run_workers=False,  # no consumer or sender: these tests write the rows themselves
    )
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=120):
        yield application


async def follower(app: Any) -> Delivery:
    """A confirmed follower of a new article, with one follow email still pending."""
    container = app.state.container
    repos, now = container.repositories, datetime.now(UTC)
    address = Address.new(f"{secrets.token_hex(4)}@example.org", now, DEV_DIGEST)
    address.confirm(now)
    await repos.addresses.save(address, None)
    sub = Subscription.to_article(f"art-{secrets.token_hex(4)}", address.recipient_hash, now)
    await repos.subscriptions.save(sub, None)
    delivery = Delivery(
        id=secrets.token_hex(16),
        kind="follow",
        recipient_hash=address.recipient_hash,
        email=address.email,
        article_id=sub.article_id,
        source_event_id=secrets.token_hex(8),
        subscription_id=sub.id,
        created_at=now,
        # Held in the future: nothing is sent, the row stays pending until unsubscribed.
        next_attempt_at=now + timedelta(days=1),
        deadline=now + timedelta(days=2),
    )
    assert await repos.ledger.add(delivery, None)
    return delivery


async def send(app: Any, to: str, subject: str, body: str = "") -> str:
    settings = app.state.container.settings
    message = EmailMessage()
    message["From"] = "reader@example.org"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body or "Sent by my mail client's unsubscribe button.")
    _, response = await aiosmtplib.send(
        message, hostname="127.0.0.1", port=settings.inbound_smtp_port, timeout=30
    )
    return response


async def test_the_ledger_ttl_index_has_the_configured_retention(app: Any) -> None:
    indexes = await app.state.container.runtime.db[DELIVERIES].index_information()
    ttl = indexes[LEDGER_TTL_INDEX]
    assert ttl["key"] == [("finished_at", 1)]
    assert ttl["expireAfterSeconds"] == RETENTION


async def test_mail_to_the_mailto_address_unsubscribes(app: Any, mailto: Mailto) -> None:
    container = app.state.container
    delivery = await follower(app)
    to, subject = mailto(container.composer.compose(delivery).data)
    assert to == "unsubscribe@news.example"

    response = await send(app, to, subject)
    assert "Unsubscribed" in response

    sub = await container.repositories.subscriptions.get(delivery.subscription_id, None)
    assert sub is not None
    assert not sub.active
    cancelled = await container.repositories.ledger._deliveries.find_one({"_id": delivery.id})
    assert cancelled["state"] == DeliveryState.CANCELLED.value
    assert isinstance(cancelled["finished_at"], datetime)  # and so it expires in time
    # A second message (the reader pressed twice, or the relay retried) changes nothing more.
    assert "Unsubscribed" in await send(app, to, subject)


async def test_a_tampered_token_is_refused_and_changes_nothing(app: Any, mailto: Mailto) -> None:
    container = app.state.container
    delivery = await follower(app)
    to, subject = mailto(container.composer.compose(delivery).data)
    tampered = subject[:-4] + ("AAAA" if not subject.endswith("AAAA") else "BBBB")

    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(app, to, tampered)
    assert refused.value.code == 550

    sub = await container.repositories.subscriptions.get(delivery.subscription_id, None)
    assert sub is not None
    assert sub.active
    row = await container.repositories.ledger.get(delivery.id)
    assert row is not None
    assert row.state == DeliveryState.PENDING


async def test_other_recipients_and_oversized_mail_are_refused(app: Any, mailto: Mailto) -> None:
    container = app.state.container
    delivery = await follower(app)
    to, subject = mailto(container.composer.compose(delivery).data)

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(app, "postmaster@news.example", subject)
    assert [r.code for r in refused.value.recipients] == [550]

    with pytest.raises(aiosmtplib.SMTPResponseException) as too_big:
        await send(app, to, subject, body="x" * (2 * MAX_BYTES))
    assert too_big.value.code == 552

    sub = await container.repositories.subscriptions.get(delivery.subscription_id, None)
    assert sub is not None
    assert sub.active
