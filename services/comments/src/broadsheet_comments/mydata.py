"""A reader's own comments: exported on a grant, erased on ``reader.erased``.

Notifications mails the my-data link and checks it; this service trusts a request for an
address's comments only with the five-minute grant notifications signed for that address's digest
(``broadsheet_shared.grants``). An erasure arrives as an event carrying the digest: every comment
whose author has that digest becomes "[deleted]" in place (name, email, text and client address
gone, its place in the thread kept so replies keep theirs), and an edit event per public comment
tells the pages. It is idempotent without an inbox: erased comments no longer carry the digest,
so a replayed event finds nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from broadsheet_comments.domain import Comment, body_fingerprint
from broadsheet_comments.events import edited_event
from broadsheet_comments.rendering import render_body
from broadsheet_comments.repository import ArticleRepository, CommentRepository
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.errors import Forbidden
from broadsheet_shared.grants import BadGrant, DataGrants
from broadsheet_shared.unit_of_work import Transaction, UnitOfWork

ERASED = "[deleted]"


def erased(comment: Comment) -> Comment:
    """The comment with nothing of its author left: the thread keeps its shape."""
    return replace(
        comment,
        author_name=ERASED,
        author_email=None,
        author_email_hash=None,
        body_markdown=ERASED,
        body_html=render_body(ERASED),
        body_hash=body_fingerprint(ERASED),
        client="",
        notify_replies=False,
    )


class ReaderData:
    def __init__(
        self,
        articles: ArticleRepository,
        comments: CommentRepository,
        uow: UnitOfWork,
        grants: DataGrants,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._articles = articles
        self._comments = comments
        self._uow = uow
        self._grants = grants
        self._clock = clock

    async def export(self, grant: str) -> list[dict[str, Any]]:
        """Every comment by the grant's address, whatever its status, oldest first."""
        try:
            digest = self._grants.read(grant)
        except BadGrant:
            raise Forbidden("The data grant is missing, invalid or expired.") from None
        comments = await self._comments.all_by_email_hash(digest, None)
        articles = await self._articles.by_ids(sorted({c.article_id for c in comments}))
        return [
            {
                "id": c.id,
                "article_title": articles[c.article_id].title if c.article_id in articles else "",
                "article_url_path": articles[c.article_id].url_path
                if c.article_id in articles
                else "",
                "parent_id": c.parent_id,
                "author_name": c.author_name,
                "author_email": c.author_email,
                "body": c.body_markdown,
                "status": c.status,
                "created_at": c.created_at,
                "edited_at": c.edited_at,
                "client": c.client or None,
                "notify_replies": c.notify_replies,
            }
            for c in comments
        ]

    async def erase(self, address_digest: str) -> int:
        """Turn the address's comments into "[deleted]" in place; how many there were."""

        async def work(tx: Transaction) -> int:
            comments = await self._comments.all_by_email_hash(address_digest, tx.session)
            now = self._clock()
            for comment in comments:
                stored = erased(comment)
                await self._comments.save(stored, tx.session)
                article = await self._articles.by_id(comment.article_id, tx.session)
                if comment.is_public and article is not None:
                    tx.emit(edited_event(stored, article.slug, now, held=False))
            # Replies shown deeper than the display depth name whom they answer.
            await self._comments.rename_parent_author([c.id for c in comments], ERASED, tx.session)
            return len(comments)

        return await self._uow.run(work)
