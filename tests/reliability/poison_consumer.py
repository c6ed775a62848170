"""A consumer for the poison-event scenario, run as ``python poison_consumer.py``.

It is the real consumer runner (``ServiceRuntime``: retries, backoff, dead letters) with a handler
of article events that always fails for an article listed in its database's ``broken``
collection, the "bug" the test fixes before replaying. Every other event is counted with the time
it was handled, so the test can tell how long the poison delayed the events behind it.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime

from outbox_processes import ProbeSettings

from broadsheet_shared.events import ArticlePublishedV1
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.runtime import ServiceRuntime


async def consume() -> None:
    runtime = ServiceRuntime(ProbeSettings(service_name="poison-consumer"))
    router = EventRouter()

    @router.subscribe(ArticlePublishedV1)
    async def on_published(event: ArticlePublishedV1) -> None:
        article_id = event.data.article_id
        if await runtime.db["broken"].find_one({"_id": article_id}):
            raise RuntimeError(f"the handler cannot take {article_id} (the test's bug)")
        await runtime.db["handled"].update_one(
            {"_id": str(event.id)},
            {
                "$inc": {"n": 1},
                "$set": {"article_id": article_id},
                "$min": {"handled_at": datetime.now(UTC)},
            },
            upsert=True,
        )

    await runtime.start(router)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("consumer ready", flush=True)
    await stop.wait()
    await runtime.stop()


if __name__ == "__main__":
    asyncio.run(consume())
