"""What every service runs besides its routes: the database client, the producer, the outbox
relay and the event consumers, started and stopped in the right order.

A service's ``bootstrap`` builds one :class:`ServiceRuntime`, wires its use cases to
``runtime.db``/``runtime.uow``, and hands its :class:`EventRouter` to :meth:`start`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

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
from broadsheet_shared.supervisor import Supervisor, TaskFactory
from broadsheet_shared.unit_of_work import MongoUnitOfWork

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
        self.producer = EventProducer(
            settings.kafka_bootstrap_servers,
            settings.service_name,
            timeout=settings.kafka_producer_timeout_seconds,
        )
        self._indexes = [*OUTBOX_INDEXES, *INBOX_INDEXES, *RATE_LIMIT_INDEXES, *indexes]
        self._retry = retry
        self._relay: OutboxRelay | None = None
        self._consumer: ConsumerRunner | None = None
        self.supervisor = Supervisor(settings.service_name)

    @property
    def dead_letter_topic(self) -> str:
        return topics.dead_letter_topic(self.settings.consumer_group)

    async def start(self, router: EventRouter | None = None) -> None:
        await ensure_indexes(self.db, self._indexes)
        consumed = sorted(self.settings.topic(name) for name in (router.topics if router else ()))
        await ensure_topics(
            self.settings.kafka_bootstrap_servers,
            [*(self.settings.topic(name) for name in topics.ALL), self.dead_letter_topic],
            configs={self.settings.topic(name): cfg for name, cfg in topics.CONFIGS.items()},
            replication_factor=self.settings.kafka_replication_factor,
        )
        await self.producer.start()
        if not self.settings.run_workers:
            return
        self._relay = OutboxRelay(
            self.db,
            self.outbox,
            self.producer,
            service=self.settings.service_name,
            lease_seconds=self.settings.outbox_lease_seconds,
            max_refusals=self.settings.outbox_max_refusals,
        )
        self.supervisor.spawn("outbox-relay", self._relay.run)
        if router is not None and consumed:
            self.supervisor.spawn("consumer", lambda: self._consume(router, consumed))

    async def _consume(self, router: EventRouter, consumed: list[str]) -> None:
        """One consumer's life. A fresh one on every (re)start: a consumer that died mid-batch
        has fetched past what it handled, and only a new member resumes from the committed
        offsets, so nothing is skipped."""
        consumer = ConsumerRunner(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.settings.consumer_group,
            topics=consumed,
            router=router,
            producer=self.producer,
            dead_letter_topic=self.dead_letter_topic,
            retry=self._retry,
        )
        self._consumer = consumer
        try:
            await consumer.start()
            await consumer.run()
        finally:
            await consumer.stop()

    def add_task(self, name: str, factory: TaskFactory) -> None:
        """A background loop owned by the service (a scheduler, a delivery worker), supervised:
        restarted with backoff when it dies, the service not ready meanwhile."""
        self.supervisor.spawn(name, factory)

    async def stop(self) -> None:
        if self._relay is not None:
            self._relay.stop()
        if self._consumer is not None:
            self._consumer.request_stop()
        await self.supervisor.stop()
        await self.producer.stop()
        await self.mongo.close()

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        async def mongo() -> bool:
            return await ping(self.mongo)

        return {"mongo": mongo, "kafka": self.producer.ready, "tasks": self.supervisor.ready}
