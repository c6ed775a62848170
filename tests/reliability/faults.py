"""What the fault scenarios share: waiting, events sent straight to Kafka, a reader's mail and
the comment event that asks for one.

The scenarios run the services as real processes; the events that stand in for another service
(an article published, a reply approved) go to the real broker, as that service would send them.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from broadsheet_devstack.pytest_plugin import Infra, ServiceFactory, ServiceProcess
from broadsheet_shared.events import (
    ArticleData,
    ArticlePublishedV1,
    CommentPostedData,
    CommentPostedV1,
    SectionRef,
)
from broadsheet_shared.events.base import IntegrationEvent
from broadsheet_shared.kafka.producer import EventProducer
from broadsheet_shared.testing import DEV_DIGEST

# Every scenario posts from one client at a rate no reader has: the limits are raised, as in
# tests/e2e/conftest.py (they are proved in the services' own tests).
UNLIMITED = "100000"
# Where the database is not the fault under test, a read on the session's pure-Python server
# under a loaded machine may exceed the production bound of 1.5 s and answer 503, as in
# tests/e2e/conftest.py; test_database_down.py keeps the production bound, which it proves.
LOADED_DATABASE_TIMEOUT_MS = "4000"
# A scenario restarts a service several times: a cold start on a loaded two-core machine can take
# a minute (imports alone), more than the fixture's first-start wait.
RESTART_WITHIN = 180.0


def seconds_until(condition: Callable[[], bool], timeout: float) -> float | None:
    """Poll ``condition``: the seconds until it held, or None if it did not within ``timeout``
    (a scenario reports that as it is before it asserts)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            return None
        time.sleep(0.2)
    return time.monotonic() - started


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition``; the seconds it took, or AssertionError after ``timeout``."""
    seconds = seconds_until(condition, timeout)
    if seconds is None:
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
    return seconds


def publish(infra: Infra, prefix: str, events: Sequence[IntegrationEvent]) -> None:
    """Send ``events`` to their topics under ``prefix`` and wait for the broker's acks."""

    async def send() -> None:
        producer = EventProducer(infra.kafka_bootstrap, client_id=f"{prefix}-fault-test")
        await producer.start()
        try:
            for event in events:
                await producer.publish(event, f"{prefix}.{event.TOPIC}")
        finally:
            await producer.stop()

    asyncio.run(send())


def article_published(article_id: str) -> ArticlePublishedV1:
    slug = f"story-{article_id}"
    return ArticlePublishedV1(
        subject=article_id,
        data=ArticleData(
            article_id=article_id,
            slug=slug,
            title=f"Story {article_id}",
            section=SectionRef(slug="world", name="World"),
            url_path=f"/articles/{slug}",
            comments_open=True,
            published_at=datetime.now(UTC),
            revision=1,
        ),
    )


def mail_count(infra: Infra, recipients: set[str]) -> Counter[str]:
    """How many messages each of ``recipients`` got (the session's other mail is ignored)."""
    counts: Counter[str] = Counter()
    for message in infra.mail():
        for recipient in message.envelope_to:
            if recipient in recipients:
                counts[recipient] += 1
    return counts


def start_notifications(service_process: ServiceFactory, **env: str) -> ServiceProcess:
    return service_process(
        "notifications",
        env={
            "NOTIFICATIONS_FOLLOW_LIMIT_PER_CLIENT": UNLIMITED,
            "NOTIFICATIONS_FOLLOW_LIMIT_PER_ADDRESS": UNLIMITED,
            "NOTIFICATIONS_MONGO_TIMEOUT_MS": LOADED_DATABASE_TIMEOUT_MS,
            **env,
        },
    )


def comments_env(**env: str) -> dict[str, str]:
    return {
        "COMMENTS_RATE_LIMIT_PER_CLIENT": UNLIMITED,
        "COMMENTS_RATE_LIMIT_PER_EMAIL": UNLIMITED,
        "COMMENTS_MONGO_TIMEOUT_MS": LOADED_DATABASE_TIMEOUT_MS,
        **env,
    }


def open_article(infra: Infra, prefix: str, comments: ServiceProcess, name: str = "article") -> str:
    """Publish an article (as the articles service would) and wait until comments knows it;
    its slug."""
    event = article_published(f"{prefix}-{name}")
    publish(infra, prefix, [event])
    path = f"{comments.url}/api/articles/{event.data.slug}/comments"
    wait_until(lambda: httpx.get(path, timeout=5).status_code == 200, 60, "the article")
    return event.data.slug


def comment(n: int, email: str) -> dict[str, Any]:
    """A comment asking for reply notifications: its one downstream effect that a reader can
    see is the confirmation mail the notifications service sends to ``email``."""
    return {
        "author_name": f"Reader {n}",
        "author_email": email,
        "body": f"Comment number {n}, posted under a fault ({email}).",
        "notify_replies": True,
    }


def reply_request(article_id: str, email: str) -> CommentPostedV1:
    """A reader's comment asking for replies: one confirmation mail is due to ``email``."""
    comment_id = f"c-{secrets.token_hex(4)}"
    return CommentPostedV1(
        subject=comment_id,
        data=CommentPostedData(
            comment_id=comment_id,
            article_id=article_id,
            article_slug="story",
            parent_id=None,
            author_name="Reader",
            status="approved",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            notify_replies=True,
            author_email=email,
            author_email_hash=DEV_DIGEST(email),
        ),
    )
