"""Article events → this service's article projection (each handler runs once per event);
staff account changes → the staff-access projection; a reader's erasure → their comments
"[deleted]" in place (idempotent by itself: erased comments no longer carry the digest)."""

from __future__ import annotations

from functools import partial

from broadsheet_comments.mydata import ReaderData
from broadsheet_comments.projection import ArticleProjection
from broadsheet_shared.events import (
    ArticleDeletedV1,
    ArticleDeletedV2,
    ArticlePublishedV1,
    ArticleUnpublishedV1,
    ArticleUnpublishedV2,
    ArticleUpdatedV1,
    ReaderErasedV1,
)
from broadsheet_shared.inbox import Inbox
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.staff_access import StaffAccessProjection, subscribe_staff_access


def build_router(
    projection: ArticleProjection,
    inbox: Inbox,
    staff_access: StaffAccessProjection,
    reader_data: ReaderData,
) -> EventRouter:
    router = EventRouter()
    subscribe_staff_access(router, staff_access)

    @router.subscribe(ReaderErasedV1)
    async def reader_erased(event: ReaderErasedV1) -> None:
        await reader_data.erase(event.data.address_digest)

    @router.subscribe(ArticlePublishedV1)
    async def article_published(event: ArticlePublishedV1) -> None:
        effects = partial(projection.published, event.data)
        await inbox.handle_once("article_published", event.id, effects)

    @router.subscribe(ArticleUpdatedV1)
    async def article_updated(event: ArticleUpdatedV1) -> None:
        effects = partial(projection.updated, event.data)
        await inbox.handle_once("article_updated", event.id, effects)

    @router.subscribe(ArticleUnpublishedV1)
    async def article_unpublished(event: ArticleUnpublishedV1) -> None:
        effects = partial(projection.unpublished, event.data)
        await inbox.handle_once("article_unpublished", event.id, effects)

    @router.subscribe(ArticleDeletedV1)
    async def article_deleted(event: ArticleDeletedV1) -> None:
        effects = partial(projection.deleted, event.data)
        await inbox.handle_once("article_deleted", event.id, effects)

    # Version 2 carries the change's revision: the projection orders it among the publications.
    @router.subscribe(ArticleUnpublishedV2)
    async def article_unpublished_at(event: ArticleUnpublishedV2) -> None:
        effects = partial(projection.unpublished_at, event.data)
        await inbox.handle_once("article_unpublished", event.id, effects)

    @router.subscribe(ArticleDeletedV2)
    async def article_deleted_at(event: ArticleDeletedV2) -> None:
        effects = partial(projection.deleted_at, event.data)
        await inbox.handle_once("article_deleted", event.id, effects)

    return router
