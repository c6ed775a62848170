"""``broadsheet-dlq``: show the dead letters and hand them back once their cause is fixed.

    broadsheet-dlq list   [--service NAME]   # every dead letter: topic, key, type, error, time
    broadsheet-dlq replay [--service NAME]   # each one not replayed yet, back to its group

It reads the same environment variables as the services (``KAFKA_BOOTSTRAP_SERVERS``,
``KAFKA_TOPIC_PREFIX``), so it works against ``make run`` as it is. Without ``--service`` it
takes every dead-letter topic under the prefix (``<prefix><service>.dlq``, one per consumer
group, kafka/consumer.py).

A replay sends the message back to the topic it came from with the consumer group it failed in
named in its ``dlq_replay_for`` header: that group handles it again, the other groups on the
topic (which had handled it) pass over it. The tool remembers how far it replayed as the
committed offsets of its own consumer group (``<prefix>broadsheet-dlq``) on the dead-letter
topics, so a dead letter is replayed once, however often the command runs. Were it killed
between sending and committing, the next run sends those again: the consumers are idempotent.
A message that this build cannot decode (not JSON, not an event) is not replayed, since its bytes
will never change; it is listed as skipped. One that fails again is dead-lettered again and
shows up as a new, replayable dead letter.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic_settings import SettingsConfigDict

from broadsheet_shared.events import topics
from broadsheet_shared.events.codec import EventDecodeError, decode_event, header
from broadsheet_shared.kafka.consumer import REPLAY_FOR
from broadsheet_shared.kafka.producer import EventProducer
from broadsheet_shared.outbox import OutgoingMessage
from broadsheet_shared.settings import ServiceSettings

DEAD_LETTER_HEADER_PREFIX = "dlq_"


class DeadLetterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DLQ_", extra="ignore", frozen=True)
    service_name: str = "broadsheet-dlq"


@dataclass(frozen=True)
class DeadLetter:
    """One message in a dead-letter topic, and whether the tool has replayed it already."""

    record: ConsumerRecord[bytes, bytes]
    replayed: bool

    def _header(self, name: str) -> str:
        return header(list(self.record.headers or ()), name) or ""

    @property
    def where(self) -> str:
        return f"{self.record.topic}:{self.record.partition}:{self.record.offset}"

    @property
    def original_topic(self) -> str:
        return self._header("dlq_original_topic")

    @property
    def group(self) -> str:
        return self._header("dlq_consumer_group")

    @property
    def key(self) -> str:
        return (self.record.key or b"").decode("utf-8", errors="replace")

    @property
    def event_type(self) -> str:
        event_type, version = self._header("ce_type"), self._header("ce_version")
        return f"{event_type} v{version}" if event_type else "(none)"

    @property
    def error(self) -> str:
        message = self._header("dlq_error_message").splitlines()
        return f"{self._header('dlq_error_type')}: {message[0] if message else ''}"

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.record.timestamp / 1000, UTC)

    def undecodable(self) -> str | None:
        """Why this build cannot read the message, or None when it can."""
        try:
            decode_event(self.record.value, list(self.record.headers or ()))
        except EventDecodeError as exc:
            return str(exc)
        return None

    def replay_message(self) -> OutgoingMessage:
        """The message as its group first received it, addressed to that group only."""
        kept = [
            (name, value)
            for name, value in self.record.headers or ()
            if not name.startswith(DEAD_LETTER_HEADER_PREFIX)
        ]
        return OutgoingMessage(
            topic=self.original_topic,
            key=self.record.key or b"",
            value=self.record.value or b"",
            headers=[*kept, (REPLAY_FOR, self.group.encode())],
        )


def dead_letter_topics(
    settings: ServiceSettings, existing: set[str], service: str | None
) -> list[str]:
    if service is not None:
        return [topics.dead_letter_topic(f"{settings.kafka_topic_prefix}{service}")]
    prefix, suffix = settings.kafka_topic_prefix, topics.dead_letter_topic("")
    return sorted(t for t in existing if t.startswith(prefix) and t.endswith(suffix))


class DeadLetterStore:
    """Reads the dead-letter topics from the start; commits how far the replays got."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.consumer_group,
            client_id=settings.service_name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )

    async def __aenter__(self) -> DeadLetterStore:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def _partitions(self, service: str | None) -> list[TopicPartition]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            described = await admin.describe_topics()
        finally:
            await admin.close()
        existing = {t["topic"]: sorted(p["partition"] for p in t["partitions"]) for t in described}
        return [
            TopicPartition(topic, partition)
            for topic in dead_letter_topics(self._settings, set(existing), service)
            for partition in existing.get(topic, ())
        ]

    async def read(self, service: str | None) -> list[DeadLetter]:
        partitions = await self._partitions(service)
        if not partitions:
            return []
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        ends = await self._consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        for tp in partitions:
            replayed_up_to = await self._consumer.committed(tp) or 0
            while await self._consumer.position(tp) < ends[tp]:
                batch = await self._consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    if record.offset < ends[tp]:
                        letters.append(DeadLetter(record, record.offset < replayed_up_to))
        return letters

    async def mark_replayed(self, letters: Sequence[DeadLetter]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for letter in letters:
            tp = TopicPartition(letter.record.topic, letter.record.partition)
            offsets[tp] = max(offsets.get(tp, 0), letter.record.offset + 1)
        if offsets:
            await self._consumer.commit(offsets)


def _print_list(letters: Sequence[DeadLetter]) -> None:
    if not letters:
        print("No dead letters.")
        return
    for letter in letters:
        state = "replayed" if letter.replayed else "waiting"
        print(f"{letter.where}  {letter.time:%Y-%m-%d %H:%M:%S}Z  {state}")
        print(f"    from {letter.original_topic} (group {letter.group})  key {letter.key}")
        print(f"    type {letter.event_type}")
        print(f"    error {letter.error}")
    waiting = sum(not letter.replayed for letter in letters)
    print(f"{len(letters)} dead letters, {waiting} not replayed yet.")


async def _replay(settings: ServiceSettings, store: DeadLetterStore, service: str | None) -> None:
    waiting = [letter for letter in await store.read(service) if not letter.replayed]
    if not waiting:
        print("Nothing to replay.")
        return
    producer = EventProducer(settings.kafka_bootstrap_servers, settings.service_name)
    await producer.start()
    try:
        replayable: list[DeadLetter] = []
        for letter in waiting:
            reason = letter.undecodable()
            if reason is None:
                replayable.append(letter)
            else:
                print(f"skipped {letter.where}: cannot be replayed ({reason})")
        await producer.send_batch([letter.replay_message() for letter in replayable])
    finally:
        await producer.stop()
    await store.mark_replayed(waiting)
    for letter in replayable:
        print(
            f"replayed {letter.where} ({letter.event_type}, key {letter.key}) "
            f"to {letter.original_topic} for group {letter.group}"
        )
    print(f"{len(replayable)} replayed, {len(waiting) - len(replayable)} skipped.")


async def _run(command: str, service: str | None) -> None:
    settings = DeadLetterSettings()
    async with DeadLetterStore(settings) as store:
        if command == "list":
            _print_list(await store.read(service))
        else:
            await _replay(settings, store, service)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="broadsheet-dlq",
        description="Show the dead letters of the consumer groups, and replay them once their "
        "cause is fixed (KAFKA_BOOTSTRAP_SERVERS and KAFKA_TOPIC_PREFIX as for the services).",
    )
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument(
        "--service", help="only this service's consumer group (articles, comments, …)"
    )
    args = parser.parse_args(argv)
    asyncio.run(_run(args.command, args.service))
    return 0


if __name__ == "__main__":
    sys.exit(main())
