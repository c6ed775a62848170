"""Live updates: ``comment.approved``, ``comment.edited``, ``comment.rejected`` and
``comment.deleted`` from the comments topic, fanned out to open pages; those, ``comment.imported``
and the articles topic's ``article.updated``, ``article.unpublished`` and ``article.deleted``
(both versions) also drop the article's kept pages (``page_cache.py``).

Every gateway replica must see every change, so the feed reads without a consumer group, from
the latest offset, and commits nothing: a page only wants changes made while it is open, and one
that reconnects gets what it missed from the hub's replay buffer (or is told to reload). The
kept pages are used only while the feed is connected, and dropped whenever it (re)connects.

Events: ``comment`` (``{id, parent_id, depth, html}``, a new comment as the page renders it),
``edit`` (``{id, body_html}``, cleaned) and ``remove`` (``{id}``: deleted, rejected, or edited
into the moderation queue, whose text is not public).
"""

from __future__ import annotations

import asyncio
import contextlib
import html

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from broadsheet_gateway.live import LiveHub
from broadsheet_gateway.page_cache import PageCache
from broadsheet_gateway.render import CommentRenderer, clean
from broadsheet_shared.events.articles import (
    ArticleDeletedV1,
    ArticleDeletedV2,
    ArticleUnpublishedV1,
    ArticleUnpublishedV2,
    ArticleUpdatedV1,
)
from broadsheet_shared.events.codec import EventDecodeError, decode_event
from broadsheet_shared.events.comments import (
    CommentApprovedV1,
    CommentDeletedV1,
    CommentEditedV1,
    CommentImportedV1,
    CommentRejectedV1,
)
from broadsheet_shared.kafka.admin import ensure_topics
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.waiting import wait_until_set

log = structlog.get_logger(__name__)


def _remove(hub: LiveHub, slug: str | None, comment_id: str) -> None:
    if slug is not None:  # None: sent before these events named the slug, no page to tell
        hub.publish(slug, "remove", lambda: {"id": comment_id})


def build_router(hub: LiveHub, comments: CommentRenderer, pages: PageCache) -> EventRouter:
    router = EventRouter()

    @router.subscribe(CommentApprovedV1)
    async def push_approved_comment(event: CommentApprovedV1) -> None:
        data = event.data
        pages.invalidate([data.article_slug])
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
            "avatar": data.author_avatar,
        }
        hub.publish(
            data.article_slug,
            "comment",
            # Rendered only once a page streams it, now or when one reconnects.
            lambda: {
                "id": data.comment_id,
                "parent_id": data.parent_id,
                "depth": data.depth,
                "html": comments.item(comment, data.article_slug, can_reply=True),
            },
        )

    @router.subscribe(CommentEditedV1)
    async def push_edited_comment(event: CommentEditedV1) -> None:
        data = event.data
        pages.invalidate([data.article_slug])
        if data.article_slug is None:
            return  # sent before these events named the slug: no page to tell
        if data.body_html:
            hub.publish(
                data.article_slug,
                "edit",
                lambda: {"id": data.comment_id, "body_html": str(clean(data.body_html))},
            )
        else:
            # Edited into the moderation queue: out of the thread until approved again.
            _remove(hub, data.article_slug, data.comment_id)

    @router.subscribe(CommentRejectedV1)
    async def push_rejected_comment(event: CommentRejectedV1) -> None:
        pages.invalidate([event.data.article_slug])
        _remove(hub, event.data.article_slug, event.data.comment_id)

    @router.subscribe(CommentDeletedV1)
    async def push_deleted_comment(event: CommentDeletedV1) -> None:
        pages.invalidate([event.data.article_slug])
        _remove(hub, event.data.article_slug, event.data.comment_id)

    @router.subscribe(CommentImportedV1)
    async def drop_pages_of_imported_comment(event: CommentImportedV1) -> None:
        pages.invalidate([event.data.article_slug])

    @router.subscribe(ArticleUpdatedV1)
    async def drop_pages_of_updated_article(event: ArticleUpdatedV1) -> None:
        # Under an old slug the article is now a redirect.
        pages.invalidate([event.data.slug, *event.data.previous_slugs])

    # Whatever their version or revision: dropping a kept page is never wrong, however late
    # (the next reader's request renders what the services hold now).
    async def drop_pages_of_withdrawn_article(
        event: ArticleUnpublishedV1 | ArticleDeletedV1 | ArticleUnpublishedV2 | ArticleDeletedV2,
    ) -> None:
        pages.invalidate([event.data.slug])

    router.subscribe(ArticleUnpublishedV1)(drop_pages_of_withdrawn_article)
    router.subscribe(ArticleDeletedV1)(drop_pages_of_withdrawn_article)
    router.subscribe(ArticleUnpublishedV2)(drop_pages_of_withdrawn_article)
    router.subscribe(ArticleDeletedV2)(drop_pages_of_withdrawn_article)

    return router


class LiveFeed:
    def __init__(
        self,
        bootstrap_servers: str,
        topics: list[str],
        router: EventRouter,
        pages: PageCache,
        replication_factor: int = 1,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._topics = topics
        self._replication_factor = replication_factor
        self._router = router
        self._pages = pages
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
                self._pages.close()
                await self._close()
                await wait_until_set(self._stopping, 2.0)

    async def _consume(self) -> None:
        await ensure_topics(
            self._bootstrap, self._topics, replication_factor=self._replication_factor
        )
        consumer = AIOKafkaConsumer(
            *self._topics,
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
        # From here every change is seen: pages kept before may have missed some.
        self._pages.open()
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
        self._pages.close()
        await self._close()
