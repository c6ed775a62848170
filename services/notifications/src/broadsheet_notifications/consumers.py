"""Event handlers: thin adapters from typed events to the planner, each run exactly once."""

from __future__ import annotations

from collections.abc import Callable

from broadsheet_notifications.planner import Planner, asks_for_replies
from broadsheet_shared.events import (
    ArticleDeletedV1,
    ArticleDeletedV2,
    ArticlePublishedV1,
    ArticleUnpublishedV1,
    ArticleUnpublishedV2,
    ArticleUpdatedV1,
    CommentApprovedV1,
    CommentDeletedV1,
    CommentPostedV1,
    CommentRejectedV1,
    StaffPasswordLinkIssuedV1,
)
from broadsheet_shared.inbox import Inbox
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.mongo import Session
from broadsheet_shared.staff_access import StaffAccessProjection, subscribe_staff_access


def build_router(
    planner: Planner,
    inbox: Inbox,
    on_queued: Callable[[], None],
    staff_access: StaffAccessProjection,
) -> EventRouter:
    router = EventRouter()
    # Staff account changes → the staff-access projection (latest change wins).
    subscribe_staff_access(router, staff_access)

    # The article projection is a plain upsert of the latest state: replaying it is harmless.
    @router.subscribe(ArticlePublishedV1)
    async def article_published(event: ArticlePublishedV1) -> None:
        await planner.article_changed(event.data)

    @router.subscribe(ArticleUpdatedV1)
    async def article_updated(event: ArticleUpdatedV1) -> None:
        await planner.article_changed(event.data)

    @router.subscribe(ArticleUnpublishedV1)
    async def article_unpublished(event: ArticleUnpublishedV1) -> None:
        await planner.article_gone(event.data.article_id)

    @router.subscribe(ArticleDeletedV1)
    async def article_deleted(event: ArticleDeletedV1) -> None:
        await planner.article_gone(event.data.article_id)

    # Version 2 carries the change's revision: ordered among the publications by it.
    async def article_withdrawn(event: ArticleUnpublishedV2 | ArticleDeletedV2) -> None:
        await planner.article_withdrawn(event.data)

    router.subscribe(ArticleUnpublishedV2)(article_withdrawn)
    router.subscribe(ArticleDeletedV2)(article_withdrawn)

    @router.subscribe(CommentPostedV1)
    async def comment_posted(event: CommentPostedV1) -> None:
        # Most comments ask for nothing: nothing to do, so no inbox row and no transaction to
        # remember doing it (of the two this service would commit per published comment).
        if not asks_for_replies(event.data):
            return

        async def effects(session: Session) -> None:
            await planner.comment_posted(event.data, session)

        if await inbox.handle_once("comment_posted", str(event.id), effects):
            on_queued()

    @router.subscribe(CommentApprovedV1)
    async def comment_approved(event: CommentApprovedV1) -> None:
        async def effects(session: Session) -> None:
            await planner.comment_approved(str(event.id), event.data, session)

        if await inbox.handle_once("comment_approved", str(event.id), effects):
            on_queued()

    @router.subscribe(CommentRejectedV1)
    async def comment_rejected(event: CommentRejectedV1) -> None:
        async def effects(session: Session) -> None:
            await planner.comment_withdrawn(event.data.comment_id, session)

        await inbox.handle_once("comment_rejected", str(event.id), effects)

    @router.subscribe(CommentDeletedV1)
    async def comment_deleted(event: CommentDeletedV1) -> None:
        async def effects(session: Session) -> None:
            await planner.comment_withdrawn(event.data.comment_id, session)

        await inbox.handle_once("comment_deleted", str(event.id), effects)

    @router.subscribe(StaffPasswordLinkIssuedV1)
    async def staff_password_link(event: StaffPasswordLinkIssuedV1) -> None:
        async def effects(session: Session) -> None:
            await planner.staff_password_link(str(event.id), event.data, session)

        if await inbox.handle_once("staff_password_link", str(event.id), effects):
            on_queued()

    return router
