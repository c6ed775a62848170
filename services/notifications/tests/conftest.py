"""Fakes for the unit tests (in-memory, milliseconds) and shared fixtures."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from broadsheet_notifications.domain import (
    Address,
    Delivery,
    DeliveryState,
    DigestItem,
    DigestPolicy,
    RetryPolicy,
    Subscription,
)
from broadsheet_notifications.mail import MailComposer, OutgoingMail
from broadsheet_notifications.repository import INDIVIDUAL_KINDS, LIVE_STATES, ArticleView
from broadsheet_notifications.service import (
    FollowLimits,
    Planner,
    Policies,
    StaffService,
    SubscriptionService,
)
from broadsheet_notifications.settings import Settings
from broadsheet_notifications.tokens import LinkSigner
from broadsheet_shared.events import IntegrationEvent
from broadsheet_shared.ratelimit import RateLimit, RateLimitResult
from broadsheet_shared.unit_of_work import Transaction

T = TypeVar("T")


@pytest.fixture(scope="session")
def devstack_settings(infra: Any) -> Callable[..., Settings]:
    """Settings for an app on the test session's Kafka, database and SMTP capture, with a
    database and topics of its own (``prefix``)."""

    def make(prefix: str, **overrides: Any) -> Settings:
        return Settings(
            environment="test",
            log_json=False,
            mongo_url=infra.mongo_url,
            mongo_database=f"{prefix}_notifications",
            kafka_bootstrap_servers=infra.kafka_bootstrap,
            kafka_topic_prefix=f"{prefix}.",
            smtp_host=infra.smtp_host,
            smtp_port=infra.smtp_port,
            **overrides,
        )

    return make


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class FakeRepository:
    def __init__(self) -> None:
        self.articles: dict[str, ArticleView] = {}
        self.addresses: dict[str, Address] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.claims: dict[str, tuple[str, datetime]] = {}
        self.cancel_requested: set[str] = set()

    async def save_article(self, article: ArticleView, session: Any) -> None:
        self.articles[article.article_id] = article

    async def mark_article_gone(self, article_id: str, session: Any) -> None:
        if article_id in self.articles:
            a = self.articles[article_id]
            self.articles[article_id] = ArticleView(
                a.article_id, a.slug, a.slugs, a.title, a.url_path, live=False
            )

    async def article_by_slug(self, slug: str) -> ArticleView | None:
        return next((a for a in self.articles.values() if slug in a.slugs and a.live), None)

    async def get_address(self, recipient: str, session: Any) -> Address | None:
        a = self.addresses.get(recipient)
        return copy.deepcopy(a) if a else None

    async def get_addresses(self, recipients: list[str], session: Any) -> dict[str, Address]:
        return {r: copy.deepcopy(self.addresses[r]) for r in recipients if r in self.addresses}

    async def save_address(self, address: Address, session: Any) -> None:
        self.addresses[address.recipient_hash] = copy.deepcopy(address)

    async def get_subscription(self, sub_id: str, session: Any) -> Subscription | None:
        return copy.deepcopy(self.subscriptions.get(sub_id))

    async def save_subscription(self, sub: Subscription, session: Any) -> None:
        self.subscriptions[sub.id] = copy.deepcopy(sub)

    async def reply_subscription(self, comment_id: str, session: Any) -> Subscription | None:
        return next(
            (
                s
                for s in self.subscriptions.values()
                if s.comment_id == comment_id and s.kind == "reply" and s.active
            ),
            None,
        )

    async def followers(self, article_id: str, session: Any) -> list[Subscription]:
        return [
            s
            for s in self.subscriptions.values()
            if s.article_id == article_id and s.kind == "follow" and s.active
        ]

    async def end_subscription(self, sub_id: str, session: Any) -> None:
        if sub_id in self.subscriptions:
            self.subscriptions[sub_id].active = False

    async def end_subscriptions_of(self, recipient: str, session: Any) -> None:
        for s in self.subscriptions.values():
            if s.recipient_hash == recipient:
                s.active = False

    async def end_subscriptions_for_comment(self, comment_id: str, session: Any) -> None:
        for s in self.subscriptions.values():
            if s.comment_id == comment_id:
                s.active = False

    async def add_delivery(self, delivery: Delivery, session: Any) -> bool:
        if delivery.id in self.deliveries:
            return False
        self.deliveries[delivery.id] = copy.deepcopy(delivery)
        return True

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        return copy.deepcopy(self.deliveries.get(delivery_id))

    async def recent_individual(
        self, recipient: str, article_id: str, since: datetime, session: Any
    ) -> list[datetime]:
        return sorted(
            d.created_at
            for d in self.deliveries.values()
            if d.recipient_hash == recipient
            and d.article_id == article_id
            and d.created_at >= since
            and d.kind in INDIVIDUAL_KINDS
            and d.state.value in LIVE_STATES
        )

    async def open_digest(self, recipient: str, article_id: str, session: Any) -> Delivery | None:
        return next(
            (
                copy.deepcopy(d)
                for d in self.deliveries.values()
                if d.recipient_hash == recipient
                and d.article_id == article_id
                and d.kind == "digest"
                and d.state == DeliveryState.PENDING
            ),
            None,
        )

    async def add_digest_item(self, delivery_id: str, item: DigestItem, session: Any) -> bool:
        d = self.deliveries[delivery_id]
        if d.state != DeliveryState.PENDING:
            return False
        d.items.append(item)
        d.comment_ids.append(item.comment_id)
        return True

    async def cancel_for_comment(self, comment_id: str, session: Any) -> None:
        for d in self.deliveries.values():
            if comment_id not in d.comment_ids or d.state not in (
                DeliveryState.PENDING,
                DeliveryState.SENDING,
            ):
                continue
            if d.kind == "digest" and d.state == DeliveryState.SENDING:
                continue
            if d.state == DeliveryState.SENDING:
                self.cancel_requested.add(d.id)
                continue
            if d.kind == "digest":
                d.items = [i for i in d.items if i.comment_id != comment_id]
                d.comment_ids = [c for c in d.comment_ids if c != comment_id]
                if not d.items:
                    d.state = DeliveryState.CANCELLED
            else:
                d.state = DeliveryState.CANCELLED

    async def cancel_pending_to(
        self, recipient: str, session: Any, *, subscription_id: str | None = None
    ) -> None:
        for d in self.deliveries.values():
            if (
                d.recipient_hash == recipient
                and d.state == DeliveryState.PENDING
                and (subscription_id is None or d.subscription_id == subscription_id)
            ):
                d.state = DeliveryState.CANCELLED

    async def release_expired(self, now: datetime, session: Any = None) -> None:
        for d in self.deliveries.values():
            lease = self.claims.get(d.id)
            if d.state == DeliveryState.SENDING and lease is not None and lease[1] < now:
                d.state, d.next_attempt_at = DeliveryState.PENDING, now

    async def due_ids(self, now: datetime, limit: int) -> list[str]:
        due = [
            d
            for d in self.deliveries.values()
            if d.state == DeliveryState.PENDING and d.next_attempt_at <= now
        ]
        return [d.id for d in sorted(due, key=lambda d: d.next_attempt_at)][:limit]

    async def claim(
        self,
        ids: list[str],
        now: datetime,
        *,
        lease_until: datetime,
        claim: str,
        session: Any = None,
    ) -> list[Delivery]:
        out = []
        for delivery_id in ids:
            d = self.deliveries[delivery_id]
            if d.state != DeliveryState.PENDING or d.next_attempt_at > now:
                continue
            d.state = DeliveryState.SENDING
            d.attempts += 1
            self.claims[d.id] = (claim, lease_until)
            out.append(copy.deepcopy(d))
        return out

    async def mark_sent(self, delivery_ids: list[str], now: datetime, session: Any) -> None:
        for delivery_id in delivery_ids:
            d = self.deliveries[delivery_id]
            d.state, d.sent_at, d.last_error = DeliveryState.SENT, now, None

    async def reschedule(self, delivery_id: str, at: datetime, error: str, session: Any) -> None:
        d = self.deliveries[delivery_id]
        if delivery_id in self.cancel_requested:
            d.state = DeliveryState.CANCELLED
            return
        d.state, d.next_attempt_at, d.last_error = DeliveryState.PENDING, at, error

    async def mark_failed(self, delivery_id: str, error: str, now: datetime, session: Any) -> None:
        d = self.deliveries[delivery_id]
        d.state, d.last_error = DeliveryState.FAILED, error

    async def retry_failed(
        self, delivery_id: str, now: datetime, deadline: datetime, session: Any
    ) -> bool:
        d = self.deliveries.get(delivery_id)
        if d is None or d.state != DeliveryState.FAILED:
            return False
        d.state, d.next_attempt_at, d.deadline, d.attempts = (
            DeliveryState.PENDING,
            now,
            deadline,
            0,
        )
        return True

    async def list_deliveries(
        self, state: DeliveryState | None, limit: int, before: str | None
    ) -> list[Delivery]:
        items = sorted(self.deliveries.values(), key=lambda d: d.id, reverse=True)
        items = [d for d in items if state is None or d.state == state]
        items = [d for d in items if before is None or d.id < before]
        return items[:limit]

    def in_state(self, state: DeliveryState) -> list[Delivery]:
        return [d for d in self.deliveries.values() if d.state == state]


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.events: list[IntegrationEvent] = []

    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        tx = Transaction(session=None)  # type: ignore[arg-type]
        result = await work(tx)
        self.events.extend(tx.events)
        return result


class FakeInbox:
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    async def handle_once(
        self, handler: str, event_id: str, effects: Callable[[Any], Awaitable[None]]
    ) -> bool:
        if (handler, event_id) in self.seen:
            return False
        await effects(None)
        self.seen.add((handler, event_id))
        return True


class FakeLimiter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def hit(self, key: str, rule: RateLimit) -> RateLimitResult:
        self.counts[key] = self.counts.get(key, 0) + 1
        allowed = self.counts[key] <= rule.limit
        return RateLimitResult(allowed, max(0, rule.limit - self.counts[key]), 0 if allowed else 60)


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.failure: Exception | None = None

    async def send(self, mail: OutgoingMail) -> None:
        if self.failure is not None:
            raise self.failure
        parsed = message_from_bytes(mail.data, policy=default)
        assert isinstance(parsed, EmailMessage)
        assert mail.recipient == parsed["To"]
        self.sent.append(parsed)

    async def close(self) -> None:
        pass

    def to(self, email: str) -> list[EmailMessage]:
        return [m for m in self.sent if m["To"] == email]


class World:
    """Everything a unit test needs, wired like bootstrap does but on fakes."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.repo = FakeRepository()
        self.uow = FakeUnitOfWork()
        self.inbox = FakeInbox()
        self.limiter = FakeLimiter()
        self.mailer = FakeMailer()
        self.retry = RetryPolicy(
            initial_backoff=timedelta(seconds=5),
            max_backoff=timedelta(minutes=15),
            max_age=timedelta(hours=24),
        )
        self.signer = LinkSigner("test-secret", confirm_max_age_seconds=3600)
        self.composer = MailComposer(
            mail_from="Broadsheet <notifications@news.example>",
            reply_to="desk@news.example",
            public_base_url="https://news.example",
            unsubscribe_mailto="unsubscribe@news.example",
            signer=self.signer,
        )
        self.planner = Planner(
            self.repo,  # type: ignore[arg-type]
            Policies(self.retry, DigestPolicy(3, timedelta(minutes=10)), 24 * 3600),
            self.clock,
        )
        self.queued = 0
        self.subscriptions = SubscriptionService(
            self.repo,  # type: ignore[arg-type]
            self.uow,
            self.planner,
            self.signer,
            self.limiter,
            FollowLimits(RateLimit(10, 3600), RateLimit(5, 3600)),
            on_queued=self._queued,
            clock=self.clock,
        )
        self.staff = StaffService(
            self.repo,  # type: ignore[arg-type]
            self.uow,
            self.retry,
            clock=self.clock,
        )

    def _queued(self) -> None:
        self.queued += 1


@pytest.fixture
def world() -> World:
    return World()


class Events:
    """Builders of real event objects, shaped exactly like the comments/articles contract."""

    article_id = "art-1"

    @staticmethod
    def article(slug: str = "foreign-affairs-1", article_id: str = "art-1") -> Any:
        from broadsheet_shared.events import ArticleData, ArticlePublishedV1, SectionRef

        return ArticlePublishedV1(
            subject=article_id,
            data=ArticleData(
                article_id=article_id,
                slug=slug,
                title="Talks resume in Geneva",
                section=SectionRef(slug="foreign-affairs", name="Foreign Affairs"),
                url_path=f"/articles/{slug}",
                comments_open=True,
                published_at=datetime(2026, 1, 1, tzinfo=UTC),
                revision=1,
            ),
        )

    @staticmethod
    def posted(
        comment_id: str,
        email: str | None,
        *,
        parent_id: str | None = None,
        article_id: str = "art-1",
        status: str = "approved",
    ) -> Any:
        from broadsheet_shared.events import CommentPostedData, CommentPostedV1, email_hash

        return CommentPostedV1(
            subject=comment_id,
            data=CommentPostedData(
                comment_id=comment_id,
                article_id=article_id,
                article_slug="foreign-affairs-1",
                parent_id=parent_id,
                author_name="Ada",
                status=status,  # type: ignore[arg-type]
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                notify_replies=email is not None,
                author_email=email,
                author_email_hash=email_hash(email) if email else None,
            ),
        )

    @staticmethod
    def approved(
        comment_id: str,
        *,
        parent_id: str | None = None,
        author_email: str | None = "bob@example.org",
        author_name: str = "Bob",
        article_id: str = "art-1",
        excerpt: str = "I disagree <b>strongly</b>",
        title: str = "Talks resume in Geneva",
    ) -> Any:
        from broadsheet_shared.events import CommentApprovedData, CommentApprovedV1, email_hash

        return CommentApprovedV1(
            subject=comment_id,
            data=CommentApprovedData(
                comment_id=comment_id,
                article_id=article_id,
                article_slug="foreign-affairs-1",
                article_title=title,
                article_url_path="/articles/foreign-affairs-1",
                parent_id=parent_id,
                author_name=author_name,
                author_email_hash=email_hash(author_email) if author_email else None,
                excerpt=excerpt,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                approved_at=datetime(2026, 1, 1, tzinfo=UTC),
            ),
        )

    @staticmethod
    def rejected(comment_id: str, article_id: str = "art-1") -> Any:
        from broadsheet_shared.events import CommentRejectedData, CommentRejectedV1

        return CommentRejectedV1(
            subject=comment_id,
            data=CommentRejectedData(
                comment_id=comment_id, article_id=article_id, parent_id=None, reason="rejected"
            ),
        )

    @staticmethod
    def deleted(comment_id: str, article_id: str = "art-1") -> Any:
        from broadsheet_shared.events import CommentDeletedData, CommentDeletedV1

        return CommentDeletedV1(
            subject=comment_id,
            data=CommentDeletedData(comment_id=comment_id, article_id=article_id),
        )


@pytest.fixture(scope="session")
def ev() -> type[Events]:
    return Events


def mailto_request(message: bytes) -> tuple[str, str]:
    """What a mail client sends for a message's ``List-Unsubscribe`` mailto: (to, subject)."""
    parsed = message_from_bytes(message, policy=default)
    header = str(parsed["List-Unsubscribe"])
    mailto = next(p.strip(" <>") for p in header.split(",") if "mailto:" in p)
    url = urlsplit(mailto)
    return unquote(url.path), parse_qs(url.query)["subject"][0]


@pytest.fixture(scope="session")
def mailto() -> Callable[[bytes], tuple[str, str]]:
    return mailto_request
