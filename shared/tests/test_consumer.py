"""The consumer runner's handling of one record, without a broker: an event type no handler of
this service subscribed to (``comment.imported`` at the notifications service) is skipped, not
dead-lettered; poison and events this build does not know are; a replayed dead letter is handled
by the group it is for only."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition
from pymongo.errors import ExecutionTimeout, ServerSelectionTimeoutError

from broadsheet_shared.events import (
    CommentApprovedData,
    CommentApprovedV1,
    CommentImportedData,
    CommentImportedV1,
    encode_event,
)
from broadsheet_shared.events.base import IntegrationEvent
from broadsheet_shared.kafka.consumer import ConsumerRunner, RetryPolicy
from broadsheet_shared.kafka.producer import EventProducer, OutgoingMessage
from broadsheet_shared.kafka.router import EventRouter

pytestmark = pytest.mark.unit

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


class Producer:
    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> None:
        self.sent += messages


def record(key: bytes, value: bytes, headers: Any) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        "broadsheet.comments", 0, 7, 0, 0, key, value, None, len(key), len(value), headers
    )


def encoded(event: IntegrationEvent) -> ConsumerRecord[bytes, bytes]:
    return record(*encode_event(event))


def imported() -> CommentImportedV1:
    return CommentImportedV1(
        subject="c1",
        data=CommentImportedData(
            comment_id="c1",
            article_id="a1",
            article_slug="s",
            parent_id=None,
            status="approved",
            created_at=WHEN,
            wordpress_id=12,
        ),
    )


def approved() -> CommentApprovedV1:
    return CommentApprovedV1(
        subject="c2",
        data=CommentApprovedData(
            comment_id="c2",
            article_id="a1",
            article_slug="s",
            article_title="t",
            article_url_path="/articles/s",
            parent_id=None,
            author_name="Ann",
            excerpt="hi",
            created_at=WHEN,
            approved_at=WHEN,
        ),
    )


async def test_only_subscribed_types_are_handled_and_the_rest_skipped_not_dead_lettered() -> None:
    handled: list[IntegrationEvent] = []
    router = EventRouter()

    @router.subscribe(CommentApprovedV1)
    async def on_approved(event: CommentApprovedV1) -> None:
        handled.append(event)

    producer = Producer()
    runner = ConsumerRunner(
        bootstrap_servers="127.0.0.1:9",  # never contacted: records are handed in directly
        group_id="notifications",
        topics=["broadsheet.comments"],
        router=router,
        producer=cast(EventProducer, producer),
        dead_letter_topic="notifications.dlq",
    )
    await runner._handle_record(encoded(imported()))
    assert (handled, producer.sent) == ([], [])
    await runner._handle_record(encoded(approved()))
    assert [e.type for e in handled] == ["comment.approved"]
    # Poison is still dead-lettered: skipping is for well-formed events nobody here wants.
    await runner._handle_record(record(b"k", b"not json", [("ce_type", b"comment.approved")]))
    assert [m.topic for m in producer.sent] == ["notifications.dlq"]


async def test_a_database_that_is_down_or_too_slow_is_waited_for_not_dead_lettered() -> None:
    # An operation that ran out of its timeoutMS (ExecutionTimeout) is the database's trouble,
    # like a lost connection: the event is fine and must not be dead-lettered after the retries.
    outages = [ServerSelectionTimeoutError("down"), ExecutionTimeout("too slow", 50)] * 3
    router = EventRouter()
    handled: list[IntegrationEvent] = []

    @router.subscribe(CommentApprovedV1)
    async def on_approved(event: CommentApprovedV1) -> None:
        if outages:
            raise outages.pop()
        handled.append(event)

    producer = Producer()
    runner = ConsumerRunner(
        bootstrap_servers="127.0.0.1:9",
        group_id="notifications",
        topics=["broadsheet.comments"],
        router=router,
        producer=cast(EventProducer, producer),
        dead_letter_topic="notifications.dlq",
        retry=RetryPolicy(max_attempts=2, initial_backoff=0.001, max_backoff=0.001),
    )
    await runner._handle_record(encoded(approved()))
    assert [e.type for e in handled] == ["comment.approved"]
    assert producer.sent == []


def runner_for(group: str, handled: list[IntegrationEvent], producer: Producer) -> ConsumerRunner:
    router = EventRouter()

    @router.subscribe(CommentApprovedV1)
    async def on_approved(event: CommentApprovedV1) -> None:
        handled.append(event)

    return ConsumerRunner(
        bootstrap_servers="127.0.0.1:9",
        group_id=group,
        topics=["broadsheet.comments"],
        router=router,
        producer=cast(EventProducer, producer),
        dead_letter_topic=f"{group}.dlq",
    )


async def test_an_event_of_an_unknown_type_or_version_is_dead_lettered_at_once() -> None:
    handled: list[IntegrationEvent] = []
    producer = Producer()
    runner = runner_for("notifications", handled, producer)
    key, value, headers = encode_event(approved())
    newer = [(n, b"2" if n == "ce_version" else v) for n, v in headers]
    unknown = [(n, b"comment.pinned" if n == "ce_type" else v) for n, v in headers]
    await runner._handle_record(record(key, value, newer))
    await runner._handle_record(record(key, value, unknown))
    assert handled == []
    assert [dict(m.headers)["dlq_error_message"] for m in producer.sent] == [
        b"unknown event comment.approved v2",
        b"unknown event comment.pinned v1",
    ]
    assert {dict(m.headers)["dlq_attempts"] for m in producer.sent} == {b"0"}


async def test_a_replayed_dead_letter_is_handled_by_its_own_group_only() -> None:
    key, value, headers = encode_event(approved())
    replayed = record(key, value, [*headers, ("dlq_replay_for", b"notifications")])
    for group, expected in (("notifications", 1), ("comments", 0)):
        handled: list[IntegrationEvent] = []
        await runner_for(group, handled, Producer())._handle_record(replayed)
        assert len(handled) == expected, group


class Assigned:
    """The one thing the runner asks a consumer while handling a batch: what it owns."""

    def __init__(self, *partitions: TopicPartition) -> None:
        self._partitions = set(partitions)

    def assignment(self) -> set[TopicPartition]:
        return self._partitions


def owning(tp: TopicPartition, router: EventRouter, **options: Any) -> ConsumerRunner:
    """A runner handed batches directly: its consumer only says that it owns ``tp``."""
    runner = ConsumerRunner(
        bootstrap_servers="127.0.0.1:9",
        group_id="notifications",
        topics=["broadsheet.comments"],
        router=router,
        producer=cast(EventProducer, Producer()),
        dead_letter_topic="notifications.dlq",
        **options,
    )
    runner._consumer = cast(AIOKafkaConsumer, Assigned(tp))
    return runner


def keyed(key: str, offset: int, comment_id: str) -> ConsumerRecord[bytes, bytes]:
    event = approved().model_copy(
        update={"data": approved().data.model_copy(update={"comment_id": comment_id})}
    )
    _, value, headers = encode_event(event)
    return ConsumerRecord(
        "broadsheet.comments", 0, offset, 0, 0, key.encode(), value, None, 1, len(value), headers
    )


async def test_one_partitions_keys_are_handled_concurrently_each_key_in_order() -> None:
    # Article a1's first event waits until a2's was handled: handled one at a time per
    # partition, the batch would never finish.
    a2_handled = asyncio.Event()
    order: list[str] = []
    router = EventRouter()

    @router.subscribe(CommentApprovedV1)
    async def on_approved(event: CommentApprovedV1) -> None:
        if event.data.comment_id == "a1-first":
            await a2_handled.wait()
        order.append(event.data.comment_id)
        if event.data.comment_id == "a2":
            a2_handled.set()

    tp = TopicPartition("broadsheet.comments", 0)
    runner = owning(tp, router)
    records = [keyed("a1", 10, "a1-first"), keyed("a2", 11, "a2"), keyed("a1", 12, "a1-second")]
    _, offset = await asyncio.wait_for(runner._handle_partition_batch(tp, records), 5)
    assert order == ["a2", "a1-first", "a1-second"]
    assert offset == 13  # every record handled: commit past the last


async def test_the_offset_committed_stops_at_the_first_record_not_handled() -> None:
    router = EventRouter()

    @router.subscribe(CommentApprovedV1)
    async def on_approved(event: CommentApprovedV1) -> None:
        if event.data.comment_id == "b":
            runner.request_stop()  # the service stops while the batch is handled

    tp = TopicPartition("broadsheet.comments", 0)
    runner = owning(tp, router, concurrency=1)  # key a's records first, then key b's
    records = [keyed("a", 3, "a"), keyed("b", 4, "b"), keyed("b", 5, "b-next"), keyed("a", 6, "a")]
    _, offset = await runner._handle_partition_batch(tp, records)
    # a's 3 and 6 and b's 4 were handled; 5 was not, so 6 is delivered again after it.
    assert offset == 5
