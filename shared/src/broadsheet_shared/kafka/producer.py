"""The producer every service uses: acks=all and idempotence, so a retried send is not doubled."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)

from broadsheet_shared.events.base import IntegrationEvent
from broadsheet_shared.events.codec import encode_event
from broadsheet_shared.outbox import MessageRefused, OutgoingMessage

# What the broker (or the client, before sending) answers about the message itself: sending it
# again gets the same answer. Everything else (timeouts, lost connections, leader changes) may
# pass and is retried as it is.
_REFUSED: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
)


class EventProducer:
    def __init__(self, bootstrap_servers: str, client_id: str, timeout: float = 15.0) -> None:
        self._timeout = timeout
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            # Outbox batches arrive together: a few ms of linger packs them into one request.
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=int(timeout * 1000),
            retry_backoff_ms=200,
        )

    @property
    def raw(self) -> AIOKafkaProducer:
        return self._producer

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        # stop() flushes what is buffered before closing. It is idempotent, and needed even
        # when never started: the client exists from construction on and warns when left open.
        await self._producer.stop()

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send in order and wait until the broker acknowledged every message, for at most the
        producer timeout. A message refused for good raises :class:`MessageRefused` once every
        message before it is acknowledged."""
        await asyncio.wait_for(self._send_batch(messages), self._timeout)

    async def _send_batch(self, messages: Sequence[OutgoingMessage]) -> None:
        futures: list[asyncio.Future[object]] = []
        refused: MessageRefused | None = None
        for index, m in enumerate(messages):
            try:
                future = await self._producer.send(m.topic, m.value, key=m.key, headers=m.headers)
            except _REFUSED as exc:
                refused = MessageRefused(index, exc)
                break
            futures.append(future)
        results = await asyncio.gather(*futures, return_exceptions=True)
        for index, result in enumerate(results):
            if isinstance(result, _REFUSED):
                raise MessageRefused(index, result)
            if isinstance(result, BaseException):
                raise result
        if refused is not None:
            raise refused

    async def publish(self, event: IntegrationEvent, topic: str) -> None:
        """Publish directly, outside any outbox (for events with no state change behind them)."""
        key, value, headers = encode_event(event)
        await self._producer.send_and_wait(topic, value, key=key, headers=headers)

    async def ready(self, timeout: float = 2.0) -> bool:
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)
        except Exception:
            return False
        return True
