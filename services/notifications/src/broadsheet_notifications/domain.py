"""The notifications domain: addresses, subscriptions, deliveries and the rules between them.

Pure: no I/O, no clock of its own (callers pass ``now``), so every rule is tested in milliseconds.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from broadsheet_shared.addresses import AddressDigest, normalize_email

DeliveryKind = Literal[
    "reply", "follow", "digest", "confirmation", "manage", "staff_password", "data"
]
SubscriptionKind = Literal["reply", "follow"]


class AddressState(StrEnum):
    PENDING = "pending"  # never confirmed anything
    CONFIRMED = "confirmed"  # its owner clicked a confirmation link
    SUPPRESSED = "suppressed"  # staff stopped all mail to it, for good
    UNSUBSCRIBED = "unsubscribed"  # its owner left everything; receives nothing until a new confirm
    # Its owner erased their data: only the digest is kept, so no request brings it back.
    ERASED = "erased"


class SubscriptionState(StrEnum):
    """A subscription takes effect only once the address's owner confirms it, every time."""

    PENDING = "pending"  # requested (by anyone): nothing but a confirmation mail about it
    ACTIVE = "active"  # confirmed by a click on a link mailed to the address
    ENDED = "ended"  # unsubscribed or withdrawn: stays ended until requested and confirmed again


class DeliveryState(StrEnum):
    PENDING = "pending"  # recorded, waiting to be sent (possibly after a backoff or a window)
    SENDING = "sending"  # claimed by a worker under a lease
    SENT = "sent"
    FAILED = "failed"  # gave up; staff may retry it
    CANCELLED = "cancelled"  # the comment was withdrawn or the recipient left before it went out

    @property
    def finished(self) -> bool:
        """Sent, failed or cancelled: the row only waits for the ledger's retention to end."""
        return self in (DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.CANCELLED)


@dataclass(frozen=True)
class Transition:
    """A named move of a ledger row into ``target``, allowed from the states in ``source``.

    The repository persists a transition guarded by ``source``, so a row that another worker or
    use case has moved on meanwhile is left alone.
    """

    name: str
    source: frozenset[DeliveryState]
    target: DeliveryState

    def allows(self, state: DeliveryState) -> bool:
        return state in self.source


_PENDING = frozenset({DeliveryState.PENDING})
# What a worker records about its attempt (sent, retry, failed, abandoned) applies only to a row
# it still holds: in ``sending`` under its own claim token (the repository fences on both). A
# worker whose lease ran out and whose row another worker claimed changes nothing, and learns so.
_CLAIMED = frozenset({DeliveryState.SENDING})


class Transitions:
    """Every move a ledger row can make, by name."""

    # A worker takes a due row under a lease (a fresh claim token).
    CLAIM = Transition("claim", _PENDING, DeliveryState.SENDING)
    # The worker holding the row stopped renewing its lease (it died or lost the database for a
    # whole lease): the row is due again, and the old claim token no longer matches it.
    RELEASE = Transition("release", _CLAIMED, DeliveryState.PENDING)
    SEND = Transition("send", _CLAIMED, DeliveryState.SENT)
    # A temporary failure within the retry budget: due again after a backoff.
    RESCHEDULE = Transition("reschedule", _CLAIMED, DeliveryState.PENDING)
    # A permanent failure, or the retry budget is spent.
    FAIL = Transition("fail", _CLAIMED, DeliveryState.FAILED)
    # The comment was withdrawn or the recipient left (unsubscribed, suppressed) before the row
    # went out. A row being sent is only flagged (``cancel_requested``): its worker does not
    # start the send, stops one in progress, and ends the row with ABANDON.
    CANCEL = Transition("cancel", _PENDING, DeliveryState.CANCELLED)
    # An attempt ended (or was never started) on a row whose cancellation was requested while
    # it was claimed.
    ABANDON = Transition("abandon", _CLAIMED, DeliveryState.CANCELLED)
    # Staff send a failed row again, with a fresh retry budget.
    RETRY = Transition("retry", frozenset({DeliveryState.FAILED}), DeliveryState.PENDING)


class NotificationsError(Exception):
    """A domain rule refused the request."""


class AddressSuppressed(NotificationsError):
    pass


def mask_email(email: str) -> str:
    """``j***@example.com``: enough for a reader to recognise their address, not to harvest it."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def subscription_id(kind: SubscriptionKind, target_id: str, recipient: str) -> str:
    """Deterministic, so subscribing twice finds the same subscription."""
    return f"{kind}-{_digest(kind, target_id, recipient)}"


def delivery_id(source_event_id: str, recipient: str) -> str:
    """The ledger's unique key: one delivery per (event, recipient), whatever the kind."""
    return _digest(source_event_id, recipient)


def message_id(delivery: str, domain: str) -> str:
    """Deterministic Message-ID: a resend after a crash carries the same id (receivers dedupe)."""
    return f"<{delivery}@{domain}>"


@dataclass
class Address:
    recipient_hash: str
    email: str
    state: AddressState = AddressState.PENDING
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    suppressed_at: datetime | None = None

    @classmethod
    def new(cls, email: str, now: datetime, digest: AddressDigest) -> Address:
        normalized = normalize_email(email)
        return cls(recipient_hash=digest(normalized), email=normalized, created_at=now)

    @property
    def can_receive(self) -> bool:
        return self.state == AddressState.CONFIRMED

    @property
    def suppressed(self) -> bool:
        return self.state == AddressState.SUPPRESSED

    def confirm(self, now: datetime) -> None:
        """Its owner clicked a confirmation link mailed to it (unsubscribed: they are back)."""
        if self.suppressed:
            raise AddressSuppressed("this address does not receive mail from us")
        self.state = AddressState.CONFIRMED
        self.confirmed_at = now

    def unsubscribe(self) -> None:
        """Its owner left everything: nothing reaches it until they confirm again."""
        if not self.suppressed:
            self.state = AddressState.UNSUBSCRIBED

    @property
    def erased(self) -> bool:
        return self.state == AddressState.ERASED

    @property
    def refuses_requests(self) -> bool:
        """Suppressed by staff or erased by its owner: no request is recorded for it (a
        stranger's follow, a late "notify me of replies") and no link is mailed to it."""
        return self.suppressed or self.erased

    def suppress(self, now: datetime) -> None:
        self.state = AddressState.SUPPRESSED
        self.suppressed_at = now

    def erase(self) -> None:
        """Its owner erased their data: the address and its dates go, the digest (the
        document's key) stays to refuse whatever would record the address again."""
        self.state = AddressState.ERASED
        self.email = ""
        self.created_at = self.confirmed_at = self.suppressed_at = None


@dataclass
class Subscription:
    """One address's subscription to replies to a comment or to new comments on an article.

    Made as a pending request; only its owner's click on a confirmation link makes it active.
    ``requested_at`` is when it last became pending, and a confirmation link confirms only the
    requests made before its mail was written (see :meth:`covered_by`).
    """

    id: str
    kind: SubscriptionKind
    recipient_hash: str
    article_id: str
    comment_id: str | None = None
    state: SubscriptionState = SubscriptionState.PENDING
    created_at: datetime | None = None
    requested_at: datetime | None = None
    # When it was last listed in a confirmation mail: a request not yet listed is what makes a
    # new confirmation mail worth sending.
    mailed_at: datetime | None = None
    confirmed_at: datetime | None = None

    @classmethod
    def to_replies(
        cls, comment_id: str, article_id: str, recipient: str, now: datetime
    ) -> Subscription:
        return cls(
            id=subscription_id("reply", comment_id, recipient),
            kind="reply",
            recipient_hash=recipient,
            article_id=article_id,
            comment_id=comment_id,
            created_at=now,
            requested_at=now,
        )

    @classmethod
    def to_article(cls, article_id: str, recipient: str, now: datetime) -> Subscription:
        return cls(
            id=subscription_id("follow", article_id, recipient),
            kind="follow",
            recipient_hash=recipient,
            article_id=article_id,
            created_at=now,
            requested_at=now,
        )

    @property
    def active(self) -> bool:
        return self.state == SubscriptionState.ACTIVE

    @property
    def pending(self) -> bool:
        return self.state == SubscriptionState.PENDING

    def request(self, now: datetime) -> bool:
        """Asked for (again). An ended one becomes a new pending request, which needs its owner's
        confirmation like a first one; a pending or active one is left as it is (so a stranger
        repeating a request neither moves it out of an earlier link's reach nor re-activates
        anything). True when it changed."""
        if self.state != SubscriptionState.ENDED:
            return False
        self.state = SubscriptionState.PENDING
        self.requested_at = now
        self.mailed_at = None
        self.confirmed_at = None
        return True

    def covered_by(self, link_issued_at: datetime) -> bool:
        """Whether a confirmation link whose mail was written at ``link_issued_at`` confirms this
        request: a pending request made no later than that, so one the mail listed. A request
        made after (by the owner or by a stranger) needs a click of its own."""
        return (
            self.pending and self.requested_at is not None and (self.requested_at <= link_issued_at)
        )

    def confirm(self, now: datetime) -> None:
        self.state = SubscriptionState.ACTIVE
        self.confirmed_at = now


@dataclass
class DigestItem:
    comment_id: str
    author_name: str
    excerpt: str
    comment_url_path: str


@dataclass
class Delivery:
    id: str
    kind: DeliveryKind
    recipient_hash: str
    email: str
    article_id: str | None
    source_event_id: str | None
    created_at: datetime
    next_attempt_at: datetime
    deadline: datetime
    subscription_id: str | None = None
    comment_ids: list[str] = field(default_factory=list)
    # What the templates need, captured when the delivery is recorded.
    content: dict[str, Any] = field(default_factory=dict)
    items: list[DigestItem] = field(default_factory=list)
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    sent_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    initial_backoff: timedelta = timedelta(seconds=5)
    max_backoff: timedelta = timedelta(minutes=15)
    max_age: timedelta = timedelta(hours=24)

    def backoff(self, attempts: int) -> timedelta:
        """Exponential: initial, 2x, 4x … capped at max_backoff."""
        exponent = min(max(0, attempts - 1), 40)  # 2**40 x anything exceeds any sane cap
        seconds = self.initial_backoff.total_seconds() * (2**exponent)
        return min(timedelta(seconds=min(seconds, 1e9)), self.max_backoff)

    def next_step(self, delivery: Delivery, now: datetime) -> datetime | None:
        """When to try again after a failed attempt, or None to give up."""
        at = now + self.backoff(delivery.attempts)
        return None if at > delivery.deadline else at


@dataclass(frozen=True)
class DigestPolicy:
    max_per_window: int = 3
    window: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class Recipient:
    recipient_hash: str
    email: str
    kind: Literal["reply", "follow"]
    subscription_id: str


def plan_recipients(
    *,
    author_hash: str | None,
    reply_subscription: Subscription | None,
    followers: list[Subscription],
    addresses: dict[str, Address],
) -> list[Recipient]:
    """Who hears about one approved comment: the parent's author (a reply) first, then followers.

    Nobody hears about their own comment, unconfirmed or suppressed addresses hear nothing, and a
    parent author who also follows the article gets one email, the reply.
    """
    planned: dict[str, Recipient] = {}
    candidates = [reply_subscription] if reply_subscription is not None else []
    candidates.extend(followers)
    for sub in candidates:
        if not sub.active or sub.recipient_hash == author_hash:
            continue
        if sub.recipient_hash in planned:
            continue
        address = addresses.get(sub.recipient_hash)
        if address is None or not address.can_receive:
            continue
        planned[sub.recipient_hash] = Recipient(
            recipient_hash=sub.recipient_hash,
            email=address.email,
            kind=sub.kind,
            subscription_id=sub.id,
        )
    return list(planned.values())


def goes_to_digest(recent_individual: int, policy: DigestPolicy) -> bool:
    """Past ``max_per_window`` emails for one article in the window, the rest wait for a digest."""
    return recent_individual >= policy.max_per_window


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")


def header_safe(text: str, limit: int = 200) -> str:
    """One line of text for a header: control characters (CR/LF above all) become spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())[:limit]
