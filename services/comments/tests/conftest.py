"""In-memory fakes for the unit tests (the integration tests use the real servers)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broadsheet_comments.avatars import Avatars
from broadsheet_comments.commands import PostComment
from broadsheet_comments.consumers import build_router
from broadsheet_comments.cursors import BestKey
from broadsheet_comments.domain import Article, Ban, BanKind, Comment, ModerationPolicy, Status
from broadsheet_comments.imports import ImportService
from broadsheet_comments.mydata import ReaderData
from broadsheet_comments.projection import ArticleProjection
from broadsheet_comments.queries import CommentQueries
from broadsheet_comments.repository import IdempotencyKeyTaken, IdempotencyRecord, ImportRecord
from broadsheet_comments.service import CommentsService, Limits, Posted
from broadsheet_comments.threads import ROOT_WIDTH, Sort, child_path, root_path, sort_path
from broadsheet_comments.tokens import EditTokens
from broadsheet_shared.auth import Principal
from broadsheet_shared.grants import DataGrants
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.ratelimit import RateLimit
from broadsheet_shared.testing import (
    DEV_DIGEST,
    FakeImportRecords,
    FakeInbox,
    FakeRateLimiter,
    FakeStaffAccess,
    FakeUnitOfWork,
    TestClock,
)


class FakeArticles:
    def __init__(self) -> None:
        self.rows: dict[str, Article] = {}
        self.public_counts: dict[str, int] = {}
        # The greatest root_seq among each article's comments (the real repository reads it
        # from the comments collection).
        self.comment_roots: dict[str, int] = {}

    async def by_slug(self, slug: str, session: Any = None) -> Article | None:
        for article in self.rows.values():
            if article.slug == slug:
                return article
        for article in self.rows.values():
            if slug in article.previous_slugs:
                return article
        return None

    async def by_id(self, article_id: str, session: Any = None) -> Article | None:
        return self.rows.get(article_id)

    async def by_ids(self, article_ids: Sequence[str]) -> dict[str, Article]:
        return {i: self.rows[i] for i in article_ids if i in self.rows}

    async def save(self, article: Article, session: Any) -> None:
        current = self.rows.get(article.article_id)
        seq = current.root_seq if current else 0
        self.rows[article.article_id] = replace(article, root_seq=seq)

    async def remove(self, article_id: str, session: Any) -> None:
        self.rows.pop(article_id, None)

    async def add_to_count(self, article_id: str, delta: int, session: Any) -> None:
        self.public_counts[article_id] = self.public_counts.get(article_id, 0) + delta

    async def counts(self, articles: Sequence[Article]) -> dict[str, int]:
        return {a.article_id: self.public_counts.get(a.article_id, 0) for a in articles}

    async def resume_root_seq(self, article_id: str, session: Any) -> None:
        seq = self.comment_roots.get(article_id, 0)
        article = self.rows.get(article_id)
        if article is not None and article.root_seq < seq:
            self.rows[article_id] = replace(article, root_seq=seq)

    async def ids(self) -> set[str]:
        return set(self.rows)

    async def is_empty(self) -> bool:
        return not self.rows

    async def next_root_seq(self, article_id: str) -> int | None:
        article = self.rows.get(article_id)
        if article is None:
            return None
        self.rows[article_id] = replace(article, root_seq=article.root_seq + 1)
        return article.root_seq + 1


class FakeComments:
    def __init__(self) -> None:
        self.rows: dict[str, Comment] = {}
        self.keys: dict[str, IdempotencyRecord] = {}
        self.sequences: dict[str, int] = {}
        # (article id, root_seq) -> the reply path suffixes of that thread
        self.thread_outlines: dict[tuple[str, int], set[str]] = {}
        self.windows_read = 0
        # comment id -> the voter identities (digests) that voted for it
        self.votes: dict[str, set[str]] = {}
        self.votes_given_with: dict[str, list[tuple[str, Sequence[str]]]] = {}

    async def add(self, comment: Comment, session: Any) -> None:
        assert comment.id not in self.rows
        self.rows[comment.id] = comment

    async def get(self, comment_id: str, session: Any = None) -> Comment | None:
        return self.rows.get(comment_id)

    async def save(self, comment: Comment, session: Any) -> None:
        stored = self.rows[comment.id]
        # Counters move only by their own methods, as in Mongo ($inc).
        self.rows[comment.id] = replace(comment, reply_count=stored.reply_count, votes=stored.votes)

    async def add_to_reply_count(self, comment_id: str, delta: int, session: Any) -> None:
        comment = self.rows[comment_id]
        self.rows[comment_id] = replace(comment, reply_count=comment.reply_count + delta)

    async def next_child_seq(self, parent_id: str) -> int:
        self.sequences[parent_id] = self.sequences.get(parent_id, 0) + 1
        return self.sequences[parent_id]

    async def outline(self, comment: Comment) -> None:
        key = (comment.article_id, comment.root_seq)
        self.thread_outlines.setdefault(key, set()).add(comment.path[ROOT_WIDTH:])

    async def lock_parent(self, parent_id: str, session: Any) -> Comment | None:
        return self.rows.get(parent_id)

    def _subtree(self, comment: Comment) -> list[Comment]:
        top = comment.path
        return [
            c
            for c in self.rows.values()
            if c.article_id == comment.article_id and c.path != top and c.path.startswith(top)
        ]

    async def shift_subtree(self, comment: Comment, delta: int, session: Any) -> None:
        for c in self._subtree(comment):
            self.rows[c.id] = replace(c, hidden_by=c.hidden_by + delta)

    async def public_descendants(self, comment: Comment, session: Any) -> int:
        return sum(1 for c in self._subtree(comment) if c.is_public)

    async def outlines(self, article_id: str, root_seqs: Sequence[int]) -> dict[int, list[str]]:
        return {
            seq: sorted(self.thread_outlines[(article_id, seq)])
            for seq in root_seqs
            if (article_id, seq) in self.thread_outlines
        }

    async def public_window(
        self, article_id: str, sort: Sort, after: str | None, until: str | None, limit: int
    ) -> list[Comment]:
        self.windows_read += 1
        found = sorted(
            (
                c
                for c in self.rows.values()
                if c.article_id == article_id
                and c.is_public
                and (after is None or sort_path(c.path, sort) > after)
                and (until is None or sort_path(c.path, sort) <= until)
            ),
            key=lambda c: sort_path(c.path, sort),
        )
        return found[:limit]

    async def by_wordpress_id(self, article_id: str, wordpress_id: int) -> Comment | None:
        return next(
            (
                c
                for c in self.rows.values()
                if c.article_id == article_id and c.wordpress_id == wordpress_id
            ),
            None,
        )

    async def by_status(
        self, status: Status, after: str | None, limit: int, *, oldest_first: bool = False
    ) -> list[Comment]:
        found = sorted(
            (c for c in self.rows.values() if c.status == status),
            key=lambda c: c.sort_key,
            reverse=not oldest_first,
        )
        if after is not None:
            later = [c for c in found if c.sort_key > after]
            found = later if oldest_first else [c for c in found if c.sort_key < after]
        return found[:limit]

    async def count_status(self, status: Status) -> int:
        return sum(1 for c in self.rows.values() if c.status == status)

    async def by_author(
        self, kind: BanKind, value: str, after: str | None, limit: int
    ) -> list[Comment]:
        found = sorted(
            (
                c
                for c in self.rows.values()
                if (c.author_email_hash if kind == "email" else c.client) == value
            ),
            key=lambda c: c.sort_key,
            reverse=True,
        )
        if after is not None:
            found = [c for c in found if c.sort_key < after]
        return found[:limit]

    async def recent_public(self, limit: int, article_id: str | None = None) -> list[Comment]:
        found = await self.by_status("approved", None, len(self.rows))
        return [c for c in found if article_id in (None, c.article_id)][:limit]

    async def duplicate_since(self, article_id: str, body_hash: str, since: datetime) -> bool:
        return any(
            c.article_id == article_id and c.body_hash == body_hash and c.created_at >= since
            for c in self.rows.values()
        )

    async def all_by_email_hash(self, email_hash: str, session: Any) -> list[Comment]:
        found = [c for c in self.rows.values() if c.author_email_hash == email_hash]
        return sorted(found, key=lambda c: c.created_at)

    async def rename_parent_author(self, parent_ids: Any, name: str, session: Any) -> None:
        for c in list(self.rows.values()):
            if c.parent_id in parent_ids:
                self.rows[c.id] = replace(c, parent_author_name=name)

    async def has_public_from(self, email_hash: str) -> bool:
        return any(
            c.author_email_hash == email_hash and c.status == "approved" for c in self.rows.values()
        )

    async def remember_key(self, record: IdempotencyRecord, session: Any) -> None:
        if record.key in self.keys:
            raise IdempotencyKeyTaken(record.key)
        self.keys[record.key] = record

    async def recall_key(self, key: str) -> IdempotencyRecord | None:
        return self.keys.get(key)

    async def best_roots(self, article_id: str, after: BestKey | None, limit: int) -> list[Comment]:
        roots = sorted(
            (
                c
                for c in self.rows.values()
                if c.article_id == article_id and c.depth == 0 and c.is_public
            ),
            key=lambda c: (-c.votes, c.path),
        )
        if after is not None:
            position = (-after.votes, after.path[:ROOT_WIDTH])
            roots = [c for c in roots if (-c.votes, c.path) > position]
        return roots[:limit]

    async def has_vote(self, comment_id: str, voters: Sequence[str], session: Any) -> bool:
        return bool(self.votes.get(comment_id, set()) & set(voters))

    async def add_vote(
        self,
        comment_id: str,
        voters: Sequence[str],
        at: datetime,
        session: Any,
        *,
        address_digest: str | None = None,
    ) -> None:
        self.votes.setdefault(comment_id, set()).update(voters)
        if address_digest:
            self.votes_given_with.setdefault(address_digest, []).append((comment_id, voters))
        comment = self.rows[comment_id]
        self.rows[comment_id] = replace(comment, votes=comment.votes + 1)

    async def drop_votes(self, comment_id: str, session: Any) -> None:
        self.votes.pop(comment_id, None)
        self.rows[comment_id] = replace(self.rows[comment_id], votes=0)

    async def forget_votes_of(self, address_digest: str, session: Any) -> None:
        for comment_id, voters in self.votes_given_with.pop(address_digest, []):
            self.votes.get(comment_id, set()).difference_update(voters)


class FakeBans:
    def __init__(self) -> None:
        self.rows: dict[str, Ban] = {}

    async def put(self, ban: Ban, session: Any) -> None:
        self.rows[ban.id] = ban

    async def active(self, ids: Sequence[str], now: datetime) -> Ban | None:
        return next(
            (self.rows[i] for i in ids if i in self.rows and self.rows[i].until > now), None
        )

    async def list_active(self, now: datetime) -> list[Ban]:
        return [ban for ban in self.rows.values() if ban.until > now]

    async def remove(self, ban_id: str, session: Any) -> bool:
        return self.rows.pop(ban_id, None) is not None


class World:
    """The comments use cases wired to fakes, plus the fakes themselves."""

    def __init__(self, policy: ModerationPolicy | None = None, per_client: int = 1000) -> None:
        self.articles = FakeArticles()
        self.comments = FakeComments()
        self.bans = FakeBans()
        self.imports = FakeImportRecords[ImportRecord]()
        self.uow = FakeUnitOfWork(self.articles, self.comments, self.bans, self.imports)
        self.moderator = Principal("m1", "moderator", "Mo Derator", client="203.0.113.9")
        self.limiter = FakeRateLimiter()
        # Each reading moves a millisecond on, so posting order is a strict time order.
        self.clock = TestClock(tick=timedelta(milliseconds=1))
        self.service = CommentsService(
            articles=self.articles,
            comments=self.comments,
            bans=self.bans,
            uow=self.uow,
            limiter=self.limiter,
            policy=policy or ModerationPolicy(),
            tokens=EditTokens("test-secret", timedelta(minutes=15)),
            limits=Limits(
                per_client=RateLimit(per_client, 60),
                per_email=RateLimit(5, 60),
                duplicate_window=timedelta(hours=1),
            ),
            digest=DEV_DIGEST,
            avatars=Avatars(b"test-avatar-key"),
            clock=self.clock,
        )
        self.import_service = ImportService(
            articles=self.articles,
            comments=self.comments,
            imports=self.imports,
            uow=self.uow,
            digest=DEV_DIGEST,
        )
        self.queries = CommentQueries(
            articles=self.articles, comments=self.comments, digest=DEV_DIGEST
        )
        self.projection = ArticleProjection(self.articles)
        self.inbox = FakeInbox()
        self.staff_access = FakeStaffAccess()
        self.grants = DataGrants("test-grant-key")
        self.reader_data = ReaderData(
            self.articles, self.comments, self.uow, self.grants, clock=self.clock
        )
        self.router: EventRouter = build_router(
            self.projection, self.inbox, self.staff_access, self.reader_data
        )

    async def post(
        self,
        slug: str,
        *,
        client: str = "c",
        idempotency_key: str | None = None,
        author_name: str = "Ann",
        body: str = "A fine article.",
        author_email: str | None = None,
        parent_id: str | None = None,
        notify_replies: bool = False,
        website: str | None = None,
    ) -> Posted:
        """Posts as the route does, with valid fields unless a test says otherwise."""
        return await self.service.post(
            PostComment(
                slug=slug,
                author_name=author_name,
                author_email=author_email,
                body=body,
                parent_id=parent_id,
                notify_replies=notify_replies,
                website=website,
                client=client,
                idempotency_key=idempotency_key,
            )
        )

    def add_article(self, slug: str = "hello", **changes: Any) -> Article:
        article = new_article(slug, **changes)
        self.articles.rows[article.article_id] = article
        return article


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def make_world() -> type[World]:
    return World


def new_article(slug: str = "hello", **changes: Any) -> Article:
    """A published article open for comments, ``changes`` applied."""
    fields: dict[str, Any] = {
        "article_id": f"art-{slug}",
        "slug": slug,
        "title": f"Title of {slug}",
        "url_path": f"/articles/{slug}",
        "section_slug": "foreign-affairs",
        "comments_open": True,
        "published": True,
        "revision": 1,
    }
    fields.update(changes)
    return Article(**fields)


def new_comment(cid: str, parent: Comment | None = None, **changes: Any) -> Comment:
    """An approved comment (a first reply to ``parent`` when given); ``changes`` override."""
    fields: dict[str, Any] = {
        "id": cid,
        "article_id": "a1",
        "parent_id": parent.id if parent else None,
        "root_id": parent.root_id if parent else cid,
        "depth": parent.depth + 1 if parent else 0,
        "author_name": "A",
        "author_email": None,
        "author_email_hash": None,
        "body_markdown": "x",
        "body_html": "<p>x</p>",
        "body_hash": "h",
        "status": "approved",
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "client": "c",
        "path": child_path(parent.path, 1) if parent else root_path(1),
        "parent_author_name": parent.author_name if parent else None,
    }
    fields.update(changes)
    return Comment(**fields)


@pytest.fixture
def make_comment() -> Callable[..., Comment]:
    return new_comment
