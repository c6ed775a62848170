"""Claims, leases and cancellations on the real database, and a send slower than the lease through
a real SMTP server (aiosmtpd, answering DATA only after a delay): the heartbeat keeps the row, so
it goes out exactly once however many workers poll meanwhile."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from pymongo import AsyncMongoClient

from broadsheet_notifications.delivery import DeliveryWorker
from broadsheet_notifications.domain import Delivery, DeliveryState, RetryPolicy
from broadsheet_notifications.mail import MailComposer
from broadsheet_notifications.repository import DELIVERIES, INDEXES, MongoRepositories
from broadsheet_notifications.smtp import SmtpPool
from broadsheet_notifications.tokens import LinkSigner
from broadsheet_shared.mongo import ensure_indexes
from broadsheet_shared.outbox import Outbox
from broadsheet_shared.unit_of_work import MongoUnitOfWork

pytestmark = pytest.mark.integration
LEASE_SECONDS = 2.0
SMTP_DELAY_SECONDS = 5.0  # longer than two leases


@pytest.fixture
async def mongo(infra: Any) -> AsyncIterator[tuple[Any, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    database = client[f"t{secrets.token_hex(4)}_notifications_fencing"]
    await ensure_indexes(database, INDEXES)
    yield client, database
    await client.drop_database(database.name)
    await client.close()


def row(name: str, now: datetime, *, recipient: str = "r1", at: datetime | None = None) -> Delivery:
    return Delivery(
        id=f"{name}-{secrets.token_hex(4)}",
        kind="confirmation",
        recipient_hash=recipient,
        email=f"{name}@example.org",
        article_id=None,
        source_event_id=None,
        subscription_id=f"follow-{recipient}",
        created_at=now,
        next_attempt_at=at or now,
        deadline=now + timedelta(days=1),
    )


async def state_of(db: Any, delivery_id: str) -> dict[str, Any]:
    doc = await db[DELIVERIES].find_one({"_id": delivery_id})
    assert doc is not None
    return doc


async def test_a_stale_claim_changes_nothing(mongo: tuple[Any, Any]) -> None:
    _, db = mongo
    ledger = MongoRepositories.on(db).ledger
    now = datetime.now(UTC)
    d = row("stale", now)
    assert await ledger.add(d, None)
    await ledger.claim([d.id], now, lease_until=now - timedelta(seconds=1), claim="a", session=None)
    await ledger.release_expired(now, None)  # worker a stopped renewing: its lease ran out
    await ledger.claim([d.id], now, lease_until=now + timedelta(minutes=1), claim="b", session=None)

    assert (await ledger.renew("a", now + timedelta(minutes=1), None)).ids == frozenset()
    assert await ledger.mark_sent("a", [d.id], now, None) == []
    assert await ledger.reschedule("a", d.id, now, "timeout", None) is None
    assert await ledger.mark_failed("a", d.id, "550", now, None) is None
    doc = await state_of(db, d.id)
    assert (doc["state"], doc["claim"], doc["attempts"]) == ("sending", "b", 2)

    assert await ledger.mark_sent("b", [d.id], now, None) == [d.id]
    # A late answer of the lost attempt does not turn the sent row back to pending.
    assert await ledger.reschedule("a", d.id, now, "timeout", None) is None
    assert await ledger.reschedule("b", d.id, now, "timeout", None) is None
    assert await ledger.mark_failed("b", d.id, "550", now, None) is None
    assert (await state_of(db, d.id))["state"] == "sent"


async def test_leaving_cancels_retries_and_flags_claimed_rows(mongo: tuple[Any, Any]) -> None:
    _, db = mongo
    ledger = MongoRepositories.on(db).ledger
    now = datetime.now(UTC)
    retrying = row("retrying", now, at=now + timedelta(minutes=5))  # pending a retry
    claimed = row("claimed", now)
    orphaned = row("orphaned", now)  # its worker died while it was being sent
    other = row("other", now, recipient="r2")
    for d in (retrying, claimed, orphaned, other):
        assert await ledger.add(d, None)
    later = now + timedelta(minutes=1)
    await ledger.claim([claimed.id, other.id], now, lease_until=later, claim="w", session=None)
    await ledger.claim([orphaned.id], now, lease_until=now, claim="dead", session=None)

    await ledger.cancel_pending_to("r1", None)

    assert (await state_of(db, retrying.id))["state"] == "cancelled"
    held = await ledger.renew("w", later, None)
    assert held.ids == {claimed.id, other.id}
    assert held.cancel_requested == {claimed.id}
    assert await ledger.reschedule("w", claimed.id, later, "stopped", None) == "cancelled"
    assert await ledger.reschedule("w", other.id, later, "timeout", None) == "pending"
    await ledger.release_expired(now + timedelta(seconds=1), None)
    assert (await state_of(db, orphaned.id))["state"] == "cancelled"  # never due again


class SlowSmtp:
    """An aiosmtpd handler that answers DATA only after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.started = 0
        self.received: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.started += 1
        await asyncio.sleep(self.delay)
        self.received.append(bytes(envelope.content or b""))
        return "250 OK"


async def test_a_send_slower_than_the_lease_goes_out_once(mongo: tuple[Any, Any]) -> None:
    client, db = mongo
    handler = SlowSmtp(SMTP_DELAY_SECONDS)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    repos = MongoRepositories.on(db)
    uow = MongoUnitOfWork(client, Outbox(db, lambda name: name))
    composer = MailComposer(
        mail_from="Broadsheet <notifications@news.example>",
        reply_to=None,
        public_base_url="https://news.example",
        unsubscribe_mailto="unsubscribe@news.example",
        signer=LinkSigner("test-secret", confirm_max_age_seconds=3600),
    )
    # Two workers, as two processes would run them, each polling (and releasing) every 0.1 s.
    pools = [SmtpPool("127.0.0.1", port, size=1, timeout=30) for _ in range(2)]
    workers = [
        DeliveryWorker(
            repos.ledger,
            uow,
            composer,
            pool,
            RetryPolicy(),
            poll_seconds=0.1,
            lease_seconds=LEASE_SECONDS,
        )
        for pool in pools
    ]
    d = row("slow", datetime.now(UTC))
    assert await repos.ledger.add(d, None)
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        deadline = time.monotonic() + 30
        while (await state_of(db, d.id))["state"] != "sent":
            assert time.monotonic() < deadline, await state_of(db, d.id)
            await asyncio.sleep(0.1)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for pool in pools:
            await pool.close()
        server.close()
    # A second worker would have claimed the row once the first lease ran out (after 2 s) and
    # begun its own DATA long before the first one was answered (after 5 s).
    assert (handler.started, len(handler.received)) == (1, 1)
    doc = await state_of(db, d.id)
    assert (doc["state"], doc["attempts"]) == (DeliveryState.SENT.value, 1)
