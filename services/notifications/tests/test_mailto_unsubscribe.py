"""mailto: unsubscribe for real: the service (in-process, real lifespan, real database and Kafka)
runs its inbound SMTP listener; a real SMTP client sends what a reader's mail client sends for
the List-Unsubscribe mailto of an email the service composed."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import aiosmtplib
import httpx
import pytest
from asgi_lifespan import LifespanManager

from broadsheet_devstack.processes import free_port
from broadsheet_notifications.domain import (
    AddressState,
    Delivery,
    DeliveryState,
    Subscription,
    subscription_id,
)
from broadsheet_notifications.main import create_app
from broadsheet_notifications.repository import DELIVERIES, LEDGER_TTL_INDEX
from broadsheet_notifications.repository.ledger import delivery_from_doc
from broadsheet_notifications.settings import Settings
from broadsheet_shared.testing import DEV_DIGEST, tampered

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


async def confirmed_by_owner(app: Any, email: str) -> None:
    """The owner of ``email`` clicks Confirm (POST) on the link in the confirmation mail the
    service composed for the address's latest confirmation row."""
    container = app.state.container
    docs = await container.repositories.ledger._deliveries.find(
        {"kind": "confirmation", "recipient_hash": DEV_DIGEST(email)}
    ).to_list()
    assert docs, f"no confirmation mail recorded for {email}"
    latest = max((delivery_from_doc(doc) for doc in docs), key=lambda d: d.created_at)
    message = message_from_bytes(container.composer.compose(latest).data, policy=default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    token = text.split("/subscriptions/confirm/")[1].split()[0]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.post(f"/api/subscriptions/confirm/{token}")
    assert r.status_code == 200, r.text
    assert [req["kind"] for req in r.json()["requests"]] == ["follow"], r.text


async def follower(app: Any) -> Delivery:
    """A confirmed follower of a new article (requested, then confirmed by the address's owner
    through the mailed link), with one follow email still pending."""
    container = app.state.container
    repos = container.repositories
    email = f"{secrets.token_hex(4)}@example.org"
    article_id = f"art-{secrets.token_hex(4)}"

    async def request(tx: Any) -> bool:
        return bool(
            await container.planner.request_subscription(
                email,
                lambda recipient, now: Subscription.to_article(article_id, recipient, now),
                tx.session,
            )
        )

    assert await container.runtime.uow.run(request)  # a confirmation mail was queued
    await confirmed_by_owner(app, email)
    address = await repos.addresses.get(DEV_DIGEST(email), None)
    assert address is not None
    assert address.state == AddressState.CONFIRMED
    sub = await repos.subscriptions.get(
        subscription_id("follow", article_id, address.recipient_hash), None
    )
    assert sub is not None
    assert sub.active
    now = datetime.now(UTC)
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

    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(app, to, tampered(subject))
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
