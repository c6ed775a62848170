"""Live updates' fan-out: each open article page listens on a queue; a newly approved comment
is put on the queues of its article's pages (``consumers.py`` feeds it, ``api.py`` streams)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class LiveHub:
    """Open article pages, by slug, each with a bounded queue of new comments to push."""

    def __init__(self, queue_size: int = 100) -> None:
        self._queue_size = queue_size
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

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
