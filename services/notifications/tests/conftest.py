"""The unit tests' world (the use cases wired on fakes, as bootstrap wires them on MongoDB),
event builders and shared fixtures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from broadsheet_notifications.commands import ConfirmAddress
from broadsheet_notifications.domain import Delivery, DigestPolicy, RetryPolicy
from broadsheet_notifications.mail import MailComposer
from broadsheet_notifications.mydata import MyDataService
from broadsheet_notifications.planner import Planner, Policies
from broadsheet_notifications.service import FollowLimits, SubscriptionService
from broadsheet_notifications.settings import Settings
from broadsheet_notifications.staff import StaffService
from broadsheet_notifications.tokens import LinkSigner
from broadsheet_shared.addresses import normalize_email
from broadsheet_shared.auth import Principal
from broadsheet_shared.events import (
    ArticleData,
    ArticlePublishedV1,
    CommentApprovedData,
    CommentApprovedV1,
    CommentDeletedData,
    CommentDeletedV1,
    CommentPostedData,
    CommentPostedV1,
    CommentRejectedData,
    CommentRejectedV1,
    SectionRef,
)
from broadsheet_shared.grants import DataGrants
from broadsheet_shared.ratelimit import RateLimit
from broadsheet_shared.testing import (
    DEV_DIGEST,
    FakeInbox,
    FakeRateLimiter,
    FakeStaffAccess,
    FakeUnitOfWork,
    TestClock,
)

from .fakes import FakeMailer, FakeRepositories


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


class World:
    """Everything a unit test needs, wired like bootstrap does but on fakes."""

    def __init__(self) -> None:
        self.clock = TestClock(now=datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
        self.repos = FakeRepositories()
        self.uow = FakeUnitOfWork(*self.repos.stores)
        self.inbox = FakeInbox()
        self.staff_access = FakeStaffAccess()
        self.limiter = FakeRateLimiter()
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
        repos = self.repos
        self.planner = Planner(
            repos.articles,
            repos.addresses,
            repos.subscriptions,
            repos.ledger,
            repos.digests,
            self.limiter,
            Policies(self.retry, DigestPolicy(3, timedelta(minutes=10)), RateLimit(3, 86400)),
            DEV_DIGEST,
            self.clock,
        )
        self.queued = 0
        self.subscriptions = SubscriptionService(
            repos.articles,
            repos.addresses,
            repos.subscriptions,
            repos.ledger,
            self.uow,
            self.planner,
            self.signer,
            self.limiter,
            FollowLimits(RateLimit(10, 3600), RateLimit(5, 3600)),
            DEV_DIGEST,
            on_queued=self._queued,
            clock=self.clock,
        )
        self.grants = DataGrants("test-grant-key")
        self.my_data = MyDataService(
            repos.articles,
            repos.addresses,
            repos.subscriptions,
            repos.ledger,
            self.uow,
            self.planner,
            self.signer,
            self.grants,
            self.limiter,
            FollowLimits(RateLimit(10, 3600), RateLimit(5, 3600)),
            DEV_DIGEST,
            on_queued=self._queued,
            clock=self.clock,
        )
        self.moderator = Principal("m1", "moderator", "Mo Derator", client="203.0.113.9")
        self.staff = StaffService(
            repos.addresses,
            repos.ledger,
            self.uow,
            self.retry,
            DEV_DIGEST,
            clock=self.clock,
        )

    def _queued(self) -> None:
        self.queued += 1

    def confirmations_to(self, email: str) -> list[Delivery]:
        """The confirmation mails recorded for ``email``, oldest first."""
        recipient = DEV_DIGEST(normalize_email(email))
        mails = [
            d
            for d in self.repos.ledger.deliveries.values()
            if d.kind == "confirmation" and d.recipient_hash == recipient
        ]
        return sorted(mails, key=lambda d: d.created_at)

    def confirm_token(self, email: str) -> str:
        """The link in the latest confirmation mail to ``email``, as the mail carries it."""
        latest = self.confirmations_to(email)[-1]
        return self.signer.confirm_token(latest.recipient_hash, latest.created_at)

    async def confirm(self, email: str) -> dict[str, Any]:
        """The owner of ``email`` clicks Confirm in the latest confirmation mail."""
        return await self.subscriptions.confirm(ConfirmAddress(self.confirm_token(email)))


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
async def published(world: World, ev: type[Events]) -> World:
    """The world once the article "foreign-affairs-1" is published."""
    await world.planner.article_changed(ev.article().data)
    return world


class Events:
    """Builders of real event objects, shaped exactly like the comments/articles contract."""

    article_id = "art-1"

    @staticmethod
    def article(slug: str = "foreign-affairs-1", article_id: str = "art-1") -> ArticlePublishedV1:

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
    ) -> CommentPostedV1:

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
                author_email_hash=DEV_DIGEST(email) if email else None,
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
    ) -> CommentApprovedV1:

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
                author_email_hash=DEV_DIGEST(author_email) if author_email else None,
                excerpt=excerpt,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                approved_at=datetime(2026, 1, 1, tzinfo=UTC),
            ),
        )

    @staticmethod
    def rejected(comment_id: str, article_id: str = "art-1") -> CommentRejectedV1:

        return CommentRejectedV1(
            subject=comment_id,
            data=CommentRejectedData(
                comment_id=comment_id, article_id=article_id, parent_id=None, reason="rejected"
            ),
        )

    @staticmethod
    def deleted(comment_id: str, article_id: str = "art-1") -> CommentDeletedV1:

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
