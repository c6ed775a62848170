"""The consumer runner every service uses.

- One consumer group per service; offsets are committed only after the handler succeeded, as
  explicit per-partition offsets, never auto-committed.
- Records are handled as they are fetched, each key's in order and the keys concurrently:
  events of one article share a key (hence a partition), and that order is the one the events
  promise, so different articles' events, even on one partition, need not wait for each other.
  The next poll does not wait for the previous one's records either: a record of a key that
  still has earlier records in hand waits behind them, whichever poll brought it, and the rest go
  ahead. (Waiting for a whole poll's records before the next poll made every record wait for the
  slowest of its poll, and those fetched meanwhile for all of them; aiokafka fetches nothing
  more of a partition whose fetched records wait to be taken, nor for their first 100 ms
  anything from its broker.) At most ``concurrency`` keys are handled at once, and polling
  waits while ``max_in_hand`` records are fetched and not yet handled.
- What is committed per partition is the offset past the longest run of handled records from
  the last commit: never past a record not handled, which is delivered again after a restart
  or a rebalance (and the idempotent handlers skip what was handled after it).
- A partition revoked in a rebalance is forgotten: the records of it still in hand are not
  handled (its new owner, or this member again, gets them from the last commit), and nothing
  more of it is committed.
- A commit refused because the group rebalanced is logged and ignored: the new owner of the
  partition gets the messages again and the idempotent handlers drop what they already did
  (aiokafka issues 929 and 933).
- A failing handler is retried with exponential backoff; after ``max_attempts`` the message goes
  to the group's dead-letter topic with the error in its headers, and consumption moves on.
  Database outages are not the message's fault: those are retried until the database is back.
- A message that is no event (not JSON, invalid) or an event this build does not know (a type or
  version from a newer producer) is dead-lettered at once: retrying cannot change it, and once a
  build that knows it runs, ``broadsheet-dlq replay`` hands it back (kafka/dead_letters.py).
  A replayed message names the one group it is for (``dlq_replay_for``); the other groups on
  the topic had it handled already and pass over it.
- Consumer lag per partition is exported as a Prometheus gauge.
"""

from __future__ import annotations

import asyncio
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    RebalanceInProgressError,
)
from prometheus_client import Counter, Gauge

from broadsheet_shared.events.base import IntegrationEvent
from broadsheet_shared.events.codec import EventDecodeError, decode_event, header
from broadsheet_shared.kafka.producer import EventProducer
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.mongo import UNAVAILABLE
from broadsheet_shared.outbox import OutgoingMessage
from broadsheet_shared.waiting import wait_until_set

log = structlog.get_logger(__name__)

CONSUMER_LAG = Gauge(
    "broadsheet_consumer_lag",
    "Messages behind the end of the partition",
    ["group", "topic", "partition"],
)
EVENTS_HANDLED = Counter(
    "broadsheet_events_handled_total", "Events handled", ["group", "type", "outcome"]
)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 30.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.initial_backoff * (2 ** (attempt - 1)), self.max_backoff))


# Set on a message ``broadsheet-dlq replay`` hands back: the consumer group it is for.
REPLAY_FOR = "dlq_replay_for"

_COMMIT_REFUSED = (CommitFailedError, RebalanceInProgressError, IllegalStateError, KafkaError)


class _Partition:
    """One assignment of a partition: the offsets fetched since its last commit, in order, and
    which of them are handled. A partition revoked and assigned again is a new one: the records
    of the old one still in hand are not handled (they come again from the last commit)."""

    def __init__(self) -> None:
        self._fetched: deque[int] = deque()
        self._handled: set[int] = set()

    def fetched(self, offset: int) -> None:
        self._fetched.append(offset)

    def handled(self, offset: int) -> None:
        self._handled.add(offset)

    def commit_point(self) -> int | None:
        """The offset past the handled run from the first record held, which is forgotten;
        None when that run is empty (the first record held is not handled yet)."""
        point = None
        while self._fetched and self._fetched[0] in self._handled:
            offset = self._fetched.popleft()
            self._handled.discard(offset)
            point = offset + 1
        return point


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells the runner which partitions a rebalance takes away, before it assigns any."""

    def __init__(self, revoked: Callable[[Iterable[TopicPartition]], None]) -> None:
        self._revoked = revoked

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self._revoked(revoked)

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        pass  # a partition is tracked from its first record fetched


# A key's records in hand, in offset order, each with the partition assignment that fetched it.
_Lane = deque[tuple[_Partition, ConsumerRecord[bytes, bytes]]]


class ConsumerRunner:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        topics: Sequence[str],
        router: EventRouter,
        producer: EventProducer,
        dead_letter_topic: str,
        retry: RetryPolicy | None = None,
        max_poll_records: int = 100,
        concurrency: int = 32,
        max_in_hand: int = 1000,
    ) -> None:
        self._group_id = group_id
        self._topics = list(topics)
        self._router = router
        self._producer = producer
        self._dead_letter_topic = dead_letter_topic
        self._retry = retry or RetryPolicy()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_poll_records,
            # Handlers may back off for a while; leave room before the group evicts us.
            max_poll_interval_ms=300_000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
        )
        self._consumer.subscribe(self._topics, listener=_Revocations(self._forget))
        self._slots = asyncio.Semaphore(concurrency)
        self._stopping = asyncio.Event()
        self._started = False
        # The partitions this member holds records of, and each (partition, key)'s records in
        # hand; a lane's task handles them in order and ends when it is empty.
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._lanes: dict[tuple[TopicPartition, bytes | None], _Lane] = {}
        self._max_in_hand = max_in_hand
        self._in_hand = 0
        self._progress = asyncio.Event()  # set when a record leaves a lane
        # Next offset to handle per partition, for the lag gauge.
        self._handled_up_to: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        await self._consumer.start()
        self._started = True

    async def stop(self) -> None:
        self._stopping.set()
        if self._started:
            self._started = False
            await self._consumer.stop()

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Poll and hand the records to their keys' lanes, committing what the lanes handled,
        until stopped; then commit what they finished. Start it with :meth:`start` first. A
        lane that fails (the dead-letter topic refused a message) ends the run: the next
        consumer starts from the last commit."""
        async with asyncio.TaskGroup() as lanes:
            while not self._stopping.is_set():
                await self._commit_handled()
                while self._in_hand >= self._max_in_hand and not self._stopping.is_set():
                    self._progress.clear()
                    await self._progress.wait()
                try:
                    batches = await self._consumer.getmany(timeout_ms=500)
                except KafkaError as exc:
                    log.warning("poll failed", error=repr(exc))
                    await asyncio.sleep(1)
                    continue
                if self._stopping.is_set():
                    break
                for tp, records in batches.items():
                    self._take(tp, records, lanes)
                self._record_lag()
        await self._commit_handled()

    def _take(
        self,
        tp: TopicPartition,
        records: Sequence[ConsumerRecord[bytes, bytes]],
        lanes: asyncio.TaskGroup,
    ) -> None:
        """Queue each record behind the records of its key still in hand."""
        partition = self._partitions.setdefault(tp, _Partition())
        for record in records:
            partition.fetched(record.offset)
            self._in_hand += 1
            lane_key = (tp, record.key)
            lane = self._lanes.get(lane_key)
            if lane is None:
                lane = self._lanes[lane_key] = deque()
                lanes.create_task(self._drain(lane_key, lane))
            lane.append((partition, record))

    async def _drain(self, lane_key: tuple[TopicPartition, bytes | None], lane: _Lane) -> None:
        """Handle a key's records in order, until none is left (or the runner stops)."""
        tp = lane_key[0]
        try:
            async with self._slots:
                while lane and not self._stopping.is_set():
                    partition, record = lane[0]
                    if self._partitions.get(tp) is partition:  # not revoked meanwhile
                        await self._handle_record(record)
                        partition.handled(record.offset)
                    lane.popleft()
                    self._in_hand -= 1
                    self._progress.set()
        finally:
            del self._lanes[lane_key]

    def _forget(self, revoked: Iterable[TopicPartition]) -> None:
        for tp in revoked:
            if tp in self._partitions:
                del self._partitions[tp]

    async def _commit_handled(self) -> None:
        offsets = {}
        for tp, partition in self._partitions.items():
            point = partition.commit_point()
            if point is not None:
                offsets[tp] = point
        if offsets:
            self._handled_up_to.update(offsets)
            await self._commit(offsets)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        # Only partitions still ours: committing a revoked one is refused anyway.
        owned = {tp: offset for tp, offset in offsets.items() if tp in self._consumer.assignment()}
        if not owned:
            return
        try:
            await self._consumer.commit(owned)
        except _COMMIT_REFUSED as exc:
            # A partition may now belong to another member: it will be delivered again there
            # and the idempotent handlers skip it. Crashing here would only make it worse.
            log.warning(
                "commit refused; messages will be redelivered",
                partitions=sorted(str(tp) for tp in owned),
                error=repr(exc),
            )

    async def _handle_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        headers = list(record.headers or ())
        replay_for = header(headers, REPLAY_FOR)
        if replay_for is not None and replay_for != self._group_id:
            return
        try:
            event = decode_event(record.value, headers)
        except EventDecodeError as exc:
            log.error("undecodable message, dead-lettering", error=str(exc), offset=record.offset)
            event_type = header(headers, "ce_type") or "undecodable"
            EVENTS_HANDLED.labels(self._group_id, event_type, "dead_lettered").inc()
            await self._dead_letter(record, exc, attempts=0)
            return
        if not self._router.handles(event):
            return
        with structlog.contextvars.bound_contextvars(event_id=str(event.id), event_type=event.type):
            await self._dispatch_with_retries(record, event)

    async def _dispatch_with_retries(
        self, record: ConsumerRecord[bytes, bytes], event: IntegrationEvent
    ) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._router.dispatch(event)
            except asyncio.CancelledError:
                raise
            except UNAVAILABLE as exc:
                # The database is down or too slow (an operation ran out of its timeoutMS);
                # the message is fine. Wait for it, however long.
                log.warning("database unavailable, retrying", error=repr(exc))
                await self._pause(self._retry.backoff(min(attempt, 6)))
                attempt = min(attempt, self._retry.max_attempts - 1)
                continue
            except Exception as exc:
                if attempt >= self._retry.max_attempts:
                    log.error("handler failed, dead-lettering", error=repr(exc), attempts=attempt)
                    EVENTS_HANDLED.labels(self._group_id, event.type, "dead_lettered").inc()
                    await self._dead_letter(record, exc, attempts=attempt)
                    return
                delay = self._retry.backoff(attempt)
                log.warning(
                    "handler failed, retrying", error=repr(exc), attempt=attempt, delay=delay
                )
                await self._pause(delay)
                if self._stopping.is_set():
                    raise asyncio.CancelledError from exc
                continue
            EVENTS_HANDLED.labels(self._group_id, event.type, "ok").inc()
            return

    async def _pause(self, seconds: float) -> None:
        await wait_until_set(self._stopping, seconds)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], exc: BaseException, *, attempts: int
    ) -> None:
        headers = [
            *(record.headers or ()),
            ("dlq_error_type", type(exc).__name__.encode()),
            ("dlq_error_message", str(exc)[:2000].encode()),
            ("dlq_error_trace", "".join(traceback.format_exception(exc))[-4000:].encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self._group_id.encode()),
            ("dlq_attempts", str(attempts).encode()),
        ]
        message = OutgoingMessage(
            topic=self._dead_letter_topic,
            key=record.key or b"",
            value=record.value or b"",
            headers=headers,
        )
        await self._producer.send_batch([message])

    def _record_lag(self) -> None:
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            position = self._handled_up_to.get(tp)
            if highwater is None or position is None:
                continue
            CONSUMER_LAG.labels(self._group_id, tp.topic, str(tp.partition)).set(
                max(0, highwater - position)
            )
