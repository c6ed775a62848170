"""The consumer runner every service uses.

- One consumer group per service; offsets are committed only after the handler succeeded, as
  explicit per-partition offsets, never auto-committed.
- What one poll fetched is handled concurrently, each key's events in order: events of one
  article share a key (hence a partition), and that order is the one the events promise, so
  different articles' events, even on one partition, need not wait for each other: handled one
  at a time per partition, a service had at most three events (three partitions) in its
  database at once, and each waits for its transaction's round trips. At most ``concurrency``
  keys are handled at once.
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
import contextlib
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
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
    ) -> None:
        self._group_id = group_id
        self._topics = list(topics)
        self._router = router
        self._producer = producer
        self._dead_letter_topic = dead_letter_topic
        self._retry = retry or RetryPolicy()
        self._consumer = AIOKafkaConsumer(
            *self._topics,
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
        self._slots = asyncio.Semaphore(concurrency)
        self._stopping = asyncio.Event()
        self._started = False
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
        """Poll, handle, commit, until stopped. Start it with :meth:`start` first."""
        while not self._stopping.is_set():
            try:
                batches = await self._consumer.getmany(timeout_ms=500)
            except KafkaError as exc:
                log.warning("poll failed", error=repr(exc))
                await asyncio.sleep(1)
                continue
            if not batches or self._stopping.is_set():
                continue
            handled = await asyncio.gather(
                *(self._handle_partition_batch(tp, records) for tp, records in batches.items())
            )
            offsets = {tp: offset for tp, offset in handled if offset is not None}
            if offsets:
                self._handled_up_to.update(offsets)
                await self._commit(offsets)
            self._record_lag()

    async def _handle_partition_batch(
        self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> tuple[TopicPartition, int | None]:
        """Handle one partition's records, each key's in order and the keys concurrently; the
        offset to commit after them: past the longest run of records, from the first, that
        were all handled (a record after a gap is delivered again, and the idempotent
        handlers skip it)."""
        by_key: dict[bytes | None, list[ConsumerRecord[bytes, bytes]]] = {}
        for record in records:
            by_key.setdefault(record.key, []).append(record)
        handled: set[int] = set()
        await asyncio.gather(*(self._handle_key(tp, same, handled) for same in by_key.values()))
        next_offset: int | None = None
        for record in records:
            if record.offset not in handled:
                break
            next_offset = record.offset + 1
        return tp, next_offset

    async def _handle_key(
        self,
        tp: TopicPartition,
        records: Sequence[ConsumerRecord[bytes, bytes]],
        handled: set[int],
    ) -> None:
        """One key's records in order, adding each handled offset to ``handled``."""
        async with self._slots:
            for record in records:
                if tp not in self._consumer.assignment():
                    return  # revoked mid-batch: the new owner takes over from the last commit
                if self._stopping.is_set():
                    return
                await self._handle_record(record)
                handled.add(record.offset)

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
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

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
