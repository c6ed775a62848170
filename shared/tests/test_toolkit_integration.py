"""The toolkit against the real Kafka and database: dead letters, retries, rate limits, order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import murmur2
from pydantic_settings import SettingsConfigDict

from broadsheet_shared.events import ArticleRef, ArticleUnpublishedV1, decode_event, topics
from broadsheet_shared.events.codec import header
from broadsheet_shared.events.staff import StaffAccountData
from broadsheet_shared.kafka.consumer import RetryPolicy
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.outbox import OutgoingMessage
from broadsheet_shared.ratelimit import MongoRateLimiter, RateLimit
from broadsheet_shared.runtime import ServiceRuntime
from broadsheet_shared.settings import DatabaseServiceSettings
from broadsheet_shared.staff_access import MongoStaffAccess
from broadsheet_shared.unit_of_work import Transaction

pytestmark = pytest.mark.integration


class ToolkitSettings(DatabaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOOLKIT_", extra="ignore", frozen=True)
    service_name: str = "toolkit"


def unpublished(article_id: str, n: int = 0) -> ArticleUnpublishedV1:
    return ArticleUnpublishedV1(
        subject=article_id,
        data=ArticleRef(article_id=article_id, slug=f"s{n}", url_path=f"/articles/s{n}"),
    )


@pytest.fixture
def settings(infra: Any, unique_prefix: str) -> ToolkitSettings:
    return ToolkitSettings(
        mongo_url=infra.mongo_url,
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        kafka_topic_prefix=f"{unique_prefix}.",
        mongo_database=f"{unique_prefix}_toolkit",
    )


@contextlib.asynccontextmanager
async def running(
    settings: ToolkitSettings, router: EventRouter | None = None
) -> AsyncIterator[ServiceRuntime]:
    runtime = ServiceRuntime(
        settings, retry=RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.2)
    )
    await runtime.start(router)
    try:
        yield runtime
    finally:
        await runtime.stop()


async def read_all(bootstrap: str, topic: str, expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                for partition_records in batch.values():
                    records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def test_outbox_events_reach_kafka_in_order_per_article(settings: ToolkitSettings) -> None:
    async with running(settings) as runtime:
        for n in range(10):

            async def work(tx: Transaction, n: int = n) -> None:
                tx.emit(unpublished(f"article-{n % 2}", n))

            await runtime.uow.run(work)
        records = await read_all(
            settings.kafka_bootstrap_servers, settings.topic(topics.ARTICLES), 10
        )
    slugs: dict[bytes, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = decode_event(record.value, record.headers)
        assert isinstance(event, ArticleUnpublishedV1)
        slugs.setdefault(record.key, []).append(int(event.data.slug[1:]))
    assert slugs[b"article-0"] == [0, 2, 4, 6, 8]
    assert slugs[b"article-1"] == [1, 3, 5, 7, 9]


async def test_aborted_transaction_leaves_no_event(settings: ToolkitSettings) -> None:
    async with running(settings) as runtime:

        async def work(tx: Transaction) -> None:
            tx.emit(unpublished("a-abort"))
            await runtime.db["things"].insert_one({"_id": 1}, session=tx.session)
            raise RuntimeError("use case failed")

        with pytest.raises(RuntimeError):
            await runtime.uow.run(work)
        assert await runtime.db["outbox"].count_documents({}) == 0
        assert await runtime.db["things"].count_documents({}) == 0


async def test_failing_handler_is_retried_then_dead_lettered(settings: ToolkitSettings) -> None:
    router = EventRouter()
    attempts: list[str] = []
    handled: list[str] = []

    @router.subscribe(ArticleUnpublishedV1)
    async def on_unpublished(event: ArticleUnpublishedV1) -> None:
        attempts.append(event.data.slug)
        if event.data.slug == "poison":
            raise ValueError("cannot handle this one")
        if event.data.slug == "flaky" and attempts.count("flaky") < 2:
            raise RuntimeError("transient")
        handled.append(event.data.slug)

    async with running(settings, router) as runtime:
        for slug in ("poison", "flaky", "fine"):
            await runtime.producer.publish(
                ArticleUnpublishedV1(
                    subject="same-article",
                    data=ArticleRef(article_id="same-article", slug=slug, url_path="/x"),
                ),
                settings.topic(topics.ARTICLES),
            )
        dead = await read_all(settings.kafka_bootstrap_servers, runtime.dead_letter_topic, 1)
        async with asyncio.timeout(20):
            while handled != ["flaky", "fine"]:
                await asyncio.sleep(0.05)
    assert attempts.count("poison") == 3
    assert header(dead[0].headers, "dlq_error_type") == "ValueError"
    assert header(dead[0].headers, "dlq_error_message") == "cannot handle this one"
    assert header(dead[0].headers, "ce_type") == "article.unpublished"
    assert header(dead[0].headers, "dlq_attempts") == "3"


async def test_undecodable_message_goes_to_dead_letters(settings: ToolkitSettings) -> None:
    router = EventRouter()

    @router.subscribe(ArticleUnpublishedV1)
    async def on_unpublished(event: ArticleUnpublishedV1) -> None:
        return None

    async with running(settings, router) as runtime:
        await runtime.producer.send_batch(
            [OutgoingMessage(settings.topic(topics.ARTICLES), b"k", b"{broken", [])]
        )
        dead = await read_all(settings.kafka_bootstrap_servers, runtime.dead_letter_topic, 1)
    assert dead[0].value == b"{broken"
    assert header(dead[0].headers, "dlq_error_type") == "EventDecodeError"


async def test_rate_limit_counts_per_key_in_the_database(settings: ToolkitSettings) -> None:
    async with running(settings) as runtime:
        limiter = MongoRateLimiter(runtime.db)
        rule = RateLimit(limit=3, window_seconds=60)
        results = [await limiter.hit("client:1", rule) for _ in range(4)]
        other = await limiter.hit("client:2", rule)
    assert [r.allowed for r in results] == [True, True, True, False]
    assert 1 <= results[-1].retry_after <= 60 + 60 // 3  # this window, then a third of the next
    assert other.allowed

    async with running(settings) as runtime:
        limiter = MongoRateLimiter(runtime.db)
        await limiter.reset("client:1")
        assert (await limiter.hit("client:1", rule)).allowed  # counting starts afresh
        assert (await limiter.hit("client:2", rule)).remaining == 1  # other keys keep theirs


async def test_staff_access_keeps_the_latest_change_whatever_the_order(
    settings: ToolkitSettings,
) -> None:
    def change(day: int) -> StaffAccountData:
        at = datetime(2025, 1, day, 12, tzinfo=UTC)
        return StaffAccountData(staff_id="ed", role="editor", disabled=True, changed_at=at)

    async with running(settings) as runtime:
        access = MongoStaffAccess(runtime.db)
        assert await access.changed_at("ed") is None
        for day in (2, 2, 1, 3, 1):  # replayed, late and out of order
            await access.record(change(day))
        assert await access.changed_at("ed") == datetime(2025, 1, 3, 12, tzinfo=UTC)
        assert await access.changed_at("someone") is None


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_rate_limit_window_slides_across_the_boundary(settings: ToolkitSettings) -> None:
    # Five hits in the last second of a window leave no fresh five at the start of the next:
    # that boundary burst is what a plain fixed window allows.
    rule = RateLimit(limit=5, window_seconds=60)
    window_start = 60 * 1_000_000
    clock = Clock(window_start + 59.5)
    async with running(settings) as runtime:
        limiter = MongoRateLimiter(runtime.db, clock=clock)
        late = [await limiter.hit("client:burst", rule) for _ in range(5)]
        clock.now = window_start + 61  # 1 s into the next window
        refused = await limiter.hit("client:burst", rule)
        clock.now += refused.retry_after - 1
        still_refused = await limiter.hit("client:burst", rule)
        clock.now += 1
        again = await limiter.hit("client:burst", rule)
        clock.now = window_start + 60 * 3  # two windows on: all forgotten
        fresh = [await limiter.hit("client:burst", rule) for _ in range(5)]
    assert all(r.allowed for r in late)
    assert not refused.allowed
    # 5 x (1 - t/60) must fall to 4 for one more hit: t = 12 s into the window, 11 s from now.
    assert refused.retry_after == 11
    assert not still_refused.allowed  # refused hits are not counted: the wait does not grow
    assert still_refused.retry_after == 1
    assert again.allowed
    assert all(r.allowed for r in fresh)


async def test_concurrent_first_hits_of_a_key_are_all_counted(settings: ToolkitSettings) -> None:
    # They race to insert the key's document; every hit still gets an answer, and exactly
    # `limit` of them are allowed.
    rule = RateLimit(limit=5, window_seconds=60)
    async with running(settings) as runtime:
        limiter = MongoRateLimiter(runtime.db)
        results = await asyncio.gather(*(limiter.hit("client:race", rule) for _ in range(12)))
    assert sum(r.allowed for r in results) == 5


async def test_readiness_reports_both_dependencies_and_the_tasks(
    settings: ToolkitSettings,
) -> None:
    async with running(settings) as runtime:
        checks = runtime.readiness_checks()
        assert {name: await check() for name, check in checks.items()} == {
            "mongo": True,
            "kafka": True,
            "tasks": True,
        }


def keys_on_different_partitions() -> tuple[str, str]:
    def partition(key: str) -> int:
        return (murmur2(key.encode()) & 0x7FFFFFFF) % topics.PARTITIONS

    first = "article-0"
    second = next(
        f"article-{n}" for n in range(1, 100) if partition(f"article-{n}") != partition(first)
    )
    return first, second


async def test_partitions_of_one_poll_are_handled_concurrently(settings: ToolkitSettings) -> None:
    # Each handler waits for the other to start: handled one partition after the other, the
    # first would time out and both would end in the dead-letter topic.
    first, second = keys_on_different_partitions()
    both_started = asyncio.Barrier(2)
    handled: list[str] = []
    router = EventRouter()

    @router.subscribe(ArticleUnpublishedV1)
    async def on_unpublished(event: ArticleUnpublishedV1) -> None:
        await asyncio.wait_for(both_started.wait(), 5)
        handled.append(event.data.article_id)

    async with running(settings) as runtime:  # creates the topics
        for article_id in (first, second):
            await runtime.producer.publish(unpublished(article_id), settings.topic(topics.ARTICLES))
    async with running(settings, router):  # both events are there at the first poll
        async with asyncio.timeout(20):
            while len(handled) < 2:
                await asyncio.sleep(0.05)
    assert sorted(handled) == sorted([first, second])
