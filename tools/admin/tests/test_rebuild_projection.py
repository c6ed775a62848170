"""Projections rebuilt from Kafka (issue 14), against the real broker and database.

The articles service runs in-process and publishes through its outbox; the comments service
runs in-process too; ``broadsheet-admin`` is called as a user calls it, configured by the
environment. Each test has its own topics and databases (its prefix).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from broadsheet_admin.cli import main
from broadsheet_articles.bootstrap import Container as ArticlesContainer
from broadsheet_articles.bootstrap import bootstrap as articles_bootstrap
from broadsheet_articles.commands import CreateArticle, EditArticle, PublishArticle
from broadsheet_articles.domain import ArticleChanges, ArticleStatus, ImportedContent
from broadsheet_articles.imports import ImportArticle
from broadsheet_articles.settings import Settings as ArticlesSettings
from broadsheet_comments.bootstrap import Container as CommentsContainer
from broadsheet_comments.bootstrap import bootstrap as comments_bootstrap
from broadsheet_comments.commands import PostComment
from broadsheet_comments.repository import ARTICLES as COMMENTS_ARTICLES
from broadsheet_comments.settings import Settings as CommentsSettings
from broadsheet_notifications.repository.articles import ARTICLES as NOTIFICATIONS_ARTICLES
from broadsheet_shared.auth import Principal
from broadsheet_shared.events import topics
from broadsheet_shared.kafka.compacted import CompactedTopicReader

pytestmark = pytest.mark.integration

EDITOR = Principal(subject="e1", role="editor", name="Ada Editor")


def shared_env(infra: Any, prefix: str) -> dict[str, str]:
    return {
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "MONGO_URL": infra.mongo_url,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": f"{prefix}.",
    }


async def started_articles(infra: Any, prefix: str) -> ArticlesContainer:
    container = articles_bootstrap(
        ArticlesSettings(
            environment="test",
            log_level="WARNING",
            mongo_url=infra.mongo_url,
            mongo_database=f"{prefix}_articles",
            kafka_bootstrap_servers=infra.kafka_bootstrap,
            kafka_topic_prefix=f"{prefix}.",
            # OWASP's floor keeps the start quick (the admin account is hashed at start-up).
            argon2_memory_kib=19456,
            argon2_time_cost=2,
            argon2_parallelism=1,
        )
    )
    await container.start()
    return container


async def started_comments(infra: Any, prefix: str) -> CommentsContainer:
    container = comments_bootstrap(
        CommentsSettings(
            environment="test",
            log_level="WARNING",
            mongo_url=infra.mongo_url,
            mongo_database=f"{prefix}_comments",
            kafka_bootstrap_servers=infra.kafka_bootstrap,
            kafka_topic_prefix=f"{prefix}.",
        )
    )
    await container.start()
    return container


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.2)


async def published(articles: ArticlesContainer, title: str, **fields: Any) -> str:
    draft = await articles.articles.create(
        CreateArticle(title=title, body="Body", section="World", **fields), EDITOR
    )
    await articles.articles.publish(PublishArticle(draft.id), EDITOR)
    return draft.id


def admin(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *argv: str) -> Awaitable[int]:
    """``broadsheet-admin *argv`` with ``env``, in a thread (it runs its own event loop)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return asyncio.to_thread(main, list(argv))


@pytest.fixture
def prefix() -> str:
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
async def mongo(infra: Any, prefix: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """A client of the test's own, alive while the services stop and start."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield client
    for service in ("articles", "comments", "notifications"):
        await client.drop_database(f"{prefix}_{service}")
    await client.close()


async def test_the_comments_projection_dropped_is_rebuilt_as_it_was(
    infra: Any,
    prefix: str,
    mongo: AsyncMongoClient[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    articles = await started_articles(infra, prefix)
    comments = await started_comments(infra, prefix)
    try:
        first = await published(articles, "Talks resume in Geneva")
        second = await published(articles, "Harbour reopens", comments_open=False)
        await articles.articles.edit(
            EditArticle(second, None, ArticleChanges(title="Harbour reopens at last")), EDITOR
        )
        withdrawn = await published(articles, "Wrong report")
        await articles.articles.unpublish(withdrawn, EDITOR)
        projection = mongo[f"{prefix}_comments"][COMMENTS_ARTICLES]

        async def caught_up() -> bool:
            docs = {doc["_id"]: doc async for doc in projection.find()}
            return (
                docs.keys() == {first, second, withdrawn}
                and docs[second]["title"] == "Harbour reopens at last"
                and not docs[withdrawn]["published"]
            )

        await until(caught_up, "the comments projection has every article")
        # A comment numbers its article's threads: the rebuilt row must go on from there.
        slug = (await articles.articles.get(first)).slug
        for n in range(2):
            await comments.service.post(
                PostComment(slug, "Bo", None, f"Reply {n}", None, False, None, "10.0.0.1")
            )
        before = {doc["_id"]: doc async for doc in projection.find()}
        assert before[first]["root_seq"] == 2

        await comments.stop()
        await projection.drop()
        # Restarted with an empty projection: it rebuilds it before it serves. Its consumer
        # group resumes after the events it handled, so only the article states can do it.
        comments = await started_comments(infra, prefix)
        rebuilt = {doc["_id"]: doc async for doc in projection.find()}

        # As it was, the unpublished article at the revision unpublishing made (which its
        # state and, since version 2, its change event both carry).
        expected = {key: dict(doc) for key, doc in before.items()}
        current = (await articles.articles.get(withdrawn)).revision
        assert expected[withdrawn]["revision"] == current
        assert rebuilt == expected

        # The command, while the service runs: the same projection, nothing removed.
        env = {**shared_env(infra, prefix), "COMMENTS_MONGO_DATABASE": f"{prefix}_comments"}
        assert await admin(monkeypatch, env, "rebuild-projection", "comments") == 0
        printed = capsys.readouterr().out
        assert f"from {prefix}.{topics.ARTICLE_STATES}" in printed
        assert "Done: records read: " in printed
        assert printed.rstrip().endswith("upserted: 3, removed: 0")
        assert {doc["_id"]: doc async for doc in projection.find()} == expected
    finally:
        await comments.stop()
        await articles.stop()


# Waits on Kafka's log cleaner: 2 s alone, and it once took over two minutes on a loaded
# machine. With the fault scenarios (the marker), so make proof runs it too.
@pytest.mark.fault
async def test_a_fresh_service_is_rebuilt_from_the_compacted_topic(
    infra: Any,
    prefix: str,
    mongo: AsyncMongoClient[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    topic = f"{prefix}.{topics.ARTICLE_STATES}"
    # The services' own settings (cleanup.policy=compact), plus rolling segments and a cleaner
    # eager enough to compact within seconds; one partition, so one record rolls it.
    admin_client = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin_client.start()
    try:
        config = {
            **topics.CONFIGS[topics.ARTICLE_STATES],
            "segment.ms": "100",
            "min.cleanable.dirty.ratio": "0.01",
        }
        await admin_client.create_topics([NewTopic(topic, 1, 1, topic_configs=config)])
    finally:
        await admin_client.close()

    articles = await started_articles(infra, prefix)
    try:
        kept = await published(articles, "Talks resume in Geneva")
        for n in range(3):
            await articles.articles.edit(
                EditArticle(kept, None, ArticleChanges(title=f"Talks resume, day {n}")), EDITOR
            )
        withdrawn = await published(articles, "Wrong report")
        await articles.articles.unpublish(withdrawn, EDITOR)
        deleted = await imported_then_deleted(articles)

        async def relayed() -> bool:
            async with CompactedTopicReader(infra.kafka_bootstrap, topic, client_id="t") as reader:
                records = await reader.read()
            return bool(records) and records[-1] == (deleted.encode(), None)

        # The outbox relay publishes in batches: had it not yet sent these when the last one
        # comes, all would share the active segment, which the cleaner never compacts.
        await until(relayed, "the relay published the tombstone", timeout=60)
        await asyncio.sleep(0.2)  # past segment.ms: the next record starts a new segment
        last = await published(articles, "Harbour reopens")

        async with CompactedTopicReader(infra.kafka_bootstrap, topic, client_id="t") as reader:
            produced = len(await reader.read())

        seen: list[tuple[bytes, bytes | None]] = []

        async def compacted() -> bool:
            async with CompactedTopicReader(infra.kafka_bootstrap, topic, client_id="t") as reader:
                seen[:] = await reader.read()
            return len(seen) < produced and seen[-1][0].decode() == last

        # Generous: on a loaded machine the cleaner may take a while to get to it. Should it
        # not, the failure says what the topic held, to tell a slow cleaner from a missing record.
        what = "the log cleaner compacted the topic"
        try:
            await until(compacted, what, timeout=120)
        except AssertionError as error:
            keys = [key.decode() for key, _ in seen]
            raise AssertionError(f"{error}: {produced} produced, now {keys}") from None
    finally:
        await articles.stop()

    database = f"{prefix}_notifications"
    env = {**shared_env(infra, prefix), "NOTIFICATIONS_MONGO_DATABASE": database}
    assert await admin(monkeypatch, env, "rebuild-projection", "notifications") == 0
    assert "upserted: 3, removed: 0" in capsys.readouterr().out

    db = mongo[database]
    rows = {doc["_id"]: doc async for doc in db[NOTIFICATIONS_ARTICLES].find()}
    # The deleted article stays absent; the unpublished one is known but not live.
    assert rows.keys() == {kept, withdrawn, last}
    assert (rows[kept]["title"], rows[kept]["revision"], rows[kept]["live"]) == (
        "Talks resume, day 2",
        5,  # created, published, edited three times
        True,
    )
    assert not rows[withdrawn]["live"]
    assert rows[last]["live"]
    assert deleted not in rows


async def imported_then_deleted(articles: ArticlesContainer) -> str:
    """An article once public and then deleted: imported published, imported again as a draft
    (which unpublishes it), then deleted, as only drafts can be."""
    at = datetime(2020, 1, 1, tzinfo=UTC)

    def version(status: ArticleStatus, fingerprint: str) -> ImportArticle:
        content = ImportedContent(
            title="Old post",
            summary="",
            body="Body",
            tags=[],
            authors=["Ada"],
            comments_open=True,
            status=status,
            published_at=at if status is ArticleStatus.PUBLISHED else None,
            scheduled_at=None,
            created_at=at,
            updated_at=at,
        )
        return ImportArticle(
            source="https://old.example",
            wordpress_id=7,
            slug="old-post",
            section="world",
            content=content,
            link="https://old.example/old-post/",
            post_name="old-post",
            fingerprint=fingerprint * 64,
        )

    done = await articles.imports.import_article(version(ArticleStatus.PUBLISHED, "a"), EDITOR)
    await articles.imports.import_article(version(ArticleStatus.DRAFT, "b"), EDITOR)
    await articles.articles.delete(done.article.id, EDITOR)
    return done.article.id
