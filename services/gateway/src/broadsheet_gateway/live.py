"""Live updates' fan-out: each open article page listens on a queue; a newly approved, edited or
removed comment is put on the queues of its article's pages (``consumers.py`` feeds it,
``api.py`` streams).

Every update is also kept in a bounded replay buffer (the last ``size`` updates of any article):
a page that reconnects names the last update it saw (``Last-Event-ID``) and gets what it missed,
or, when that is no longer kept (or was another gateway process's), is told to reload.

Every open stream holds a connection, a task and a queue: the hub admits at most so many per
client and so many in all (``StreamLimits``), so one reader cannot hold the gateway's memory or
file descriptors."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
from collections import Counter, defaultdict, deque
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


class Update:
    """One live update: its id (``epoch.sequence``), the SSE event name, and its data, made
    when a page first needs it (most updates are of articles nobody has open)."""

    def __init__(self, id: str, event: str, make: Callable[[], dict[str, Any]]) -> None:
        self.id = id
        self.event = event
        self._make = make

    @functools.cached_property
    def data(self) -> dict[str, Any]:
        return self._make()


class ReplayBuffer:
    """The last ``size`` updates, numbered in order under this process's random epoch: an id
    from another process (or a restarted one) is never mistaken for one of ours."""

    def __init__(self, size: int, epoch: str | None = None) -> None:
        self._updates: deque[tuple[int, str, Update]] = deque()
        self._size = size
        self._epoch = epoch or secrets.token_hex(4)
        self._last = 0
        self._dropped_through = 0

    @property
    def last_id(self) -> str:
        return f"{self._epoch}.{self._last}"

    def add(self, slug: str, event: str, make: Callable[[], dict[str, Any]]) -> Update:
        self._last += 1
        update = Update(f"{self._epoch}.{self._last}", event, make)
        self._updates.append((self._last, slug, update))
        while len(self._updates) > self._size:
            self._dropped_through = self._updates.popleft()[0]
        return update

    def since(self, slug: str, last_event_id: str) -> list[Update] | None:
        """The updates of ``slug`` after ``last_event_id``, or None when they cannot be told:
        not an id of this process, or some updates after it are no longer kept."""
        epoch, _, number = last_event_id.partition(".")
        if epoch != self._epoch or not number.isdigit():
            return None
        seen = int(number)
        if seen > self._last or seen < self._dropped_through:
            return None
        return [update for n, s, update in self._updates if n > seen and s == slug]


class LiveHub:
    """Open article pages, by slug, each with a bounded queue of updates to push, and the
    replay buffer of recent updates."""

    def __init__(self, limits: StreamLimits, replay: ReplayBuffer, queue_size: int = 100) -> None:
        self._limits = limits
        self._queue_size = queue_size
        self._listeners: dict[str, set[asyncio.Queue[Update]]] = defaultdict(set)
        self._streams: Counter[str] = Counter()
        self.replay = replay

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
    def listen(self, slug: str) -> Iterator[asyncio.Queue[Update]]:
        queue: asyncio.Queue[Update] = asyncio.Queue(self._queue_size)
        self._listeners[slug].add(queue)
        try:
            yield queue
        finally:
            self._listeners[slug].discard(queue)
            if not self._listeners[slug]:
                del self._listeners[slug]

    def publish(self, slug: str, event: str, make: Callable[[], dict[str, Any]]) -> int:
        """Keep the update for replay and put it on the queues of the article's open pages
        (in one step, with no await: a page that starts listening sees it one way or the
        other, never both)."""
        update = self.replay.add(slug, event, make)
        delivered = 0
        for queue in list(self._listeners.get(slug, ())):
            try:
                queue.put_nowait(update)
                delivered += 1
            except asyncio.QueueFull:
                # A reader that stopped reading loses live updates, never the whole gateway.
                log.info("live listener too slow, dropping an update", slug=slug)
        return delivered
