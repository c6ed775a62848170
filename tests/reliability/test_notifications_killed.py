"""Issue 14, fault 1: replies flow while the notifications service is SIGKILLed and restarted
three times (once in ``make test``): no email lost, and no email twice beyond the documented
crash window.

The crash window (delivery.py, docs/operations.md): a delivery the SMTP server accepted but whose
``sent`` the worker had not recorded when it died is still ``sending`` in the ledger; once its
lease runs out another worker sends it again, with the same Message-ID. So the rows in
``sending`` at the moment of a kill are the only ones that may arrive twice: the test reads them
right after each kill, and counts and prints the duplicates among them.

The replies are ``comment.approved`` events sent to the real broker, as the comments service
would send them, each answering a comment whose author has a confirmed reply subscription.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient

from broadsheet_devstack.pytest_plugin import Infra, ServiceFactory
from broadsheet_notifications.domain import Address, Subscription
from broadsheet_notifications.repository import MongoRepositories
from broadsheet_notifications.settings import Settings
from broadsheet_shared.addresses import AddressDigest
from broadsheet_shared.events import CommentApprovedData, CommentApprovedV1

from . import proof
from .faults import RESTART_WITHIN, publish, seconds_until, start_notifications

pytestmark = [pytest.mark.fault, pytest.mark.e2e]

REPLIES = proof.size(in_suite=60, in_proof=2000)
# Three kills is the figure; one in the suite proves the same crash window, and each
# restart is a cold start that costs the suite half a minute on a loaded machine.
KILLS = proof.size(in_suite=1, in_proof=3)
PARENTS = 20  # readers waiting for replies to their comment; each gets REPLIES / PARENTS mails
LEASE_SECONDS = 10  # how long a killed worker's rows wait before another worker takes them


def parent_id(prefix: str, n: int) -> str:
    return f"{prefix}-parent-{n}"


async def seed_reply_subscriptions(url: str, database: str, prefix: str) -> set[str]:
    """The readers who asked for replies and confirmed (the request-and-click story is
    tests/e2e/test_reply_story.py's); their addresses."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    repos = MongoRepositories.on(client[database])
    digest = AddressDigest(Settings().address_digest_key.get_secret_value().encode())
    now = datetime.now(UTC)
    emails = set()
    for n in range(PARENTS):
        address = Address.new(f"{prefix}-reader-{n}@readers.example", now, digest)
        address.confirm(now)
        await repos.addresses.save(address, None)
        sub = Subscription.to_replies(
            parent_id(prefix, n), f"{prefix}-article", address.recipient_hash, now
        )
        sub.confirm(now)
        await repos.subscriptions.save(sub, None)
        emails.add(address.email)
    await client.close()
    return emails


def reply(prefix: str, n: int) -> CommentApprovedV1:
    article_id = f"{prefix}-article"
    now = datetime.now(UTC)
    return CommentApprovedV1(
        subject=article_id,
        data=CommentApprovedData(
            comment_id=f"{prefix}-reply-{n}",
            article_id=article_id,
            article_slug="story",
            article_title="A story",
            article_url_path="/articles/story",
            parent_id=parent_id(prefix, n % PARENTS),
            author_name=f"Replier {n}",
            excerpt=f"Reply number {n}",
            created_at=now,
            approved_at=now,
        ),
    )


def test_replies_survive_notifications_killed_and_restarted(
    infra: Infra, service_process: ServiceFactory, unique_prefix: str
) -> None:
    database = f"{unique_prefix}_broadsheet_notifications"
    notifications = start_notifications(
        service_process,
        NOTIFICATIONS_DIGEST_MAX_PER_WINDOW="100000",
        NOTIFICATIONS_DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    readers = asyncio.run(seed_reply_subscriptions(infra.mongo_url, database, unique_prefix))
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongo_url)
    ledger = mongo[database]["deliveries"]
    publish(infra, unique_prefix, [reply(unique_prefix, n) for n in range(REPLIES)])

    in_window: set[str] = set()  # rows the worker held ("sending") when it was killed
    for kill in range(1, KILLS + 1):
        # Kill while the flow is on: after a share of the replies went out, before the rest.
        share = REPLIES * kill // (KILLS + 1)
        # Killed anyway if the flow is slower than that: the final count tells.
        seconds_until(lambda share=share: ledger.count_documents({"state": "sent"}) >= share, 300)
        notifications.kill()
        in_window |= {row["_id"] for row in ledger.find({"state": "sending"}, {"_id": 1})}
        notifications.restart(timeout=RESTART_WITHIN)
    recovery = seconds_until(
        lambda: ledger.count_documents({"state": "sent"}) >= REPLIES, proof.size(300, 900)
    )
    mongo.close()

    message_ids: Counter[str] = Counter()
    for message in infra.mail():
        if readers & set(message.envelope_to):
            message_ids[str(message.header("Message-ID")).strip("<>").partition("@")[0]] += 1
    lost = REPLIES - len(message_ids)
    twice = {delivery: n - 1 for delivery, n in message_ids.items() if n > 1}
    beyond_window = {delivery: n for delivery, n in twice.items() if delivery not in in_window}
    print(f"crash window: {len(in_window)} rows were being sent at the kills")
    print(f"sent again from the crash window: {sorted(set(twice) - set(beyond_window))}")
    proof.record(
        proof.Outcome(
            scenario="1. notifications SIGKILLed and restarted while replies flow",
            events=REPLIES,
            lost=lost,
            duplicated=sum(twice.values()),
            recovery_seconds=None if recovery is None else round(recovery, 1),
            passed=lost == 0 and not beyond_window,
            notes=[
                f"kills: {KILLS}; {len(in_window)} deliveries in the crash window",
                f"{sum(twice.values()) - sum(beyond_window.values())} duplicates in the window, "
                f"{sum(beyond_window.values())} beyond it",
            ],
        )
    )
    assert lost == 0
    assert not beyond_window, f"sent twice outside the crash window: {beyond_window}"
