"""Use cases: subscribing, confirming, unsubscribing, planning deliveries from comment events,
and the staff's view of the ledger. They take repositories and a unit of work; they never commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

from broadsheet_notifications.domain import (
    Address,
    AddressState,
    AddressSuppressed,
    Delivery,
    DeliveryKind,
    DeliveryState,
    DigestItem,
    DigestPolicy,
    RetryPolicy,
    Subscription,
    delivery_id,
    goes_to_digest,
    mask_email,
    normalize_email,
    plan_recipients,
    recipient_hash,
)
from broadsheet_notifications.repository import ArticleView, NotificationsRepository
from broadsheet_notifications.tokens import InvalidLink, LinkSigner
from broadsheet_shared.events import (
    ArticleData,
    CommentApprovedData,
    CommentPostedData,
)
from broadsheet_shared.http.problems import Problem
from broadsheet_shared.mongo import Session
from broadsheet_shared.ratelimit import RateLimit, RateLimitResult, raise_if_limited
from broadsheet_shared.unit_of_work import Transaction

T = TypeVar("T")
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UnitOfWork(Protocol):
    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T: ...


class Inbox(Protocol):
    async def handle_once(
        self, handler: str, event_id: str, effects: Callable[[Session], Awaitable[None]]
    ) -> bool: ...


class Limiter(Protocol):
    async def hit(self, key: str, rule: RateLimit) -> RateLimitResult: ...


@dataclass(frozen=True)
class Policies:
    retry: RetryPolicy
    digest: DigestPolicy
    confirmation_cooldown_seconds: int

    @property
    def cooldown(self) -> timedelta:
        return timedelta(seconds=self.confirmation_cooldown_seconds)


def _comment_path(article_url_path: str, comment_id: str) -> str:
    return f"{article_url_path}#comment-{comment_id}"


class Planner:
    """Records, for each event, whom to email: the ledger rows the delivery worker sends."""

    def __init__(
        self,
        repo: NotificationsRepository,
        policies: Policies,
        clock: Clock = utcnow,
    ) -> None:
        self._repo = repo
        self._policies = policies
        self._clock = clock

    def _delivery(
        self,
        *,
        kind: DeliveryKind,
        key: str,
        address: Address,
        article_id: str | None,
        source_event_id: str | None,
        subscription_id: str | None = None,
        comment_ids: list[str] | None = None,
        content: dict[str, Any] | None = None,
        send_at: datetime | None = None,
    ) -> Delivery:
        now = self._clock()
        return Delivery(
            id=delivery_id(key, address.recipient_hash),
            kind=kind,
            recipient_hash=address.recipient_hash,
            email=address.email,
            article_id=article_id,
            source_event_id=source_event_id,
            subscription_id=subscription_id,
            comment_ids=comment_ids or [],
            content=content or {},
            created_at=now,
            next_attempt_at=send_at or now,
            deadline=(send_at or now) + self._policies.retry.max_age,
        )

    async def request_confirmation(
        self,
        address: Address,
        *,
        reason: str,
        article_id: str | None,
        session: Session | None,
    ) -> bool:
        """Queue a confirmation mail unless one went out within the cooldown."""
        now = self._clock()
        if not address.needs_confirmation_mail(now, self._policies.cooldown):
            return False
        address.confirmation_sent_at = now
        await self._repo.save_address(address, session)
        await self._repo.add_delivery(
            self._delivery(
                kind="confirmation",
                key=f"confirmation:{now.isoformat()}",
                address=address,
                article_id=article_id,
                source_event_id=None,
                content={"reason": reason},
            ),
            session,
        )
        return True

    async def article_changed(self, data: ArticleData) -> None:
        await self._repo.save_article(
            ArticleView(
                article_id=data.article_id,
                slug=data.slug,
                slugs=[data.slug, *data.previous_slugs],
                title=data.title,
                url_path=data.url_path,
            ),
            None,
        )

    async def article_gone(self, article_id: str) -> None:
        await self._repo.mark_article_gone(article_id, None)

    async def comment_posted(self, data: CommentPostedData, session: Session | None) -> bool:
        """Subscribe the author to replies when they asked to. True when a mail was queued."""
        if not data.notify_replies or data.author_email is None or data.status == "spam":
            return False
        now = self._clock()
        email = normalize_email(str(data.author_email))
        address = await self._repo.get_address(recipient_hash(email), session)
        if address is None:
            address = Address.new(email, now)
            await self._repo.save_address(address, session)
        await self._repo.save_subscription(
            Subscription.to_replies(data.comment_id, data.article_id, address.recipient_hash, now),
            session,
        )
        return await self.request_confirmation(
            address, reason="replies to your comment", article_id=data.article_id, session=session
        )

    async def comment_approved(
        self, event_id: str, data: CommentApprovedData, session: Session | None
    ) -> int:
        """Record one delivery (or digest item) per recipient. Returns how many were recorded."""
        reply_sub = (
            await self._repo.reply_subscription(data.parent_id, session) if data.parent_id else None
        )
        followers = await self._repo.followers(data.article_id, session)
        hashes = [sub.recipient_hash for sub in [*([reply_sub] if reply_sub else []), *followers]]
        addresses = await self._repo.get_addresses(sorted(set(hashes)), session)
        recipients = plan_recipients(
            author_hash=data.author_email_hash,
            reply_subscription=reply_sub,
            followers=followers,
            addresses=addresses,
        )
        comment_path = _comment_path(data.article_url_path, data.comment_id)
        content = {
            "article_title": data.article_title,
            "article_url_path": data.article_url_path,
            "comment_id": data.comment_id,
            "comment_url_path": comment_path,
            "author_name": data.author_name,
            "excerpt": data.excerpt,
        }
        item = DigestItem(
            comment_id=data.comment_id,
            author_name=data.author_name,
            excerpt=data.excerpt,
            comment_url_path=comment_path,
        )
        now = self._clock()
        policy = self._policies.digest
        for recipient in recipients:
            address = addresses[recipient.recipient_hash]
            recent = await self._repo.recent_individual(
                recipient.recipient_hash, data.article_id, now - policy.window, session
            )
            # A digest can only be open while the window holds max_per_window emails, so the
            # common case (a few emails) needs no digest lookup.
            digest = (
                await self._repo.open_digest(recipient.recipient_hash, data.article_id, session)
                if goes_to_digest(len(recent), False, policy)
                else None
            )
            if (
                digest is not None
                and digest.next_attempt_at > now  # the window is still open
                and await self._repo.add_digest_item(digest.id, item, session)
            ):
                continue
            if goes_to_digest(len(recent), False, policy):
                # The digest goes out when the window that the first of these emails opened ends.
                delivery = self._delivery(
                    kind="digest",
                    key=f"digest:{event_id}",
                    address=address,
                    article_id=data.article_id,
                    source_event_id=event_id,
                    comment_ids=[data.comment_id],
                    content={
                        "article_title": data.article_title,
                        "article_url_path": data.article_url_path,
                    },
                    send_at=recent[0] + policy.window,
                )
                delivery.items = [item]
            else:
                delivery = self._delivery(
                    kind=recipient.kind,
                    key=event_id,
                    address=address,
                    article_id=data.article_id,
                    source_event_id=event_id,
                    subscription_id=recipient.subscription_id,
                    comment_ids=[data.comment_id],
                    content=content,
                )
            await self._repo.add_delivery(delivery, session)
        return len(recipients)

    async def comment_withdrawn(self, comment_id: str, session: Session | None) -> None:
        """Rejected or deleted: whatever has not gone out yet never will."""
        await self._repo.cancel_for_comment(comment_id, session)
        await self._repo.end_subscriptions_for_comment(comment_id, session)


FollowStatus = Literal["confirmation_sent", "subscribed"]


@dataclass(frozen=True)
class FollowLimits:
    per_client: RateLimit
    per_address: RateLimit


class SubscriptionService:
    def __init__(
        self,
        repo: NotificationsRepository,
        uow: UnitOfWork,
        planner: Planner,
        signer: LinkSigner,
        limiter: Limiter,
        limits: FollowLimits,
        *,
        on_queued: Callable[[], None] = lambda: None,
        clock: Clock = utcnow,
    ) -> None:
        self._repo = repo
        self._uow = uow
        self._planner = planner
        self._signer = signer
        self._limiter = limiter
        self._limits = limits
        self._on_queued = on_queued
        self._clock = clock

    async def follow(self, slug: str, email: str, client: str) -> FollowStatus:
        limits = self._limits
        raise_if_limited(await self._limiter.hit(f"follow:client:{client}", limits.per_client))
        article = await self._repo.article_by_slug(slug)
        if article is None:
            raise Problem(404, "There is no published article at this address.")
        normalized = normalize_email(email)
        recipient = recipient_hash(normalized)
        raise_if_limited(
            await self._limiter.hit(f"follow:address:{recipient}", self._limits.per_address)
        )

        async def work(tx: Transaction) -> FollowStatus:
            now = self._clock()
            address = await self._repo.get_address(recipient, tx.session)
            if address is None:
                address = Address.new(normalized, now)
                await self._repo.save_address(address, tx.session)
            await self._repo.save_subscription(
                Subscription.to_article(article.article_id, recipient, now), tx.session
            )
            if address.state == AddressState.CONFIRMED:
                return "subscribed"
            # A suppressed address is answered like a pending one: no oracle for who is blocked.
            await self._planner.request_confirmation(
                address,
                reason=f"new comments on “{article.title}”",
                article_id=article.article_id,
                session=tx.session,
            )
            return "confirmation_sent"

        status = await self._uow.run(work)
        self._on_queued()
        return status

    def _confirm_claim(self, token: str) -> str:
        try:
            return self._signer.read_confirm(token).target
        except InvalidLink:
            raise Problem(400, "This confirmation link is not valid or has expired.") from None

    async def _address(self, recipient: str, session: Session | None) -> Address:
        address = await self._repo.get_address(recipient, session)
        if address is None:
            raise Problem(404, "We know nothing about this address.")
        return address

    async def confirmation(self, token: str) -> dict[str, str]:
        address = await self._address(self._confirm_claim(token), None)
        return {"email": mask_email(address.email), "status": address.state.value}

    async def confirm(self, token: str) -> dict[str, str]:
        recipient = self._confirm_claim(token)

        async def work(tx: Transaction) -> dict[str, str]:
            address = await self._address(recipient, tx.session)
            try:
                address.confirm(self._clock())
            except AddressSuppressed:
                raise Problem(409, "This address does not receive email from us.") from None
            await self._repo.save_address(address, tx.session)
            return {"email": mask_email(address.email), "status": address.state.value}

        return await self._uow.run(work)

    def _unsubscribe_claim(self, token: str) -> tuple[str, str]:
        try:
            claim = self._signer.read_unsubscribe(token)
        except InvalidLink:
            raise Problem(400, "This unsubscribe link is not valid.") from None
        return claim.scope, claim.target

    async def unsubscription(self, token: str) -> dict[str, Any]:
        scope, target = self._unsubscribe_claim(token)
        if scope == "all":
            address = await self._address(target, None)
            email = mask_email(address.email)
            return {"scope": "all", "email": email, "kind": None, "active": True}
        sub = await self._repo.get_subscription(target, None)
        if sub is None:
            raise Problem(404, "There is no such subscription.")
        address = await self._address(sub.recipient_hash, None)
        return {
            "scope": "subscription",
            "email": mask_email(address.email),
            "kind": sub.kind,
            "active": sub.active,
        }

    async def unsubscribe(self, token: str) -> dict[str, Any]:
        scope, target = self._unsubscribe_claim(token)

        async def work(tx: Transaction) -> dict[str, Any]:
            if scope == "all":
                address = await self._address(target, tx.session)
                await self._repo.end_subscriptions_of(address.recipient_hash, tx.session)
                await self._repo.cancel_pending_to(address.recipient_hash, tx.session)
                return {"status": "unsubscribed", "scope": "all"}
            sub = await self._repo.get_subscription(target, tx.session)
            if sub is None:
                raise Problem(404, "There is no such subscription.")
            await self._repo.end_subscription(sub.id, tx.session)
            await self._repo.cancel_pending_to(
                sub.recipient_hash, tx.session, subscription_id=sub.id
            )
            return {"status": "unsubscribed", "scope": "subscription"}

        return await self._uow.run(work)


class StaffService:
    def __init__(
        self,
        repo: NotificationsRepository,
        uow: UnitOfWork,
        retry: RetryPolicy,
        *,
        on_queued: Callable[[], None] = lambda: None,
        clock: Clock = utcnow,
    ) -> None:
        self._repo = repo
        self._uow = uow
        self._retry = retry
        self._on_queued = on_queued
        self._clock = clock

    async def deliveries(
        self, state: DeliveryState | None, limit: int, cursor: str | None
    ) -> tuple[list[Delivery], str | None]:
        items = await self._repo.list_deliveries(state, limit + 1, cursor)
        next_cursor = items[limit - 1].id if len(items) > limit else None
        return items[:limit], next_cursor

    async def retry(self, delivery_id: str) -> Delivery:
        delivery = await self._repo.get_delivery(delivery_id)
        if delivery is None:
            raise Problem(404, "There is no such delivery.")

        async def work(tx: Transaction) -> bool:
            now = self._clock()
            return await self._repo.retry_failed(
                delivery_id, now, now + self._retry.max_age, tx.session
            )

        if not await self._uow.run(work):
            raise Problem(
                409, f"Only failed deliveries can be retried; this one is {delivery.state}."
            )
        self._on_queued()
        retried = await self._repo.get_delivery(delivery_id)
        assert retried is not None
        return retried

    async def suppress(self, email: str) -> Address:
        normalized = normalize_email(email)

        async def work(tx: Transaction) -> Address:
            now = self._clock()
            recipient = recipient_hash(normalized)
            address = await self._repo.get_address(recipient, tx.session) or Address.new(
                normalized, now
            )
            address.suppress(now)
            await self._repo.save_address(address, tx.session)
            await self._repo.cancel_pending_to(recipient, tx.session)
            return address

        return await self._uow.run(work)
