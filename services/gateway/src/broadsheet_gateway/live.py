"""Live updates' fan-out: each open article page listens on a queue; a newly approved comment
is put on the queues of its article's pages (``consumers.py`` feeds it, ``api.py`` streams).

Every open stream holds a connection, a task and a queue: the hub admits at most so many per
client and so many in all (``StreamLimits``), so one reader cannot hold the gateway's memory or
file descriptors."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class StreamLimits:
    per_client: int
    total: int


class TooManyStreams(Exception):
    """No stream admitted: ``per_client`` says whether this client's share or the total is
    spent."""

    def __init__(self, per_client: bool) -> None:
        super().__init__("too many live streams")
        self.per_client = per_client


class LiveHub:
    """Open article pages, by slug, each with a bounded queue of new comments to push."""

    def __init__(self, limits: StreamLimits, queue_size: int = 100) -> None:
        self._limits = limits
        self._queue_size = queue_size
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._streams: Counter[str] = Counter()

    @property
    def open_streams(self) -> int:
        return self._streams.total()

    def admit(self, client: str) -> Callable[[], None]:
        """Count one more stream for ``client``, or raise ``TooManyStreams``; the caller must
        call what this returns once the stream ends, however it ends."""
        if self._streams[client] >= self._limits.per_client:
            raise TooManyStreams(per_client=True)
        if self.open_streams >= self._limits.total:
            raise TooManyStreams(per_client=False)
        self._streams[client] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._streams[client] -= 1
                if not self._streams[client]:
                    del self._streams[client]

        return release

    def listeners(self, slug: str) -> int:
        return len(self._listeners.get(slug, ()))

    @contextlib.contextmanager
    def listen(self, slug: str) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._listeners[slug].add(queue)
        try:
            yield queue
        finally:
            self._listeners[slug].discard(queue)
            if not self._listeners[slug]:
                del self._listeners[slug]

    def publish(self, slug: str, message: dict[str, Any]) -> int:
        delivered = 0
        for queue in list(self._listeners.get(slug, ())):
            try:
                queue.put_nowait(message)
                delivered += 1
            except asyncio.QueueFull:
                # A reader that stopped reading loses live updates, never the whole gateway.
                log.info("live listener too slow, dropping an update", slug=slug)
        return delivered
