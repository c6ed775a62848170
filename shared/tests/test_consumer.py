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


class Broker:
    """The consumer a runner polls, without Kafka: each poll hands out the next scripted batch
    of one partition (an empty one once the script is done), and commits are recorded."""

    def __init__(self, tp: TopicPartition, *polls: list[ConsumerRecord[bytes, bytes]]) -> None:
        self._tp = tp
        self._polls = list(polls)
        self.polls_taken = 0
        self.commits: list[int] = []
        self.committed = asyncio.Event()

    def assignment(self) -> set[TopicPartition]:
        return {self._tp}

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, Any]:
        await asyncio.sleep(0)
        if self.polls_taken < len(self._polls):
            self.polls_taken += 1
            return {self._tp: self._polls[self.polls_taken - 1]}
        await asyncio.sleep(0.001)
        return {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets[self._tp])
        self.committed.set()


TP = TopicPartition("broadsheet.comments", 0)


def polling(broker: Broker, router: EventRouter, **options: Any) -> ConsumerRunner:
    """A runner whose consumer is ``broker``."""
    runner = ConsumerRunner(
        bootstrap_servers="127.0.0.1:9",
        group_id="notifications",
        topics=["broadsheet.comments"],
        router=router,
        producer=cast(EventProducer, Producer()),
        dead_letter_topic="notifications.dlq",
        **options,
    )
    runner._consumer = cast(AIOKafkaConsumer, broker)
    return runner


def keyed(key: str, offset: int, comment_id: str) -> ConsumerRecord[bytes, bytes]:
    event = approved().model_copy(
        update={"data": approved().data.model_copy(update={"comment_id": comment_id})}
    )
    _, value, headers = encode_event(event)
    return ConsumerRecord(
        "broadsheet.comments", 0, offset, 0, 0, key.encode(), value, None, 1, len(value), headers
    )


class Gated:
    """A handler that records the comments it handled, in order, and holds the ones named in
    ``held`` until they are released."""

    def __init__(self, *held: str) -> None:
        self.order: list[str] = []
        self.gates = {comment_id: asyncio.Event() for comment_id in held}
        self.arrived: dict[str, asyncio.Event] = {}
        self.router = EventRouter()

        @self.router.subscribe(CommentApprovedV1)
        async def on_approved(event: CommentApprovedV1) -> None:
            comment_id = event.data.comment_id
            self.arrived.setdefault(comment_id, asyncio.Event()).set()
            if comment_id in self.gates:
                await self.gates[comment_id].wait()
            self.order.append(comment_id)

    async def reached(self, comment_id: str) -> None:
        await asyncio.wait_for(self.arrived.setdefault(comment_id, asyncio.Event()).wait(), 5)


async def until(condition: Any) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.001)


async def stopped(runner: ConsumerRunner, task: asyncio.Task[None]) -> None:
    runner.request_stop()
    await asyncio.wait_for(task, 5)


async def test_a_later_poll_goes_ahead_of_a_slow_key_whose_later_records_wait_for_it() -> None:
    # a1's first reply is slow. The next poll is taken meanwhile: a2's reply in it is handled
    # at once, a1's second waits for a1's first. (Waiting for a whole poll before the next
    # one, a2 would wait for a1's first too.)
    handler = Gated("a1-first")
    broker = Broker(
        TP,
        [keyed("a1", 10, "a1-first")],
        [keyed("a2", 11, "a2"), keyed("a1", 12, "a1-second")],
    )
    runner = polling(broker, handler.router)
    task = asyncio.create_task(runner.run())
    await handler.reached("a1-first")
    await until(lambda: handler.order == ["a2"])
    await asyncio.sleep(0.01)
    assert handler.order == ["a2"]  # a1's second is still behind a1's first
    assert broker.commits == []  # nothing before offset 10 is handled yet
    handler.gates["a1-first"].set()
    await until(lambda: broker.commits[-1:] == [13])
    assert handler.order == ["a2", "a1-first", "a1-second"]
    await stopped(runner, task)


async def test_the_offset_committed_never_passes_a_record_not_handled() -> None:
    handler = Gated("b")
    broker = Broker(TP, [keyed("a", 3, "a"), keyed("b", 4, "b")], [keyed("a", 5, "a-next")])
    runner = polling(broker, handler.router)
    task = asyncio.create_task(runner.run())
    await until(lambda: handler.order == ["a", "a-next"])
    await until(lambda: broker.commits == [4])  # past 3; 5 is handled, but 4 is not
    await asyncio.sleep(0.01)
    assert broker.commits == [4]
    handler.gates["b"].set()
    await until(lambda: broker.commits == [4, 6])
    await stopped(runner, task)


async def test_a_stopped_runner_commits_what_it_finished_and_not_the_rest() -> None:
    handler = Gated("a")
    broker = Broker(TP, [keyed("a", 3, "a"), keyed("a", 4, "a-next"), keyed("b", 5, "b")])
    runner = polling(broker, handler.router)
    task = asyncio.create_task(runner.run())
    await handler.reached("a")
    await until(lambda: "b" in handler.order)
    runner.request_stop()
    handler.gates["a"].set()  # the record in hand is finished, the key's next is left
    await asyncio.wait_for(task, 5)
    assert handler.order == ["b", "a"]
    assert broker.commits[-1] == 4  # 4 comes again, and 5 after it (then skipped)


async def test_records_of_a_revoked_partition_still_in_hand_are_not_handled_nor_committed() -> None:
    handler = Gated("a")
    broker = Broker(TP, [keyed("a", 3, "a"), keyed("a", 4, "a-next")])
    runner = polling(broker, handler.router)
    task = asyncio.create_task(runner.run())
    await handler.reached("a")
    runner._forget([TP])  # a rebalance takes the partition away
    handler.gates["a"].set()  # the record being handled ends; its successor is not handled
    await asyncio.sleep(0.02)
    assert handler.order == ["a"]
    assert broker.commits == []
    await stopped(runner, task)


async def test_polling_waits_while_the_records_in_hand_are_at_the_limit() -> None:
    handler = Gated("a", "b")
    broker = Broker(TP, [keyed("a", 3, "a"), keyed("b", 4, "b")], [keyed("c", 5, "c")])
    runner = polling(broker, handler.router, max_in_hand=2)
    task = asyncio.create_task(runner.run())
    await handler.reached("a")
    await handler.reached("b")
    await asyncio.sleep(0.01)
    assert broker.polls_taken == 1  # a and b are in hand: two, the limit
    handler.gates["b"].set()
    await until(lambda: handler.order == ["b", "c"])
    handler.gates["a"].set()
    await until(lambda: broker.commits[-1:] == [6])
    await stopped(runner, task)
