"""Two real processes for the exactly-once test: a writer/relay and a consumer.

Run as ``python outbox_processes.py write|relay|consume`` with the environment the test sets.
Fault injection lives here, in the test's own process, never in production code: the relay can be
told to SIGKILL itself right after a batch was acknowledged by Kafka but before it was marked.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic_settings import SettingsConfigDict

from broadsheet_shared.events import ArticleData, ArticlePublishedV1, SectionRef
from broadsheet_shared.inbox import MongoInbox
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.mongo import Session
from broadsheet_shared.outbox import OutboxRelay, OutgoingMessage
from broadsheet_shared.runtime import ServiceRuntime
from broadsheet_shared.settings import DatabaseServiceSettings


class ProbeSettings(DatabaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROBE_", extra="ignore", frozen=True)
    service_name: str = "probe"


def article_event(n: int) -> ArticlePublishedV1:
    article_id = f"article-{n:05d}"
    return ArticlePublishedV1(
        subject=article_id,
        data=ArticleData(
            article_id=article_id,
            slug=f"story-{n}",
            title=f"Story {n}",
            section=SectionRef(slug="world", name="World"),
            url_path=f"/articles/story-{n}",
            comments_open=True,
            published_at=datetime.now(UTC),
            revision=1,
        ),
    )


async def write(count: int) -> None:
    """Each article row and its event commit together; nothing is published here."""
    runtime = ServiceRuntime(ProbeSettings(run_workers=False))
    for n in range(count):

        async def work(tx, n: int = n) -> None:  # type: ignore[no-untyped-def]
            await runtime.db["articles"].insert_one({"_id": n}, session=tx.session)
            tx.emit(article_event(n))

        await runtime.uow.run(work)
    await runtime.mongo.close()


class KillAfterSend:
    """Sends for real, then dies before the relay can mark the batch published."""

    def __init__(self, inner: object, batches_before_kill: int) -> None:
        self._inner = inner
        self._left = batches_before_kill

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> None:
        await self._inner.send_batch(messages)  # type: ignore[attr-defined]
        self._left -= 1
        if self._left == 0:
            os.kill(os.getpid(), signal.SIGKILL)


async def relay(kill_after_batches: int) -> None:
    runtime = ServiceRuntime(ProbeSettings(run_workers=False))
    await runtime.start()
    publisher = KillAfterSend(runtime.producer, kill_after_batches) if kill_after_batches else None
    relay = OutboxRelay(
        runtime.db,
        runtime.outbox,
        publisher or runtime.producer,
        service="probe",
        batch_size=25,
        lease_seconds=1.0,
    )
    # A killed relay's lease must run out first; then drain everything that is pending,
    # renewing the lease before each batch as the relay's loop does.
    while not await relay.hold_lease():
        await asyncio.sleep(0.2)
    while await relay.publish_pending():
        await relay.hold_lease()
    await runtime.stop()


async def consume(slow_ms: int) -> None:
    settings = ProbeSettings(service_name="probe-consumer")
    runtime = ServiceRuntime(settings)
    inbox = MongoInbox(runtime.mongo, runtime.db)
    router = EventRouter()

    @router.subscribe(ArticlePublishedV1)
    async def on_published(event: ArticlePublishedV1) -> None:
        # Counted outside the transaction: how often the event was delivered to the handler.
        await runtime.db["deliveries"].update_one(
            {"_id": str(event.id)}, {"$inc": {"n": 1}}, upsert=True
        )

        async def effects(session: Session) -> None:
            await runtime.db["effects"].update_one(
                {"_id": event.data.article_id},
                {"$inc": {"applied": 1}},
                upsert=True,
                session=session,
            )

        await inbox.handle_once("probe", event.id, effects)
        await asyncio.sleep(slow_ms / 1000)

    await runtime.start(router)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("consumer ready", flush=True)
    await stop.wait()
    await runtime.stop()


def main(argv: list[str]) -> None:
    command, number = argv[1], int(argv[2]) if len(argv) > 2 else 0
    runner = {"write": write, "relay": relay, "consume": consume}[command]
    asyncio.run(runner(number))


if __name__ == "__main__":
    main(sys.argv)
