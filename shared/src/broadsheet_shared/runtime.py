"""What every service runs besides its routes: the database client, the producer, the outbox
relay and the event consumers, started and stopped in the right order.

A service's ``bootstrap`` builds one :class:`ServiceRuntime`, wires its use cases to
``runtime.db``/``runtime.uow``, and hands its :class:`EventRouter` to :meth:`start`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import structlog

from broadsheet_shared.events import topics
from broadsheet_shared.inbox import INBOX_INDEXES
from broadsheet_shared.kafka.admin import ensure_topics
from broadsheet_shared.kafka.consumer import ConsumerRunner, RetryPolicy
from broadsheet_shared.kafka.producer import EventProducer
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.mongo import (
    IndexSpec,
    create_mongo_client,
    ensure_indexes,
    ping,
    service_database,
)
from broadsheet_shared.outbox import OUTBOX_INDEXES, Outbox, OutboxRelay
from broadsheet_shared.ratelimit import RATE_LIMIT_INDEXES
from broadsheet_shared.settings import DatabaseServiceSettings
from broadsheet_shared.unit_of_work import MongoUnitOfWork

log = structlog.get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]


class ServiceRuntime:
    def __init__(
        self,
        settings: DatabaseServiceSettings,
        *,
        indexes: Sequence[IndexSpec] = (),
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.mongo = create_mongo_client(settings)
        self.db = service_database(self.mongo, settings)
        self.outbox = Outbox(self.db, settings.topic)
        self.uow = MongoUnitOfWork(self.mongo, self.outbox)
        self.producer = EventProducer(settings.kafka_bootstrap_servers, settings.service_name)
        self._indexes = [*OUTBOX_INDEXES, *INBOX_INDEXES, *RATE_LIMIT_INDEXES, *indexes]
        self._retry = retry
        self._relay: OutboxRelay | None = None
        self._consumer: ConsumerRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def dead_letter_topic(self) -> str:
        return topics.dead_letter_topic(self.settings.consumer_group)

    async def start(self, router: EventRouter | None = None) -> None:
        await ensure_indexes(self.db, self._indexes)
        consumed = sorted(self.settings.topic(name) for name in (router.topics if router else ()))
        await ensure_topics(
            self.settings.kafka_bootstrap_servers,
            [*(self.settings.topic(name) for name in topics.ALL), self.dead_letter_topic],
        )
        await self.producer.start()
        if not self.settings.run_workers:
            return
        self._relay = OutboxRelay(
            self.db, self.outbox, self.producer, service=self.settings.service_name
        )
        self._tasks.append(asyncio.create_task(self._relay.run(), name="outbox-relay"))
        if router is not None and consumed:
            self._consumer = ConsumerRunner(
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                group_id=self.settings.consumer_group,
                topics=consumed,
                router=router,
                producer=self.producer,
                dead_letter_topic=self.dead_letter_topic,
                retry=self._retry,
            )
            await self._consumer.start()
            self._tasks.append(asyncio.create_task(self._consumer.run(), name="consumer"))
        for task in self._tasks:
            task.add_done_callback(_log_task_end)

    def add_task(self, coro: Awaitable[None], name: str) -> None:
        """A background loop owned by the service (a scheduler, a delivery worker)."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        task.add_done_callback(_log_task_end)
        self._tasks.append(task)

    async def stop(self) -> None:
        if self._relay is not None:
            self._relay.stop()
        if self._consumer is not None:
            self._consumer.request_stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._consumer is not None:
            await self._consumer.stop()
        await self.producer.stop()
        await self.mongo.close()

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        async def mongo() -> bool:
            return await ping(self.mongo)

        return {"mongo": mongo, "kafka": self.producer.ready}


def _log_task_end(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background task died", task=task.get_name(), error=repr(exc))
