"""Read use cases: thread pages, counts, the recent list, the staff queue and finding an
author's comments."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import ip_address

from broadsheet_comments.cursors import (
    AfterComment,
    BestKey,
    decode_queue_cursor,
    decode_thread_cursor,
    encode_best_cursor,
    encode_queue_cursor,
    encode_thread_cursor,
)
from broadsheet_comments.domain import Article, BanKind, Comment, Status
from broadsheet_comments.repository import ArticleRepository, CommentRepository
from broadsheet_comments.threads import (
    ROOT_WIDTH,
    SUBTREE_END,
    Sort,
    ThreadSort,
    key_before,
    next_roots,
    outlines_to_read,
    plan_window,
    sort_path,
)
from broadsheet_shared.addresses import AddressDigest
from broadsheet_shared.errors import NotFound


class UnknownArticle(NotFound):
    """No published article answers to the slug (or it is gone)."""

    def __init__(self) -> None:
        super().__init__("There is no published article with this slug.")


async def published_article(articles: ArticleRepository, slug: str) -> Article:
    """The article readers may see and comment on, by its slug or a previous one."""
    article = await articles.by_slug(slug)
    if article is None or not article.published:
        raise UnknownArticle
    return article


class UnknownComment(NotFound):
    """No public comment of the article has this id."""

    def __init__(self) -> None:
        super().__init__("This article has no public comment with this id.")


class UnknownWordPressComment(NotFound):
    """No public comment of the article was imported with this WordPress id."""

    def __init__(self) -> None:
        super().__init__("This article has no public comment with this WordPress id.")


@dataclass(frozen=True)
class WordPressAnchor:
    """Where an old ``#comment-ID`` is now: the comment, and the thread page that starts with
    it (None: it is the first comment, on the first page)."""

    comment_id: str
    cursor: str | None


@dataclass(frozen=True)
class LocatedComment:
    """A public comment as a page that holds it shows it, and that page's cursor (None: the
    first page)."""

    item: ThreadItem
    cursor: str | None


@dataclass(frozen=True)
class ThreadItem:
    comment: Comment
    # The parent's author, where the reader cannot see whom this comment answers: the display
    # depth was capped, or the page starts below the parent (it was on the previous page).
    in_reply_to: str | None


@dataclass(frozen=True)
class ThreadPage:
    article: Article
    total: int
    items: list[ThreadItem]
    next_cursor: str | None


@dataclass(frozen=True)
class QueueEntry:
    """A comment of the staff queue with what a moderator needs beside it: its article (None
    when the projection has not heard of it yet) and, for a reply, its parent."""

    comment: Comment
    article: Article | None
    parent: Comment | None


@dataclass(frozen=True)
class RecentEntry:
    comment: Comment
    article: Article


def _page_items(found: Sequence[Comment]) -> list[ThreadItem]:
    shown = {comment.id for comment in found}
    return [
        ThreadItem(
            comment,
            comment.parent_author_name
            if comment.parent_id is not None and comment.parent_id not in shown
            else comment.in_reply_to,
        )
        for comment in found
    ]


class CommentQueries:
    def __init__(
        self, *, articles: ArticleRepository, comments: CommentRepository, digest: AddressDigest
    ) -> None:
        self._articles = articles
        self._comments = comments
        self._digest = digest

    async def thread(
        self, slug: str, *, sort: ThreadSort, cursor: str | None, limit: int
    ) -> ThreadPage:
        """A page: at most ``limit`` public comments in thread order (each top-level comment,
        then its replies depth first). A page may start or end inside a thread."""
        article = await published_article(self._articles, slug)
        if sort == "best":
            return await self._best_thread(article, cursor, limit)
        after = decode_thread_cursor(cursor)
        if isinstance(after, AfterComment):
            after = await self._key_of(after.comment_id, article, sort)
        elif isinstance(after, BestKey):
            # Every cursor is a position in every order: in a path order, that of its comment.
            after = sort_path(after.path, sort)
        found, counts = await asyncio.gather(
            self._public_after(article, sort, after, limit + 1),
            self._articles.counts([article]),
        )
        next_cursor = None
        if len(found) > limit:
            found = found[:limit]
            last = found[-1]
            next_cursor = encode_thread_cursor(sort_path(last.path, sort), last.id)
        return ThreadPage(
            article, counts.get(article.article_id, 0), _page_items(found), next_cursor
        )

    async def _best_thread(self, article: Article, cursor: str | None, limit: int) -> ThreadPage:
        after = await self._best_key(article, decode_thread_cursor(cursor))
        found, counts = await asyncio.gather(
            self._best_after(article, after, limit + 1), self._articles.counts([article])
        )
        next_cursor = None
        if len(found) > limit:
            found = found[:limit]
            votes, last = found[-1]
            next_cursor = encode_best_cursor(votes, last.path, last.id)
        items = _page_items([comment for _, comment in found])
        return ThreadPage(article, counts.get(article.article_id, 0), items, next_cursor)

    async def _best_key(
        self, article: Article, after: str | AfterComment | BestKey | None
    ) -> BestKey | None:
        """A cursor as a position in the Best order: a path (from the other orders) or a
        comment continue after it, at its top-level comment's votes now."""
        if after is None or isinstance(after, BestKey):
            return after
        if isinstance(after, AfterComment):
            comment = await self._comments.get(after.comment_id)
            if comment is None or comment.article_id != article.article_id:
                raise NotFound("The comment this page continues after is not on this thread.")
            path = comment.path
            root = await self._comments.get(comment.root_id)
        else:
            # A path-order key (a shape any client may send): taken as a path, at no votes.
            path = after
            root = None
        return BestKey(root.votes if root is not None else 0, path)

    async def _best_after(
        self, article: Article, after: BestKey | None, limit: int
    ) -> list[tuple[int, Comment]]:
        """Up to ``limit`` public comments after ``after`` in the Best order, each with its
        top-level comment's votes (the next cursor's): the rest of ``after``'s thread, then the
        next top-level comments by votes, each followed by its replies in thread order. A
        top-level comment with no approved reply has no public reply: its subtree is not read.
        """
        found: list[tuple[int, Comment]] = []
        if after is not None:
            end = after.path[:ROOT_WIDTH] + SUBTREE_END
            if after.path < end:
                rest = await self._comments.public_window(
                    article.article_id, "oldest", after.path, end, limit
                )
                found += [(after.votes, comment) for comment in rest]
        if len(found) >= limit:
            return found[:limit]
        for root in await self._comments.best_roots(article.article_id, after, limit - len(found)):
            found.append((root.votes, root))
            needed = limit - len(found)
            if needed <= 0:
                break
            if root.reply_count:
                replies = await self._comments.public_window(
                    article.article_id, "oldest", root.path, root.path + SUBTREE_END, needed
                )
                found += [(root.votes, reply) for reply in replies]
        return found[:limit]

    async def wordpress_comment(
        self, slug: str, wordpress_id: int, *, sort: Sort
    ) -> WordPressAnchor:
        """An imported comment by its WordPress id, with a cursor opening a page that begins
        with it: the reader site can then send an old ``#comment-ID`` link to the right page,
        however deep in the thread the comment is, without counting the comments before it."""
        article = await published_article(self._articles, slug)
        comment = await self._comments.by_wordpress_id(article.article_id, wordpress_id)
        if comment is None or not comment.is_public:
            raise UnknownWordPressComment
        return WordPressAnchor(comment.id, await self._page_starting_at(article, comment, sort))

    async def comment(
        self, slug: str, comment_id: str, *, sort: Sort, limit: int
    ) -> LocatedComment:
        """A public comment by id, wherever it is in the thread, with the cursor of a page of
        ``limit`` comments that holds it: the page beginning with its top-level comment if it
        is on it (the reader sees the whole conversation above it), else with its parent, else
        with the comment itself. The reader site replies to it and lands a reader on it."""
        article = await published_article(self._articles, slug)
        comment = await self._comments.get(comment_id)
        if comment is None or comment.article_id != article.article_id or not comment.is_public:
            raise UnknownComment
        for ancestor_id in dict.fromkeys([comment.root_id, comment.parent_id]):
            ancestor = await self._comments.get(ancestor_id) if ancestor_id else None
            if ancestor is None or ancestor.id == comment.id or not ancestor.is_public:
                continue
            cursor = await self._page_starting_at(article, ancestor, sort)
            page = await self.thread(slug, sort=sort, cursor=cursor, limit=limit)
            found = next((i for i in page.items if i.comment.id == comment.id), None)
            if found is not None:
                return LocatedComment(found, cursor)
        item = _page_items([comment])[0]
        return LocatedComment(item, await self._page_starting_at(article, comment, sort))

    async def _page_starting_at(self, article: Article, comment: Comment, sort: Sort) -> str | None:
        key = sort_path(comment.path, sort)
        first = await self._public_after(article, sort, None, 1)
        if first and first[0].id == comment.id:
            return None
        # A key too long for a URL (a reply ~30 levels deep, always one with a parent) falls
        # back to "after the parent": the page then starts at the parent's first reply, so the
        # comment is on it only when fewer than a page of its siblings' comments come first.
        fallback = comment.parent_id or comment.id
        return encode_thread_cursor(key_before(key), fallback)

    async def _public_after(
        self, article: Article, sort: Sort, after: str | None, limit: int
    ) -> list[Comment]:
        """Up to ``limit`` public comments after the key ``after``, in thread order: read in
        windows planned from the thread outlines, each window closed at the key its comments
        are expected to reach, the next one starting where a window came up short (held or
        hidden replies)."""
        found: list[Comment] = []
        low = after
        while len(found) < limit:
            needed = limit - len(found)
            roots = next_roots(low, sort, needed, article.root_seq)
            outlines = await self._comments.outlines(
                article.article_id, outlines_to_read(low, sort, roots)
            )
            high = plan_window(sort, low, needed, article.root_seq, outlines, roots)
            found += await self._comments.public_window(article.article_id, sort, low, high, needed)
            if high is None:
                break
            low = high
        return found[:limit]

    async def _key_of(self, comment_id: str, article: Article, sort: Sort) -> str:
        comment = await self._comments.get(comment_id)
        if comment is None or comment.article_id != article.article_id:
            # The cursor is well formed, the comment it continues after is not (or no longer)
            # on this article's thread.
            raise NotFound("The comment this page continues after is not on this thread.")
        return sort_path(comment.path, sort)

    async def count(self, slug: str) -> tuple[Article, int]:
        article = await published_article(self._articles, slug)
        counts = await self._articles.counts([article])
        return article, counts.get(article.article_id, 0)

    async def counts(self, slugs: Sequence[str]) -> dict[str, int]:
        found: dict[str, Article] = {}
        for slug in dict.fromkeys(slugs):
            article = await self._articles.by_slug(slug)
            if article is not None and article.published:
                found[slug] = article
        counts = await self._articles.counts(list(found.values()))
        return {
            slug: counts.get(found[slug].article_id, 0) if slug in found else 0
            for slug in dict.fromkeys(slugs)
        }

    async def recent(self, limit: int) -> list[RecentEntry]:
        # Read a little more than asked: comments of unpublished articles, and replies under a
        # hidden comment, are skipped.
        comments = [c for c in await self._comments.recent_public(limit * 2) if c.is_public]
        articles = await self._articles.by_ids([comment.article_id for comment in comments])
        entries = [
            RecentEntry(comment, articles[comment.article_id])
            for comment in comments
            if comment.article_id in articles and articles[comment.article_id].published
        ]
        return entries[:limit]

    async def article_recent(self, slug: str, limit: int) -> tuple[Article, list[Comment]]:
        """An article's latest public comments, newest first (its comments feed)."""
        article = await published_article(self._articles, slug)
        # A little more than asked: replies under a hidden comment are skipped.
        found = await self._comments.recent_public(limit * 2, article.article_id)
        return article, [c for c in found if c.is_public][:limit]

    async def queue(
        self, status: Status, cursor: str | None, limit: int, *, oldest_first: bool = False
    ) -> tuple[list[QueueEntry], str | None]:
        """The staff queue of one status, newest (or oldest) first, each comment with its article
        and parent."""
        after = decode_queue_cursor(cursor)
        found = await self._comments.by_status(status, after, limit + 1, oldest_first=oldest_first)
        return await self._queue_page(found, limit)

    async def status_count(self, status: Status) -> int:
        """How many comments have this status (the dashboards' count of the queue)."""
        return await self._comments.count_status(status)

    async def by_author(
        self, kind: BanKind, value: str, cursor: str | None, limit: int
    ) -> tuple[list[QueueEntry], str | None]:
        """An author's comments across articles, whatever their status, newest first: by email
        (compared by its digest, as stored) or by the client address they were posted from
        (kept only until the address expiry sweep forgets it)."""
        after = decode_queue_cursor(cursor)
        key = self._digest(value) if kind == "email" else author_client(value)
        found = await self._comments.by_author(kind, key, after, limit + 1)
        return await self._queue_page(found, limit)

    async def _queue_page(
        self, found: Sequence[Comment], limit: int
    ) -> tuple[list[QueueEntry], str | None]:
        next_cursor = encode_queue_cursor(found[limit - 1].sort_key) if len(found) > limit else None
        page = found[:limit]
        articles = await self._articles.by_ids([comment.article_id for comment in page])
        parent_ids = list(dict.fromkeys(c.parent_id for c in page if c.parent_id is not None))
        parents = await asyncio.gather(*(self._comments.get(pid) for pid in parent_ids))
        by_id = {parent.id: parent for parent in parents if parent is not None}
        entries = [
            QueueEntry(
                comment,
                articles.get(comment.article_id),
                by_id.get(comment.parent_id) if comment.parent_id else None,
            )
            for comment in page
        ]
        return entries, next_cursor


def author_client(value: str) -> str:
    """A client address as comments store it (an IP address in its canonical form), so
    ``2001:DB8::1`` finds what ``2001:db8::1`` posted."""
    try:
        return str(ip_address(value.strip()))
    except ValueError:
        return value.strip()
