"""The import use case: comments brought over from WordPress by staff (``broadsheet-import``).

Imported comments are history: none of the reader rules (limits, anti-spam, closed comments,
premoderation) apply, their dates are kept, and they are announced by ``comment.imported``
only, which sends no mail, creates no subscription and pushes no live update.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from broadsheet_comments.commands import ImportComment
from broadsheet_comments.domain import Comment, body_fingerprint
from broadsheet_comments.events import imported_event
from broadsheet_comments.placement import ThreadWriter, unknown_parent
from broadsheet_comments.rendering import plain_name, render_body
from broadsheet_comments.repository import (
    ArticleRepository,
    CommentRepository,
    ImportRecord,
    ImportRepository,
)
from broadsheet_shared.addresses import AddressDigest, normalize_email
from broadsheet_shared.errors import NotFound
from broadsheet_shared.unit_of_work import Transaction, UnitOfWork


class ImportOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Imported:
    comment: Comment
    outcome: ImportOutcome


class ArticleNotVisible(NotFound):
    """The article is not (yet) in this service's projection: it learns of articles from their
    ``article.published`` events, a moment after the articles service stored them. The
    importer retries on this 404; it is the only one with this problem type."""

    problem_type = "/problems/article-not-visible"

    def __init__(self) -> None:
        super().__init__("This service does not know the article (yet): retry in a moment.")


class ImportService:
    def __init__(
        self,
        *,
        articles: ArticleRepository,
        comments: CommentRepository,
        imports: ImportRepository,
        uow: UnitOfWork,
        digest: AddressDigest,
    ) -> None:
        self._articles = articles
        self._comments = comments
        self._imports = imports
        self._uow = uow
        self._digest = digest
        self._threads = ThreadWriter(articles, comments)

    async def import_comment(self, command: ImportComment) -> Imported:
        """Create or update the comment imported as (source, WordPress id), through the same
        thread placement and counts as posting; announced by ``comment.imported`` only (no
        mail, no subscription, no live update). An updated comment keeps its thread place."""
        known = await self._imports.get(command.source, command.wordpress_id)
        existing = await self._comments.get(known.comment_id) if known else None
        if known is not None and existing is not None and known.fingerprint == command.fingerprint:
            return Imported(existing, ImportOutcome.UNCHANGED)
        article = await self._articles.by_id(command.article_id)
        if article is None or not article.published:
            raise ArticleNotVisible
        email = normalize_email(command.author_email) if command.author_email else None
        fields: dict[str, Any] = {
            "author_name": plain_name(command.author_name) or "Anonymous",
            "author_email": email,
            "author_email_hash": self._digest(email) if email else None,
            "body_markdown": command.body,
            "body_html": render_body(command.body),
            "body_hash": body_fingerprint(command.body),
            "status": command.status,
            "created_at": command.created_at,
            "approved_at": command.created_at if command.status == "approved" else None,
            "wordpress_id": command.wordpress_id,
        }
        record = ImportRecord(command.source, command.wordpress_id, "", command.fingerprint)
        if existing is not None:
            changed = replace(existing, **fields)

            async def update(tx: Transaction) -> Imported:
                current, stored = await self._threads.save_if_status_unchanged(
                    existing, changed, tx
                )
                await self._threads.update_subtree_and_counts(current, stored, tx)
                await self._imports.put(replace(record, comment_id=stored.id), tx.session)
                tx.emit(imported_event(article, stored))
                return Imported(stored, ImportOutcome.UPDATED)

            return await self._uow.run(update)
        parent = None
        if command.parent_id is not None:
            parent = await self._comments.get(command.parent_id)
            if parent is None or parent.article_id != article.article_id:
                raise unknown_parent()
        comment = await self._threads.new_comment(article, parent, client="import", **fields)

        async def create(tx: Transaction) -> Imported:
            stored = await self._threads.insert(comment, tx)
            await self._imports.put(replace(record, comment_id=stored.id), tx.session)
            tx.emit(imported_event(article, stored))
            return Imported(stored, ImportOutcome.CREATED)

        return await self._uow.run(create)

    async def imported(self, source: str, after: int, limit: int) -> list[ImportRecord]:
        return await self._imports.page(source, after, limit)
