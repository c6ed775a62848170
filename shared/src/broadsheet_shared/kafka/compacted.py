"""Reading a compacted topic to its end: every key's latest record, for rebuilding a projection.

Not a consumer group: the reader assigns itself every partition, starts at the beginning, and
commits nothing, so any number of readers (a rebuild, a replica starting up) run side by side
without disturbing the services' groups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition


class CompactedTopicReader:
    """``async with reader: await reader.read()`` → the records from the beginning up to the
    topic's end as it was when the read began; each later :meth:`read` continues from there to
    the end as it is then."""

    def __init__(
        self, bootstrap_servers: str, topic: str, *, client_id: str, timeout: float = 30.0
    ) -> None:
        self._topic = topic
        self._timeout = timeout
        # Subscribed without a group: the client assigns itself every partition of the topic.
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=int(timeout * 1000),
        )
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> CompactedTopicReader:
        await asyncio.wait_for(self._consumer.start(), self._timeout)
        try:
            self._partitions = await asyncio.wait_for(self._assignment(), self._timeout)
            await self._consumer.seek_to_beginning(*self._partitions)
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def _assignment(self) -> list[TopicPartition]:
        # Known once the topic's metadata arrived: a topic created a moment ago (a service's
        # first start) may take a few refreshes to show its partitions.
        while not self._consumer.assignment():
            await asyncio.sleep(0.1)
        return sorted(self._consumer.assignment())

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._consumer.stop()

    async def read(self) -> list[tuple[bytes, bytes | None]]:
        """(key, value) of every record up to (at least) the end as it is now, in order per
        partition; a None value is a tombstone. Raises TimeoutError when the broker sends
        nothing for ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        ends = await asyncio.wait_for(self._consumer.end_offsets(self._partitions), self._timeout)
        pending = await self._behind(ends, self._partitions)
        records: list[tuple[bytes, bytes | None]] = []
        deadline = loop.time() + self._timeout
        while pending:
            batches = await self._consumer.getmany(*pending, timeout_ms=500)
            for batch in batches.values():
                records.extend((record.key or b"", record.value) for record in batch)
            if batches:
                deadline = loop.time() + self._timeout
            elif loop.time() > deadline:
                raise TimeoutError(f"{self._topic}: nothing read for {self._timeout:g} s")
            pending = await self._behind(ends, pending)
        return records

    async def _behind(
        self, ends: dict[TopicPartition, int], partitions: Iterable[TopicPartition]
    ) -> list[TopicPartition]:
        # Compaction leaves gaps in the offsets: a partition is done once its position
        # reaches the end, whatever the offset of its last record.
        return [tp for tp in partitions if await self._consumer.position(tp) < ends[tp]]
