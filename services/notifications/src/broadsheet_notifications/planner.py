"""The event planner: for each article and comment event, the projection rows, subscriptions and
ledger rows (whom to email) it implies. The delivery worker sends what it records.

The comment handlers run inside the consumer's exactly-once transaction (the ``session`` they
are given) and never commit themselves; the article projection is a plain upsert of the latest
state, harmless to replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from broadsheet_notifications.domain import (
    Address,
    Delivery,
    DeliveryKind,
    DigestItem,
    DigestPolicy,
    RetryPolicy,
    Subscription,
    delivery_id,
    goes_to_digest,
    plan_recipients,
    recipient_hash,
)
from broadsheet_notifications.repository import (
    AddressRepository,
    ArticleRepository,
    ArticleView,
    DigestRepository,
    LedgerRepository,
    SubscriptionRepository,
)
from broadsheet_shared.addresses import normalize_email
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.events import ArticleData, CommentApprovedData, CommentPostedData
from broadsheet_shared.mongo import Session


@dataclass(frozen=True)
class Policies:
    retry: RetryPolicy
    digest: DigestPolicy
    confirmation_cooldown: timedelta


def _comment_path(article_url_path: str, comment_id: str) -> str:
    return f"{article_url_path}#comment-{comment_id}"


class Planner:
    """Records, for each event, whom to email: the ledger rows the delivery worker sends."""

    def __init__(
        self,
        articles: ArticleRepository,
        addresses: AddressRepository,
        subscriptions: SubscriptionRepository,
        ledger: LedgerRepository,
        digests: DigestRepository,
        policies: Policies,
        clock: Clock = utcnow,
    ) -> None:
        self._articles = articles
        self._addresses = addresses
        self._subscriptions = subscriptions
        self._ledger = ledger
        self._digests = digests
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
        items: list[DigestItem] | None = None,
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
            items=items or [],
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
        if not address.needs_confirmation_mail(now, self._policies.confirmation_cooldown):
            return False
        address.confirmation_sent_at = now
        await self._addresses.save(address, session)
        await self._ledger.add(
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
        await self._articles.save(
            ArticleView(
                article_id=data.article_id,
                slug=data.slug,
                slugs=[data.slug, *data.previous_slugs],
                title=data.title,
                url_path=data.url_path,
                revision=data.revision,
            ),
            None,
        )

    async def article_gone(self, article_id: str) -> None:
        await self._articles.mark_gone(article_id, None)

    async def comment_posted(self, data: CommentPostedData, session: Session | None) -> bool:
        """Subscribe the author to replies when they asked to. True when a mail was queued."""
        if not data.notify_replies or data.author_email is None or data.status == "spam":
            return False
        now = self._clock()
        email = normalize_email(str(data.author_email))
        address = await self._addresses.get(recipient_hash(email), session)
        if address is None:
            address = Address.new(email, now)
            await self._addresses.save(address, session)
        await self._subscriptions.save(
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
            await self._subscriptions.to_replies(data.parent_id, session)
            if data.parent_id
            else None
        )
        followers = await self._subscriptions.followers(data.article_id, session)
        hashes = [sub.recipient_hash for sub in [*([reply_sub] if reply_sub else []), *followers]]
        addresses = await self._addresses.get_many(sorted(set(hashes)), session)
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
            recent = await self._digests.recent_individual(
                recipient.recipient_hash, data.article_id, now - policy.window, session
            )
            if not goes_to_digest(len(recent), policy):
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
            else:
                # A digest can only be open while the window holds max_per_window emails, so
                # the common case (a few emails) needs no digest lookup.
                digest = await self._digests.open_for(
                    recipient.recipient_hash, data.article_id, session
                )
                if (
                    digest is not None
                    and digest.next_attempt_at > now  # the window is still open
                    and await self._digests.add_item(digest.id, item, session)
                ):
                    continue
                # The digest goes out when the window that the first of these emails opened
                # ends.
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
                    items=[item],
                    send_at=recent[0] + policy.window,
                )
            await self._ledger.add(delivery, session)
        return len(recipients)

    async def comment_withdrawn(self, comment_id: str, session: Session | None) -> None:
        """Rejected or deleted: whatever has not gone out yet never will."""
        await self._ledger.cancel_for_comment(comment_id, session)
        await self._digests.withdraw_comment(comment_id, session)
        await self._subscriptions.end_for_comment(comment_id, session)
