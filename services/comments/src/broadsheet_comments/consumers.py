"""Article events → this service's article projection. Each handler runs once per event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID

from broadsheet_comments.service import ArticleProjection
from broadsheet_shared.events import (
    ArticleDeletedV1,
    ArticlePublishedV1,
    ArticleUnpublishedV1,
    ArticleUpdatedV1,
)
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.mongo import Session

Effects = Callable[[Session], Awaitable[None]]
# handle_once bound to the service's database: (handler name, event id, effects) -> ran?
# (The type: ignores go once broadsheet_shared ships a py.typed marker.)
Once = Callable[[str, UUID, Effects], Awaitable[bool]]


def build_router(projection: ArticleProjection, once: Once) -> EventRouter:
    router = EventRouter()

    @router.subscribe(ArticlePublishedV1)  # type: ignore[untyped-decorator,unused-ignore]
    async def article_published(event: ArticlePublishedV1) -> None:
        async def effects(session: Session) -> None:
            await projection.published(event.data, session)

        await once("article_published", event.id, effects)

    @router.subscribe(ArticleUpdatedV1)  # type: ignore[untyped-decorator,unused-ignore]
    async def article_updated(event: ArticleUpdatedV1) -> None:
        async def effects(session: Session) -> None:
            await projection.updated(event.data, session)

        await once("article_updated", event.id, effects)

    @router.subscribe(ArticleUnpublishedV1)  # type: ignore[untyped-decorator,unused-ignore]
    async def article_unpublished(event: ArticleUnpublishedV1) -> None:
        async def effects(session: Session) -> None:
            await projection.unpublished(event.data, session)

        await once("article_unpublished", event.id, effects)

    @router.subscribe(ArticleDeletedV1)  # type: ignore[untyped-decorator,unused-ignore]
    async def article_deleted(event: ArticleDeletedV1) -> None:
        async def effects(session: Session) -> None:
            await projection.deleted(event.data, session)

        await once("article_deleted", event.id, effects)

    return router
