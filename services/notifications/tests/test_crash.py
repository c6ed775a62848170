"""Kill -9 the real service process while it is sending: nothing is lost, and the one window
that cannot be closed (SMTP accepted, not yet recorded) costs at most one duplicate per message.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from broadsheet_devstack.database import DatabaseServer
from broadsheet_devstack.processes import free_port
from broadsheet_shared.events import (
    CommentApprovedData,
    CommentApprovedV1,
    CommentPostedData,
    CommentPostedV1,
    topics,
)
from broadsheet_shared.kafka.producer import EventProducer

pytestmark = pytest.mark.integration
READERS = 40


def posted(article: str, comment: str, email: str) -> CommentPostedV1:
    return CommentPostedV1(
        subject=comment,
        data=CommentPostedData(
            comment_id=comment,
            article_id=article,
            article_slug=article,
            parent_id=None,
            author_name="Reader",
            status="approved",
            created_at=datetime.now(UTC),
            notify_replies=True,
            author_email=email,
        ),
    )


def approved(article: str, comment: str, parent: str) -> CommentApprovedV1:
    now = datetime.now(UTC)
    return CommentApprovedV1(
        subject=comment,
        data=CommentApprovedData(
            comment_id=comment,
            article_id=article,
            article_slug=article,
            article_title="Crash test",
            article_url_path=f"/articles/{article}",
            parent_id=parent,
            author_name="Replier",
            excerpt="A reply",
            created_at=now,
            approved_at=now,
        ),
    )


async def wait_for_rows(mongo_url: str, database: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        deadline = time.monotonic() + 60
        while await client[database]["deliveries"].count_documents({"kind": "reply"}) < READERS:
            assert time.monotonic() < deadline, "replies were not all recorded"
            await asyncio.sleep(0.2)
    finally:
        await client.close()


async def wait_settled(mongo_url: str, database: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        deadline = time.monotonic() + 60
        query = {"kind": "reply", "state": {"$ne": "sent"}}
        while await client[database]["deliveries"].count_documents(query):
            assert time.monotonic() < deadline, "replies were not all recorded as sent"
            await asyncio.sleep(0.2)
    finally:
        await client.close()


async def confirmation_tokens(infra: Any, emails: list[str]) -> dict[str, str]:
    """The confirm token in the confirmation mail the service sent to each of ``emails``, as its
    reader finds it (the link in the text part)."""
    tokens: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while len(tokens) < len(emails):
        assert time.monotonic() < deadline, f"{len(tokens)}/{len(emails)} confirmation mails"
        for message in await asyncio.to_thread(infra.mail):
            if message.to in emails and message.subject.startswith("Confirm"):
                link = (message.text or "").split("/subscriptions/confirm/")[1]
                tokens[message.to] = link.split()[0]
        await asyncio.sleep(0.2)
    return tokens


def replies_to(infra: Any, emails: set[str]) -> dict[str, int]:
    counts = dict.fromkeys(emails, 0)
    for message in infra.mail():
        if message.to in counts and message.subject.startswith("New reply"):
            counts[message.to] += 1
    return counts


@pytest.fixture
def own_database(infra: Any, tmp_path: Path) -> Iterator[DatabaseServer]:
    """A database server for this test alone: SecantusDB keeps a transaction that a killed
    client left open (and the locks it holds) until it is reaped, which could stall the shared
    server for every test after this one. Real MongoDB aborts it after 60 s as well."""
    server = DatabaseServer(tmp_path / "db", log_path=tmp_path / "db.log", port=free_port())
    server.start()
    try:
        server.wait_ready(60.0)
        yield server
    finally:
        server.stop()


async def test_kill_while_sending_loses_nothing_and_duplicates_at_most_once(
    infra: Any, service_process: Any, unique_prefix: str, own_database: DatabaseServer
) -> None:
    service = service_process(
        "notifications",
        env={
            "NOTIFICATIONS_MONGO_URL": own_database.url,
            "NOTIFICATIONS_DELIVERY_LEASE_SECONDS": "3",
            "NOTIFICATIONS_DELIVERY_BATCH_SIZE": "5",
            "NOTIFICATIONS_DELIVERY_CONCURRENCY": "1",
            "NOTIFICATIONS_SMTP_POOL_SIZE": "1",
            "NOTIFICATIONS_RETRY_INITIAL_BACKOFF_SECONDS": "0.2",
            "NOTIFICATIONS_RETRY_MAX_BACKOFF_SECONDS": "1",
        },
    )
    article = f"crash-{secrets.token_hex(3)}"
    emails = [f"crash{n}-{secrets.token_hex(3)}@example.org" for n in range(READERS)]
    producer = EventProducer(infra.kafka_bootstrap, "crash-test")
    await producer.start()
    topic = f"{unique_prefix}.{topics.COMMENTS}"
    try:
        for n, email in enumerate(emails):
            await producer.publish(posted(article, f"{article}-p{n}", email), topic)
        # Every reply subscription is a pending request until its owner confirms it: each
        # reader clicks Confirm on the link in the confirmation mail the service sent them.
        tokens = await confirmation_tokens(infra, emails)
        async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
            for email in emails:
                r = await client.post(f"/api/subscriptions/confirm/{tokens[email]}")
                assert r.status_code == 200, r.text
                assert [req["kind"] for req in r.json()["requests"]] == ["reply"], r.text
        # Hold the replies behind an SMTP outage until every ledger row exists, so the kill
        # lands in the middle of sending them, not in Kafka consumption (a killed consumer
        # group member delays the next assignment, which is not what this test is about).
        with infra.smtp_stopped():
            for n in range(READERS):
                reply = approved(article, f"{article}-r{n}", f"{article}-p{n}")
                await producer.publish(reply, topic)
            await wait_for_rows(own_database.url, service.env["NOTIFICATIONS_MONGO_DATABASE"])
    finally:
        await producer.stop()

    wanted = set(emails)
    deadline = time.monotonic() + 30
    while not any(replies_to(infra, wanted).values()):
        assert time.monotonic() < deadline, "no reply was sent before the kill"
        await asyncio.sleep(0.02)
    service.kill()  # SIGKILL: mid-flow, no cleanup
    await asyncio.to_thread(service.restart)

    deadline = time.monotonic() + 60
    while min(replies_to(infra, wanted).values()) == 0:
        assert time.monotonic() < deadline, replies_to(infra, wanted)
        await asyncio.sleep(0.2)
    # Every row settled (sent): nothing more can be re-sent after this.
    await wait_settled(own_database.url, service.env["NOTIFICATIONS_MONGO_DATABASE"])
    counts = replies_to(infra, wanted)
    assert all(1 <= count <= 2 for count in counts.values()), counts
    # Only what was in flight at the kill (one batch per connection) may be doubled.
    assert sum(count - 1 for count in counts.values()) <= 5, counts
