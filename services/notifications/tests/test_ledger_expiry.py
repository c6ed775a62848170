"""Ledger expiry on the real database: the TTL index carries the configured retention (and follows
a change of it), and every way a delivery finishes stamps ``finished_at`` while pending and
sending rows never carry it. The TTL monitor itself is not waited for (docs/database.md)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from broadsheet_notifications.domain import Delivery, DeliveryState, DigestItem
from broadsheet_notifications.repository import (
    DELIVERIES,
    INDEXES,
    LEDGER_TTL_INDEX,
    MongoRepositories,
    ledger_expiry_indexes,
)
from broadsheet_shared.mongo import ensure_indexes

pytestmark = pytest.mark.integration
DAY = 24 * 3600
FINISHED = {DeliveryState.SENT.value, DeliveryState.FAILED.value, DeliveryState.CANCELLED.value}


@pytest.fixture
async def db(infra: Any) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    database = client[f"t{secrets.token_hex(4)}_notifications_ledger"]
    await ensure_indexes(database, [*INDEXES, *ledger_expiry_indexes(30 * DAY)])
    yield database
    await client.drop_database(database.name)
    await client.close()


async def ttl_seconds(db: Any) -> Any:
    return (await db[DELIVERIES].index_information())[LEDGER_TTL_INDEX]["expireAfterSeconds"]


async def test_ttl_index_has_the_configured_retention_and_follows_a_change(db: Any) -> None:
    assert await ttl_seconds(db) == 30 * DAY
    # A restart with another retention changes the index in place (collMod), old rows included.
    await ensure_indexes(db, ledger_expiry_indexes(45 * DAY))
    assert await ttl_seconds(db) == 45 * DAY
    await ensure_indexes(db, ledger_expiry_indexes(45 * DAY))  # unchanged: a no-op
    assert await ttl_seconds(db) == 45 * DAY


def row(name: str, now: datetime, *, kind: Any = "follow", comment: str = "c1") -> Delivery:
    return Delivery(
        id=name,
        kind=kind,
        recipient_hash=f"r-{name}",
        email=f"{name}@example.org",
        article_id="a1",
        source_event_id=f"e-{name}",
        subscription_id=f"follow-{name}",
        comment_ids=[comment],
        items=[DigestItem(comment, "Bob", "hi", "/a#c")] if kind == "digest" else [],
        created_at=now,
        next_attempt_at=now,
        deadline=now + timedelta(days=1),
    )


async def test_every_finish_stamps_finished_at_and_live_rows_never_carry_it(db: Any) -> None:
    repos = MongoRepositories.on(db)
    ledger = repos.ledger
    now = datetime.now(UTC)
    names = [
        "sent",
        "failed",
        "retried",
        "left",
        "withdrawn",
        "digest_emptied",
        "digest_kept",
        "sending_cancelled",
        "sending_retry",
        "sending",
        "pending",
    ]
    for name in names:
        kind = "digest" if name.startswith("digest") else "follow"
        assert await ledger.add(row(name, now, kind=kind, comment=f"c-{name}"), None)
    await repos.digests.add_item("digest_kept", DigestItem("c-other", "Ann", "yo", "/a#d"), None)

    claim = "worker-1"
    claimed = ["sent", "failed", "retried", "sending_cancelled", "sending_retry", "sending"]
    await ledger.claim(
        claimed, now, lease_until=now + timedelta(minutes=1), claim=claim, session=None
    )
    await ledger.mark_sent(claim, ["sent"], now, None)
    await ledger.mark_failed(claim, "failed", "550 no such user", now, None)
    await ledger.mark_failed(claim, "retried", "550 no such user", now, None)
    await ledger.retry_failed("retried", now, now + timedelta(days=1), None)  # pending again
    await ledger.cancel_pending_to("r-left", None)
    await ledger.cancel_for_comment("c-withdrawn", None)
    await repos.digests.withdraw_comment("c-digest_emptied", None)
    await repos.digests.withdraw_comment("c-digest_kept", None)  # one item left: still pending
    await ledger.cancel_for_comment("c-sending_cancelled", None)  # flagged while sending
    await ledger.reschedule(claim, "sending_cancelled", now, "timeout", None)
    await ledger.reschedule(claim, "sending_retry", now + timedelta(seconds=5), "timeout", None)

    docs = {doc["_id"]: doc for doc in await db[DELIVERIES].find().to_list()}
    states = {name: docs[name]["state"] for name in names}
    assert states == {
        "sent": "sent",
        "failed": "failed",
        "retried": "pending",
        "left": "cancelled",
        "withdrawn": "cancelled",
        "digest_emptied": "cancelled",
        "digest_kept": "pending",
        "sending_cancelled": "cancelled",
        "sending_retry": "pending",
        "sending": "sending",
        "pending": "pending",
    }
    for name, doc in docs.items():
        if doc["state"] in FINISHED:
            stamp = doc.get("finished_at")
            assert isinstance(stamp, datetime), name
            assert now - timedelta(minutes=5) < stamp < now + timedelta(minutes=5), name
        else:
            assert "finished_at" not in doc, name
