"""Client addresses stored with comments expire: a periodic sweep forgets the address of every
comment older than the retention (``COMMENTS_CLIENT_ADDRESS_RETENTION_SECONDS``, 30 days).

The address is kept that long for moderation (client bans, spotting a flood) and is personal
data beyond that. A sweep rather than a TTL index: a TTL index deletes whole documents, and the
comment itself must stay. Any replica may sweep at any time: forgetting is idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from broadsheet_shared.clock import Clock, utcnow

log = structlog.get_logger(__name__)


class ClientAddresses(Protocol):
    async def forget_clients_before(self, cutoff: datetime) -> int:
        """Remove the client address of every comment created before ``cutoff``; how many."""
        ...


class ClientAddressExpiry:
    def __init__(
        self,
        comments: ClientAddresses,
        retention: timedelta,
        *,
        clock: Clock = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._comments = comments
        self._retention = retention
        self._clock = clock
        self._sleep = sleep

    async def sweep(self) -> int:
        forgotten = await self._comments.forget_clients_before(self._clock() - self._retention)
        if forgotten:
            log.info("client addresses expired", comments=forgotten)
        return forgotten

    async def run(self, interval_seconds: float) -> None:
        """Sweep every ``interval_seconds``, supervised by the service runtime: a failed sweep
        ends the loop, which the supervisor restarts (and reports) with backoff."""
        while True:
            await self.sweep()
            await self._sleep(interval_seconds)
