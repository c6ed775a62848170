"""In-memory fakes for the unit tests (the integration tests use the real servers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import pytest

from broadsheet_comments.consumers import Effects, build_router
from broadsheet_comments.domain import Article, Comment, ModerationPolicy, Sort, Status
from broadsheet_comments.repository import Ban, IdempotencyKeyTaken, IdempotencyRecord
from broadsheet_comments.service import ArticleProjection, CommentsService, Limits
from broadsheet_comments.tokens import EditTokens
from broadsheet_shared.events.base import IntegrationEvent
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.ratelimit import RateLimit, RateLimitResult
from broadsheet_shared.unit_of_work import Transaction

T = TypeVar("T")


class FakeArticles:
    def __init__(self) -> None:
        self.rows: dict[str, Article] = {}

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
        count = current.comment_count if current else 0
        seq = current.root_seq if current else 0
        self.rows[article.article_id] = replace(article, comment_count=count, root_seq=seq)

    async def remove(self, article_id: str, session: Any) -> None:
        self.rows.pop(article_id, None)

    async def add_to_count(self, article_id: str, delta: int, session: Any) -> None:
        article = self.rows[article_id]
        self.rows[article_id] = replace(article, comment_count=article.comment_count + delta)

    async def counts(self, articles: Sequence[Article]) -> dict[str, int]:
        return {
            a.article_id: self.rows[a.article_id].comment_count
            for a in articles
            if a.article_id in self.rows
        }

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
        self.outlines: list[str] = []

    async def add(self, comment: Comment, session: Any) -> None:
        assert comment.id not in self.rows
        self.rows[comment.id] = comment

    async def get(self, comment_id: str, session: Any = None) -> Comment | None:
        return self.rows.get(comment_id)

    async def save(self, comment: Comment, session: Any) -> None:
        count = self.rows[comment.id].reply_count
        self.rows[comment.id] = replace(comment, reply_count=count)

    async def add_to_reply_count(self, comment_id: str, delta: int, session: Any) -> None:
        comment = self.rows[comment_id]
        self.rows[comment_id] = replace(comment, reply_count=comment.reply_count + delta)

    async def next_child_seq(self, parent_id: str) -> int:
        self.sequences[parent_id] = self.sequences.get(parent_id, 0) + 1
        return self.sequences[parent_id]

    async def outline(self, comment: Comment) -> None:
        self.outlines.append(comment.path or "")

    async def lock_parent(self, parent_id: str, session: Any) -> Comment | None:
        return self.rows.get(parent_id)

    def _subtree(self, comment: Comment) -> list[Comment]:
        assert comment.path is not None
        top = comment.path
        return [
            c
            for c in self.rows.values()
            if c.article_id == comment.article_id
            and c.path is not None
            and c.path != top
            and c.path.startswith(top)
        ]

    async def shift_subtree(self, comment: Comment, delta: int, session: Any) -> None:
        for c in self._subtree(comment):
            self.rows[c.id] = replace(c, hidden_by=c.hidden_by + delta)

    async def public_descendants(self, comment: Comment, session: Any) -> int:
        return sum(1 for c in self._subtree(comment) if c.is_public)

    async def thread_page(
        self, article_id: str, sort: Sort, after: str | None, limit: int, last_seq: int
    ) -> list[Comment]:
        def key(c: Comment) -> str:
            return (c.path if sort == "oldest" else c.path_newest) or ""

        found = sorted(
            (
                c
                for c in self.rows.values()
                if c.article_id == article_id and c.is_public and c.path is not None
            ),
            key=key,
        )
        if after is not None:
            found = [c for c in found if key(c) > after]
        return found[:limit]

    async def by_status(self, status: Status, after: str | None, limit: int) -> list[Comment]:
        found = sorted(
            (c for c in self.rows.values() if c.status == status),
            key=lambda c: c.sort_key,
            reverse=True,
        )
        if after is not None:
            found = [c for c in found if c.sort_key < after]
        return found[:limit]

    async def recent_public(self, limit: int) -> list[Comment]:
        return (await self.by_status("approved", None, limit))[:limit]

    async def duplicate_since(self, article_id: str, body_hash: str, since: datetime) -> bool:
        return any(
            c.article_id == article_id and c.body_hash == body_hash and c.created_at >= since
            for c in self.rows.values()
        )

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


class FakeBans:
    def __init__(self) -> None:
        self.rows: dict[str, Ban] = {}

    async def put(self, ban: Ban) -> None:
        self.rows[ban.id] = ban

    async def active(self, ids: Sequence[str], now: datetime) -> Ban | None:
        return next(
            (self.rows[i] for i in ids if i in self.rows and self.rows[i].until > now), None
        )

    async def list_active(self, now: datetime) -> list[Ban]:
        return [ban for ban in self.rows.values() if ban.until > now]

    async def remove(self, ban_id: str) -> bool:
        return self.rows.pop(ban_id, None) is not None


class FakeUnitOfWork:
    """Commits by keeping the events; a failed unit keeps none."""

    def __init__(self) -> None:
        self.events: list[IntegrationEvent] = []

    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        tx = Transaction(session=None)  # type: ignore[arg-type]
        result = await work(tx)
        self.events.extend(tx.events)
        return result

    def of_type(self, cls: type[IntegrationEvent]) -> list[Any]:
        return [event for event in self.events if isinstance(event, cls)]


class FakeLimiter:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}

    async def hit(self, key: str, rule: RateLimit) -> RateLimitResult:
        self.hits[key] = self.hits.get(key, 0) + 1
        allowed = self.hits[key] <= rule.limit
        return RateLimitResult(allowed, max(0, rule.limit - self.hits[key]), 0 if allowed else 42)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        # Each reading moves a millisecond on, so posting order is a strict time order.
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class World:
    """A comments service wired to fakes, plus the fakes themselves."""

    def __init__(self, policy: ModerationPolicy | None = None, per_client: int = 1000) -> None:
        self.articles = FakeArticles()
        self.comments = FakeComments()
        self.bans = FakeBans()
        self.uow = FakeUnitOfWork()
        self.limiter = FakeLimiter()
        self.clock = Clock()
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
            clock=self.clock,
        )
        self.projection = ArticleProjection(self.articles)
        self.handled: set[str] = set()

        async def once(handler: str, event_id: UUID, effects: Effects) -> bool:
            if f"{handler}:{event_id}" in self.handled:
                return False
            await effects(None)  # type: ignore[arg-type]
            self.handled.add(f"{handler}:{event_id}")
            return True

        self.router: EventRouter = build_router(self.projection, once)

    def add_article(self, slug: str = "hello", **changes: Any) -> Article:
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
        article = Article(**fields)
        self.articles.rows[article.article_id] = article
        return article


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def make_world() -> type[World]:
    return World
