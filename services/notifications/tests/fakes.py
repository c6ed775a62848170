"""In-memory fakes of the service's repositories and mailer, one per port.

They return copies, as a database would, so a use case that forgets to save is caught. The
ledger fakes apply the domain's transitions (guarded by their source states) as the Mongo
repository persists them.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from broadsheet_notifications.domain import (
    Address,
    Delivery,
    DeliveryState,
    DigestItem,
    Subscription,
    SubscriptionState,
    Transition,
    Transitions,
)
from broadsheet_notifications.mail import OutgoingMail
from broadsheet_notifications.repository import ArticleView, Held
from broadsheet_notifications.repository.ledger import INDIVIDUAL_KINDS, LIVE_STATES


class FakeArticleRepository:
    def __init__(self) -> None:
        self.by_id: dict[str, ArticleView] = {}

    async def save(self, article: ArticleView, session: Any) -> None:
        current = self.by_id.get(article.article_id)
        if current is None or current.revision <= article.revision:
            self.by_id[article.article_id] = article

    async def mark_gone(self, article_id: str, session: Any) -> None:
        a = self.by_id.get(article_id)
        if a is not None:
            self.by_id[article_id] = dataclasses.replace(a, live=False)

    async def withdraw(self, gone: ArticleView, session: Any) -> None:
        current = self.by_id.get(gone.article_id)
        if current is None:
            self.by_id[gone.article_id] = gone
        elif current.revision <= gone.revision:
            self.by_id[gone.article_id] = dataclasses.replace(
                current, live=False, revision=gone.revision
            )

    async def live_ids(self) -> set[str]:
        return {i for i, a in self.by_id.items() if a.live}

    async def is_empty(self) -> bool:
        return not self.by_id

    async def live_by_slug(self, slug: str) -> ArticleView | None:
        return next((a for a in self.by_id.values() if slug in a.slugs and a.live), None)

    async def by_ids(self, article_ids: list[str], session: Any) -> dict[str, ArticleView]:
        return {i: self.by_id[i] for i in article_ids if i in self.by_id}


class FakeAddressRepository:
    def __init__(self) -> None:
        self.by_recipient: dict[str, Address] = {}

    async def get(self, recipient: str, session: Any) -> Address | None:
        return copy.deepcopy(self.by_recipient.get(recipient))

    async def get_many(self, recipients: list[str], session: Any) -> dict[str, Address]:
        return {
            r: copy.deepcopy(self.by_recipient[r]) for r in recipients if r in self.by_recipient
        }

    async def save(self, address: Address, session: Any) -> None:
        self.by_recipient[address.recipient_hash] = copy.deepcopy(address)


class FakeSubscriptionRepository:
    def __init__(self) -> None:
        self.by_id: dict[str, Subscription] = {}

    async def get(self, sub_id: str, session: Any) -> Subscription | None:
        return copy.deepcopy(self.by_id.get(sub_id))

    async def save(self, sub: Subscription, session: Any) -> None:
        self.by_id[sub.id] = copy.deepcopy(sub)

    async def of_new_comment(
        self, article_id: str, parent_id: str | None, session: Any
    ) -> tuple[Subscription | None, list[Subscription]]:
        of_article = [
            copy.deepcopy(s) for s in self.by_id.values() if s.article_id == article_id and s.active
        ]
        reply = next(
            (s for s in of_article if s.kind == "reply" and s.comment_id == parent_id), None
        )
        return reply, [s for s in of_article if s.kind == "follow"]

    async def pending_of(self, recipient: str, session: Any) -> list[Subscription]:
        pending = [s for s in self.by_id.values() if s.recipient_hash == recipient and s.pending]
        return copy.deepcopy(sorted(pending, key=lambda s: (s.requested_at, s.id)))

    async def live_of(self, recipient: str, session: Any) -> list[Subscription]:
        live = [
            s
            for s in self.by_id.values()
            if s.recipient_hash == recipient and (s.pending or s.active)
        ]
        return copy.deepcopy(sorted(live, key=lambda s: (s.requested_at, s.id)))

    async def end(self, sub_id: str, session: Any) -> None:
        if sub_id in self.by_id:
            self.by_id[sub_id].state = SubscriptionState.ENDED

    async def all_of(self, recipient: str, session: Any) -> list[Subscription]:
        subs = [s for s in self.by_id.values() if s.recipient_hash == recipient]
        return copy.deepcopy(sorted(subs, key=lambda s: (s.requested_at, s.id)))

    async def delete_all_of(self, recipient: str, session: Any) -> None:
        for sub_id in [i for i, s in self.by_id.items() if s.recipient_hash == recipient]:
            del self.by_id[sub_id]

    async def end_all_of(self, recipient: str, session: Any) -> None:
        for s in self.by_id.values():
            if s.recipient_hash == recipient:
                s.state = SubscriptionState.ENDED

    async def end_for_comment(self, comment_id: str, session: Any) -> None:
        for s in self.by_id.values():
            if s.comment_id == comment_id:
                s.state = SubscriptionState.ENDED


def move(d: Delivery, transition: Transition) -> bool:
    """Apply ``transition`` to ``d`` if its state allows it (the Mongo update's guard)."""
    if not transition.allows(d.state):
        return False
    d.state = transition.target
    return True


class FakeLedgerRepository:
    def __init__(self) -> None:
        self.deliveries: dict[str, Delivery] = {}
        self.leases: dict[str, datetime] = {}
        self.claims: dict[str, str] = {}
        self.cancel_requested: set[str] = set()
        self.batches = 0  # add_many calls

    def in_state(self, state: DeliveryState) -> list[Delivery]:
        return [d for d in self.deliveries.values() if d.state == state]

    def _held(self, delivery_id: str, claim: str) -> Delivery | None:
        """The row, if ``claim`` still holds it (the Mongo update's fence)."""
        d = self.deliveries[delivery_id]
        held = d.state == DeliveryState.SENDING and self.claims.get(delivery_id) == claim
        return d if held else None

    def _drop_lease(self, delivery_id: str) -> None:
        self.leases.pop(delivery_id, None)
        self.claims.pop(delivery_id, None)

    async def add(self, delivery: Delivery, session: Any) -> bool:
        if delivery.id in self.deliveries:
            return False
        self.deliveries[delivery.id] = copy.deepcopy(delivery)
        return True

    async def add_many(self, deliveries: list[Delivery], session: Any) -> None:
        self.batches += 1
        taken = [d.id for d in deliveries if d.id in self.deliveries]
        if taken or len({d.id for d in deliveries}) < len(deliveries):
            raise AssertionError(f"already in the ledger: {taken}")  # Mongo: a duplicate key
        self.deliveries.update({d.id: copy.deepcopy(d) for d in deliveries})

    async def get(self, delivery_id: str) -> Delivery | None:
        return copy.deepcopy(self.deliveries.get(delivery_id))

    async def page(
        self, state: DeliveryState | None, limit: int, before: str | None
    ) -> list[Delivery]:
        items = sorted(self.deliveries.values(), key=lambda d: d.id, reverse=True)
        items = [d for d in items if state is None or d.state == state]
        items = [d for d in items if before is None or d.id < before]
        return copy.deepcopy(items[:limit])

    async def count(self, state: DeliveryState) -> int:
        return sum(1 for d in self.deliveries.values() if d.state == state)

    def _cancel(self, d: Delivery) -> None:
        if d.state == DeliveryState.SENDING:
            self.cancel_requested.add(d.id)
        else:
            move(d, Transitions.CANCEL)

    async def cancel_for_comment(self, comment_id: str, session: Any) -> None:
        for d in self.deliveries.values():
            if comment_id in d.comment_ids and d.kind in INDIVIDUAL_KINDS:
                self._cancel(d)

    async def cancel_pending_to(
        self, recipient: str, session: Any, *, subscription_id: str | None = None
    ) -> None:
        for d in self.deliveries.values():
            if d.recipient_hash == recipient and subscription_id in (None, d.subscription_id):
                self._cancel(d)

    async def to_recipient(self, recipient: str, session: Any) -> list[Delivery]:
        rows = [d for d in self.deliveries.values() if d.recipient_hash == recipient]
        return copy.deepcopy(sorted(rows, key=lambda d: d.created_at))

    async def delete_to(self, recipient: str, session: Any) -> None:
        for d in list(self.deliveries.values()):
            if d.recipient_hash == recipient and d.state != DeliveryState.SENDING:
                del self.deliveries[d.id]

    async def release_expired(self, now: datetime, session: Any) -> None:
        for d in self.deliveries.values():
            lease = self.leases.get(d.id)
            if lease is None or lease >= now or d.state != DeliveryState.SENDING:
                continue
            self._drop_lease(d.id)
            if d.id in self.cancel_requested:
                move(d, Transitions.ABANDON)
            elif move(d, Transitions.RELEASE):
                d.next_attempt_at = now

    async def due_ids(self, now: datetime, limit: int) -> list[str]:
        due = [d for d in self.deliveries.values() if Transitions.CLAIM.allows(d.state)]
        due = [d for d in due if d.next_attempt_at <= now]
        return [d.id for d in sorted(due, key=lambda d: d.next_attempt_at)][:limit]

    async def claim(
        self, ids: list[str], now: datetime, *, lease_until: datetime, claim: str, session: Any
    ) -> list[Delivery]:
        claimed = []
        for delivery_id in ids:
            d = self.deliveries[delivery_id]
            if d.next_attempt_at <= now and move(d, Transitions.CLAIM):
                d.attempts += 1
                self.leases[d.id] = lease_until
                self.claims[d.id] = claim
                self.cancel_requested.discard(d.id)
                claimed.append(copy.deepcopy(d))
        return claimed

    async def renew(self, claim: str, lease_until: datetime, session: Any) -> Held:
        held = [i for i in self.deliveries if self._held(i, claim)]
        for delivery_id in held:
            self.leases[delivery_id] = lease_until
        return Held(
            ids=frozenset(held),
            cancel_requested=frozenset(i for i in held if i in self.cancel_requested),
        )

    async def mark_sent(
        self, claim: str, delivery_ids: list[str], now: datetime, session: Any
    ) -> list[str]:
        recorded = []
        for delivery_id in delivery_ids:
            d = self._held(delivery_id, claim)
            if d is not None and move(d, Transitions.SEND):
                self._drop_lease(delivery_id)
                d.sent_at, d.last_error = now, None
                recorded.append(delivery_id)
        return recorded

    def _end_attempt(
        self, claim: str, delivery_id: str, transition: Transition, error: str
    ) -> Delivery | None:
        d = self._held(delivery_id, claim)
        if d is None:
            return None
        self._drop_lease(delivery_id)
        move(d, Transitions.ABANDON if delivery_id in self.cancel_requested else transition)
        d.last_error = error
        return d

    async def reschedule(
        self, claim: str, delivery_id: str, at: datetime, error: str, session: Any
    ) -> DeliveryState | None:
        d = self._end_attempt(claim, delivery_id, Transitions.RESCHEDULE, error)
        if d is None:
            return None
        if d.state == DeliveryState.PENDING:
            d.next_attempt_at = at
        return d.state

    async def mark_failed(
        self, claim: str, delivery_id: str, error: str, now: datetime, session: Any
    ) -> DeliveryState | None:
        d = self._end_attempt(claim, delivery_id, Transitions.FAIL, error)
        return None if d is None else d.state

    async def retry_failed(
        self, delivery_id: str, now: datetime, deadline: datetime, session: Any
    ) -> bool:
        d = self.deliveries.get(delivery_id)
        if d is None or not move(d, Transitions.RETRY):
            return False
        d.next_attempt_at, d.deadline, d.attempts = now, deadline, 0
        return True


class FakeDigestRepository:
    """Digests are ledger rows: this fake reads and changes the ledger fake's."""

    def __init__(self, ledger: FakeLedgerRepository) -> None:
        self._ledger = ledger
        self.queries = 0  # recent_individual calls: one per event, however many recipients

    async def recent_individual(
        self, recipients: list[str], article_id: str, since: datetime, session: Any
    ) -> dict[str, list[datetime]]:
        self.queries += 1
        recent: dict[str, list[datetime]] = {}
        for d in sorted(self._ledger.deliveries.values(), key=lambda d: d.created_at):
            if (
                d.recipient_hash in recipients
                and d.article_id == article_id
                and d.created_at >= since
                and d.kind in INDIVIDUAL_KINDS
                and d.state.value in LIVE_STATES
            ):
                recent.setdefault(d.recipient_hash, []).append(d.created_at)
        return recent

    def _open(self) -> list[Delivery]:
        return [
            d
            for d in self._ledger.deliveries.values()
            if d.kind == "digest" and d.state == DeliveryState.PENDING
        ]

    async def open_for(self, recipient: str, article_id: str, session: Any) -> Delivery | None:
        return next(
            (
                copy.deepcopy(d)
                for d in self._open()
                if d.recipient_hash == recipient and d.article_id == article_id
            ),
            None,
        )

    async def add_item(self, delivery_id: str, item: DigestItem, session: Any) -> bool:
        d = self._ledger.deliveries[delivery_id]
        if d.state != DeliveryState.PENDING:
            return False
        d.items.append(item)
        d.comment_ids.append(item.comment_id)
        return True

    async def withdraw_comment(self, comment_id: str, session: Any) -> None:
        for d in self._open():
            if comment_id in d.comment_ids:
                d.items = [i for i in d.items if i.comment_id != comment_id]
                d.comment_ids = [c for c in d.comment_ids if c != comment_id]
                if not d.items:
                    move(d, Transitions.CANCEL)


@dataclass
class FakeRepositories:
    """Every fake repository, as ``MongoRepositories`` holds the real ones."""

    articles: FakeArticleRepository = field(default_factory=FakeArticleRepository)
    addresses: FakeAddressRepository = field(default_factory=FakeAddressRepository)
    subscriptions: FakeSubscriptionRepository = field(default_factory=FakeSubscriptionRepository)
    ledger: FakeLedgerRepository = field(default_factory=FakeLedgerRepository)
    digests: FakeDigestRepository = field(init=False)

    def __post_init__(self) -> None:
        self.digests = FakeDigestRepository(self.ledger)

    @property
    def stores(self) -> tuple[Any, ...]:
        """What a failed unit of work puts back (digests live in the ledger's store)."""
        return (self.articles, self.addresses, self.subscriptions, self.ledger)


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
