"""The producer every service uses: acks=all and idempotence, so a retried send is not doubled."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from broadsheet_shared.events.base import IntegrationEvent
from broadsheet_shared.events.codec import encode_event
from broadsheet_shared.outbox import OutgoingMessage


class EventProducer:
    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            # Outbox batches arrive together: a few ms of linger packs them into one request.
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=15000,
            retry_backoff_ms=200,
        )
        self._started = False

    @property
    def raw(self) -> AIOKafkaProducer:
        return self._producer

    async def start(self) -> None:
        await self._producer.start()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            # stop() flushes what is buffered before closing.
            await self._producer.stop()
            self._started = False

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send in order and wait until the broker acknowledged every message."""
        futures = [
            await self._producer.send(m.topic, m.value, key=m.key, headers=m.headers)
            for m in messages
        ]
        await asyncio.gather(*futures)

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
