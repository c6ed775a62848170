"""Supervised background tasks: a loop that dies is started again, with backoff, and the
service reports itself not ready until it runs again.

Every loop a service runs besides its routes (the consumer, the outbox relay, schedulers,
delivery workers) already retries what it expects; what it does not expect (a dead-letter
publish that fails, a bug) ends it. Without supervision that end is one log line while
``/readyz`` stays green and the work silently stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from prometheus_client import Counter

log = structlog.get_logger(__name__)

TASK_RESTARTS = Counter(
    "broadsheet_task_restarts_total",
    "Background tasks started again after they failed or ended",
    ["service", "task"],
)

TaskFactory = Callable[[], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


class Supervisor:
    """Runs named loops; a loop that raises or returns is restarted after a backoff that
    doubles from ``initial_backoff`` up to ``max_backoff`` and starts over once the loop has
    run for ``healthy_after`` seconds. While a loop waits for its restart, :meth:`ready` is
    False."""

    def __init__(
        self,
        service: str,
        *,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        healthy_after: float = 60.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._service = service
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._healthy_after = healthy_after
        self._sleep = sleep
        self._tasks: list[asyncio.Task[None]] = []
        self._down: set[str] = set()
        self._stopping = False

    def spawn(self, name: str, factory: TaskFactory) -> None:
        """Run ``factory()`` now and again whenever it ends. A factory, not a coroutine: each
        restart needs a fresh one (and may build fresh clients in it)."""
        task = asyncio.create_task(self._supervise(name, factory), name=name)
        self._tasks.append(task)

    @property
    def down(self) -> frozenset[str]:
        """The loops that failed and wait for their restart."""
        return frozenset(self._down)

    async def ready(self) -> bool:
        return not self._down

    async def stop(self) -> None:
        # Also a flag, not only cancellation: a loop that stops itself when asked may end
        # (return) before the cancellation lands, and Python 3.11's wait_for can swallow a
        # cancellation that meets a completed wait. Neither may count as a death to restart.
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._down.clear()

    def backoff(self, failures: int) -> float:
        return float(min(self._initial_backoff * 2 ** (failures - 1), self._max_backoff))

    async def _supervise(self, name: str, factory: TaskFactory) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while not self._stopping:
            started = loop.time()
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = repr(exc)
            else:
                error = "returned"
            if self._stopping:
                return
            if loop.time() - started >= self._healthy_after:
                failures = 0
            failures += 1
            delay = self.backoff(failures)
            self._down.add(name)
            log.error("background task died", task=name, error=error, restart_in=delay)
            await self._sleep(delay)
            TASK_RESTARTS.labels(self._service, name).inc()
            self._down.discard(name)
            log.info("background task restarted", task=name, restarts=failures)
