"""Where a comment goes in its thread and what that changes: the steps posting, imports, edits
and moderation share (sort path, insert with counts, a subtree hidden or shown again)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from broadsheet_comments.domain import Article, Comment, new_comment_id
from broadsheet_comments.queries import UnknownArticle
from broadsheet_comments.repository import ArticleRepository, CommentRepository
from broadsheet_comments.threads import child_path, root_path
from broadsheet_shared.errors import Conflict, InvalidRequest
from broadsheet_shared.unit_of_work import Transaction


def unknown_parent() -> InvalidRequest:
    return InvalidRequest(
        "parent_id does not name a comment of this article.",
        errors=[{"loc": ["body", "parent_id"], "msg": "unknown comment", "type": "value"}],
    )


class ThreadWriter:
    def __init__(self, articles: ArticleRepository, comments: CommentRepository) -> None:
        self._articles = articles
        self._comments = comments

    async def new_comment(self, article: Article, parent: Comment | None, **fields: Any) -> Comment:
        """A new comment with ``fields`` and its place in the thread (id, sort path, root,
        depth). Its outline entry is written now, outside the transaction (see ``outline``)."""
        comment_id = new_comment_id()
        comment = Comment(
            id=comment_id,
            article_id=article.article_id,
            parent_id=parent.id if parent else None,
            root_id=parent.root_id if parent else comment_id,
            depth=parent.depth + 1 if parent else 0,
            path=await self.next_path(article, parent),
            parent_author_name=parent.author_name if parent else None,
            **fields,
        )
        if parent is not None:
            await self._comments.outline(comment)
        return comment

    async def insert(self, comment: Comment, tx: Transaction) -> Comment:
        """Store a new comment in the use case's transaction, with the counts it changes."""
        stored = comment
        if comment.parent_id is not None:
            # Read (and touch) the parent inside the transaction: a moderator hiding it
            # at the same moment conflicts with this post, so the reply is hidden too.
            current = await self._comments.lock_parent(comment.parent_id, tx.session)
            if current is None:
                raise unknown_parent()
            stored = replace(comment, hidden_by=current.reply_hidden_by)
        await self._comments.add(stored, tx.session)
        if stored.status == "approved":
            if stored.is_public:
                await self._articles.add_to_count(stored.article_id, 1, tx.session)
            if stored.parent_id is not None:
                await self._comments.add_to_reply_count(stored.parent_id, 1, tx.session)
        return stored

    async def next_path(self, article: Article, parent: Comment | None) -> str:
        """The new comment's sort path. Sequence numbers are taken before the transaction,
        each by one atomic $inc: posters on one article never share a document inside their
        transactions. A number lost to a failed post is only a gap in the order."""
        if parent is None:
            seq = await self._articles.next_root_seq(article.article_id)
            if seq is None:
                raise UnknownArticle
            return root_path(seq)
        return child_path(parent.path, await self._comments.next_child_seq(parent.id))

    async def update_subtree_and_counts(
        self, current: Comment, changed: Comment, tx: Transaction
    ) -> None:
        """Counts and the replies' visibility after ``current`` became ``changed``.

        A comment that stops being approved hides its whole subtree (one path-prefix range:
        every reply's hidden_by goes up by one) and the public replies in it stop counting;
        approving it again reverses both. Runs in the transaction that changes the status,
        which re-read ``current``, so a retried or redelivered command adjusts nothing twice.
        """
        in_view = current.hidden_by == 0  # nothing above the comment is hidden
        delta = 0
        if current.hides_replies != changed.hides_replies:
            if changed.hides_replies:
                if in_view:
                    delta -= await self._comments.public_descendants(current, tx.session)
                await self._comments.shift_subtree(current, 1, tx.session)
            else:
                await self._comments.shift_subtree(current, -1, tx.session)
                if in_view:
                    delta += await self._comments.public_descendants(current, tx.session)
        if current.status == "approved" and changed.status != "approved":
            delta -= 1 if in_view else 0
            if current.parent_id is not None:
                await self._comments.add_to_reply_count(current.parent_id, -1, tx.session)
        if changed.status == "approved" and current.status != "approved":
            delta += 1 if in_view else 0
        if delta:
            await self._articles.add_to_count(current.article_id, delta, tx.session)

    async def save_if_status_unchanged(
        self, seen: Comment, new: Comment, tx: Transaction
    ) -> tuple[Comment, Comment]:
        """Saves ``new`` over the stored comment if its status is still the one ``seen`` had;
        returns (stored before, stored now). ``hidden_by`` stays as stored: only ancestors
        change it."""
        current = await self._comments.get(seen.id, tx.session)
        if current is None or current.status != seen.status:
            raise Conflict("The comment was changed meanwhile; reload and retry.")
        stored = replace(new, hidden_by=current.hidden_by)
        await self._comments.save(stored, tx.session)
        return current, stored
