"""Live updates: ``comment.approved`` from the comments topic, fanned out to open pages.

Every gateway replica must see every approved comment, so the feed reads without a consumer
group, from the latest offset, and commits nothing: a page only wants comments approved while
it is open, and one that reconnects reloads the thread anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import html

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from broadsheet_gateway.live import LiveHub
from broadsheet_gateway.render import CommentRenderer
from broadsheet_shared.events.codec import EventDecodeError, decode_event
from broadsheet_shared.events.comments import CommentApprovedV1
from broadsheet_shared.kafka.admin import ensure_topics
from broadsheet_shared.kafka.router import EventRouter

log = structlog.get_logger(__name__)


def build_router(hub: LiveHub, comments: CommentRenderer) -> EventRouter:
    router = EventRouter()

    @router.subscribe(CommentApprovedV1)
    async def push_approved_comment(event: CommentApprovedV1) -> None:
        data = event.data
        if not hub.listeners(data.article_slug):
            return  # no page of the article is open: nothing to render
        # Depth and in_reply_to are shown as the comments service gives them (it owns the
        # display-depth rule), exactly as on the page the reader loaded.
        comment = {
            "id": data.comment_id,
            "parent_id": data.parent_id,
            "depth": data.depth,
            "author_name": data.author_name,
            "body_html": data.body_html or f"<p>{html.escape(data.excerpt, quote=False)}</p>",
            "created_at": data.created_at.isoformat(),
            "edited": False,
            "in_reply_to": data.in_reply_to,
        }
        hub.publish(
            data.article_slug,
            {
                "id": data.comment_id,
                "parent_id": data.parent_id,
                "depth": data.depth,
                "html": comments.item(comment, data.article_slug, can_reply=True),
            },
        )

    return router


class LiveFeed:
    def __init__(self, bootstrap_servers: str, topic: str, router: EventRouter) -> None:
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._router = router
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self.assigned = asyncio.Event()

    async def run(self) -> None:
        """Consume until stopped; a broker outage is waited out, never fatal to the gateway."""
        while not self._stopping.is_set():
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live feed interrupted, reconnecting", error=repr(exc))
                await self._close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 2.0)

    async def _consume(self) -> None:
        await ensure_topics(self._bootstrap, [self._topic])
        consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        self._consumer = consumer
        await consumer.start()
        # Without a group every partition is assigned once metadata arrives. Resolve the end
        # offsets right away, so that whatever is published from here on is seen (a lazy
        # position could skip the first messages).
        async with asyncio.timeout(30):
            while not consumer.assignment():
                await asyncio.sleep(0.05)
        for tp in consumer.assignment():
            await consumer.position(tp)
        self.assigned.set()
        while not self._stopping.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=500)
            except KafkaError as exc:
                log.warning("live feed poll failed", error=repr(exc))
                await asyncio.sleep(1)
                continue
            for records in batches.values():
                for record in records:
                    try:
                        event = decode_event(record.value, list(record.headers or ()))
                    except EventDecodeError:
                        continue
                    if self._router.handles(event):
                        try:
                            await self._router.dispatch(event)
                        except Exception as exc:
                            log.warning("live update failed", error=repr(exc))

    async def _close(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None

    async def stop(self) -> None:
        self._stopping.set()
        await self._close()
