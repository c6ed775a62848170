"""The event planner: for each article and comment event, the projection rows, subscriptions and
ledger rows (whom to email) it implies. The delivery worker sends what it records.

It also records subscription requests (a follow, a "notify me of replies") and the confirmation
mail they call for: a request takes effect only when the address's owner confirms it, and
confirmation mail is rate-limited per mailbox, each mail listing every pending request.

The comment handlers run inside the consumer's exactly-once transaction (the ``session`` they
are given) and never commit themselves; the article projection is a plain upsert of the latest
state, harmless to replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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
)
from broadsheet_notifications.repository import (
    AddressRepository,
    ArticleRepository,
    ArticleView,
    DigestRepository,
    LedgerRepository,
    SubscriptionRepository,
)
from broadsheet_shared.addresses import AddressDigest, mailbox_key, normalize_email
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.events import (
    ArticleData,
    ArticleRevisionRef,
    CommentApprovedData,
    CommentPostedData,
    StaffPasswordLinkData,
)
from broadsheet_shared.mongo import Session
from broadsheet_shared.ratelimit import RateLimit, RateLimiter

# What is requested for a recipient hash at a time: Subscription.to_article/to_replies, bound.
Request = Callable[[str, datetime], Subscription]


@dataclass(frozen=True)
class Policies:
    retry: RetryPolicy
    digest: DigestPolicy
    # Confirmation mails per mailbox (plus-addressed variants are one mailbox) and window.
    confirmation_limit: RateLimit


def describe_requests(
    subs: list[Subscription], articles: dict[str, ArticleView]
) -> list[dict[str, str]]:
    """What a reader is asked to confirm, in their words: the subscription's id and kind, and
    the article's title and path (the article may be gone from the projection: no title)."""
    described = []
    for sub in subs:
        article = articles.get(sub.article_id)
        described.append(
            {
                "id": sub.id,
                "kind": sub.kind,
                "article_title": article.title if article else "",
                "article_url_path": article.url_path if article else "",
            }
        )
    return described


def asks_for_replies(data: CommentPostedData) -> bool:
    """Whether a new comment asks for its author to hear of replies, with an address to ask
    at; spam asks nothing."""
    return data.notify_replies and data.author_email is not None and data.status != "spam"


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
        limiter: RateLimiter,
        policies: Policies,
        digest: AddressDigest,
        clock: Clock = utcnow,
    ) -> None:
        self._articles = articles
        self._addresses = addresses
        self._subscriptions = subscriptions
        self._ledger = ledger
        self._digests = digests
        self._limiter = limiter
        self._policies = policies
        self._digest = digest
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

    async def request_subscription(
        self, email: str, request: Request, session: Session | None
    ) -> bool:
        """Record that someone (anyone) asked for a subscription for ``email``: a pending request,
        whatever the address's state, that takes effect only when its owner confirms it. A
        suppressed address records nothing; an active subscription stays as it is; an ended
        one becomes a new request. True when a confirmation mail was queued."""
        now = self._clock()
        normalized = normalize_email(email)
        recipient = self._digest(normalized)
        address = await self._addresses.get(recipient, session)
        if address is None:
            address = Address.new(normalized, now, self._digest)
            await self._addresses.save(address, session)
        if address.refuses_requests:
            return False
        requested = request(recipient, now)
        existing = await self._subscriptions.get(requested.id, session)
        if existing is None:
            await self._subscriptions.save(requested, session)
        elif existing.request(now):
            await self._subscriptions.save(existing, session)
        return await self._mail_confirmation(address, session)

    async def _mail_confirmation(self, address: Address, session: Session | None) -> bool:
        """Queue one confirmation mail listing every pending request of the address, when one of
        them was never listed in a mail and the mailbox's allowance has room. Otherwise the
        requests wait: for the next mail, or for a click on an earlier link's page."""
        pending = await self._subscriptions.pending_of(address.recipient_hash, session)
        if all(sub.mailed_at is not None for sub in pending):
            return False
        # Counted outside the transaction: a retried transaction may spend the allowance twice,
        # which sends fewer mails, never more.
        allowance = await self._limiter.hit(
            f"confirmation:{self._digest(mailbox_key(address.email))}",
            self._policies.confirmation_limit,
        )
        if not allowance.allowed:
            return False
        now = self._clock()
        articles = await self._articles.by_ids(sorted({sub.article_id for sub in pending}), session)
        for sub in pending:
            sub.mailed_at = now
            await self._subscriptions.save(sub, session)
        await self._ledger.add(
            self._delivery(
                kind="confirmation",
                # One mail per (time, list): two mails written at one clock reading differ.
                key=":".join(["confirmation", now.isoformat(), *(sub.id for sub in pending)]),
                address=address,
                article_id=None,
                source_event_id=None,
                content={"requests": describe_requests(pending, articles)},
            ),
            session,
        )
        return True

    async def mail_manage_link(self, email: str, session: Session | None) -> bool:
        """Queue a mail with a link to the page managing the address's subscriptions, when we
        know the address, it may receive mail and the mailbox's allowance (shared with nothing
        else) has room. True when one was queued; the caller tells nobody which way it went."""
        address = await self._addresses.get(self._digest(normalize_email(email)), session)
        if address is None or address.refuses_requests:
            return False
        allowance = await self._limiter.hit(
            f"manage:{self._digest(mailbox_key(address.email))}",
            self._policies.confirmation_limit,
        )
        if not allowance.allowed:
            return False
        now = self._clock()
        await self._ledger.add(
            self._delivery(
                kind="manage",
                key=f"manage:{now.isoformat()}",
                address=address,
                article_id=None,
                source_event_id=None,
            ),
            session,
        )
        return True

    async def staff_password_link(
        self, event_id: str, data: StaffPasswordLinkData, session: Session | None
    ) -> None:
        """Mail a new staff account's owner their set-password link: one mail per event. It is
        account mail an admin asked for, not a subscription, so it has no unsubscribe link; a
        suppressed address still cancels it (``cancel_pending_to``)."""
        email = normalize_email(data.email)
        await self._ledger.add(
            self._delivery(
                kind="staff_password",
                key=event_id,
                address=Address.new(email, self._clock(), self._digest),
                article_id=None,
                source_event_id=event_id,
                content={
                    "name": data.name,
                    "token": data.token,
                    "expires_at": data.expires_at.isoformat(),
                },
            ),
            session,
        )

    async def mail_data_link(self, email: str, session: Session | None) -> bool:
        """Queue a mail with a link to the address's my-data page, unless staff suppressed the
        address or the mailbox's allowance (its own) is spent. Unlike the manage link it goes to
        addresses we do not know too (a commenter who never subscribed has data in comments),
        and records no address: only the delivery row, like any mail. True when one was queued;
        the caller tells nobody which way it went."""
        normalized = normalize_email(email)
        now = self._clock()
        address = await self._addresses.get(self._digest(normalized), session)
        if address is not None and address.suppressed:
            return False
        allowance = await self._limiter.hit(
            f"data:{self._digest(mailbox_key(normalized))}", self._policies.confirmation_limit
        )
        if not allowance.allowed:
            return False
        await self._ledger.add(
            self._delivery(
                kind="data",
                key=f"data:{now.isoformat()}",
                address=Address.new(normalized, now, self._digest),
                article_id=None,
                source_event_id=None,
            ),
            session,
        )
        return True

    async def article_changed(self, data: ArticleData, *, live: bool = True) -> None:
        """``live`` False: an unpublished article's state, from a rebuild."""
        await self._articles.save(
            ArticleView(
                article_id=data.article_id,
                slug=data.slug,
                slugs=[data.slug, *data.previous_slugs],
                title=data.title,
                url_path=data.url_path,
                revision=data.revision,
                live=live,
            ),
            None,
        )

    async def article_gone(self, article_id: str) -> None:
        await self._articles.mark_gone(article_id, None)

    async def article_withdrawn(self, ref: ArticleRevisionRef) -> None:
        """Unpublished or deleted at ``ref.revision`` (v2 events): gone at that revision, so a
        late older publication changes nothing. Known only by its reference when the
        publications have not arrived yet: it is not live, so no one reads the rest."""
        await self._articles.withdraw(
            ArticleView(
                article_id=ref.article_id,
                slug=ref.slug,
                slugs=[ref.slug],
                title="",
                url_path=ref.url_path,
                revision=ref.revision,
                live=False,
            ),
            None,
        )

    async def comment_posted(self, data: CommentPostedData, session: Session | None) -> bool:
        """A "notify me of replies" is a request like a follow: pending until the address's owner
        confirms it. True when a confirmation mail was queued."""
        if not asks_for_replies(data):
            return False
        comment_id, article_id = data.comment_id, data.article_id
        return await self.request_subscription(
            str(data.author_email),
            lambda recipient, now: Subscription.to_replies(comment_id, article_id, recipient, now),
            session,
        )

    async def comment_approved(
        self, event_id: str, data: CommentApprovedData, session: Session | None
    ) -> int:
        """Record one delivery (or digest item) per recipient. Returns how many were recorded."""
        reply_sub, followers = await self._subscriptions.of_new_comment(
            data.article_id, data.parent_id, session
        )
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
        # One query and one insert for all recipients, whatever their number: each round trip
        # happens inside the event's transaction, so a followed article's fan-out costs the
        # consumer little more than a reply to one reader.
        recent_of = await self._digests.recent_individual(
            [recipient.recipient_hash for recipient in recipients],
            data.article_id,
            now - policy.window,
            session,
        )
        deliveries: list[Delivery] = []
        for recipient in recipients:
            address = addresses[recipient.recipient_hash]
            recent = recent_of.get(recipient.recipient_hash, [])
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
            deliveries.append(delivery)
        await self._ledger.add_many(deliveries, session)
        return len(recipients)

    async def comment_withdrawn(self, comment_id: str, session: Session | None) -> None:
        """Rejected or deleted: whatever has not gone out yet never will."""
        await self._ledger.cancel_for_comment(comment_id, session)
        await self._digests.withdraw_comment(comment_id, session)
        await self._subscriptions.end_for_comment(comment_id, session)
