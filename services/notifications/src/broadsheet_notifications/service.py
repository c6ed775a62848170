"""The readers' use cases: following an article, confirming an address, unsubscribing.

They take repositories and a unit of work and never commit themselves; a refusal is an
application error (``broadsheet_shared.errors``) that each edge (HTTP, inbound SMTP) answers in
its own terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from broadsheet_notifications.commands import ConfirmAddress, FollowArticle, Unsubscribe
from broadsheet_notifications.domain import (
    Address,
    AddressState,
    AddressSuppressed,
    Subscription,
    mask_email,
    recipient_hash,
)
from broadsheet_notifications.planner import Planner
from broadsheet_notifications.repository import (
    AddressRepository,
    ArticleRepository,
    LedgerRepository,
    SubscriptionRepository,
)
from broadsheet_notifications.tokens import BadToken, LinkSigner
from broadsheet_shared.addresses import normalize_email
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.errors import Conflict, InvalidLink, NotFound
from broadsheet_shared.mongo import Session
from broadsheet_shared.ratelimit import RateLimit, RateLimiter, raise_if_limited
from broadsheet_shared.unit_of_work import Transaction, UnitOfWork

FollowStatus = Literal["confirmation_sent", "subscribed"]


@dataclass(frozen=True)
class FollowLimits:
    per_client: RateLimit
    per_address: RateLimit


class SubscriptionService:
    def __init__(
        self,
        articles: ArticleRepository,
        addresses: AddressRepository,
        subscriptions: SubscriptionRepository,
        ledger: LedgerRepository,
        uow: UnitOfWork,
        planner: Planner,
        signer: LinkSigner,
        limiter: RateLimiter,
        limits: FollowLimits,
        *,
        on_queued: Callable[[], None] = lambda: None,
        clock: Clock = utcnow,
    ) -> None:
        self._articles = articles
        self._addresses = addresses
        self._subscriptions = subscriptions
        self._ledger = ledger
        self._uow = uow
        self._planner = planner
        self._signer = signer
        self._limiter = limiter
        self._limits = limits
        self._on_queued = on_queued
        self._clock = clock

    async def follow(self, command: FollowArticle) -> FollowStatus:
        limits = self._limits
        raise_if_limited(
            await self._limiter.hit(f"follow:client:{command.client}", limits.per_client)
        )
        article = await self._articles.live_by_slug(command.slug)
        if article is None:
            raise NotFound("There is no published article at this address.")
        normalized = normalize_email(command.email)
        recipient = recipient_hash(normalized)
        raise_if_limited(await self._limiter.hit(f"follow:address:{recipient}", limits.per_address))

        async def work(tx: Transaction) -> FollowStatus:
            now = self._clock()
            address = await self._addresses.get(recipient, tx.session)
            if address is None:
                address = Address.new(normalized, now)
                await self._addresses.save(address, tx.session)
            await self._subscriptions.save(
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
        except BadToken:
            raise InvalidLink("This confirmation link is not valid or has expired.") from None

    async def _address(self, recipient: str, session: Session | None) -> Address:
        address = await self._addresses.get(recipient, session)
        if address is None:
            raise NotFound("We know nothing about this address.")
        return address

    async def _subscription(self, sub_id: str, session: Session | None) -> Subscription:
        sub = await self._subscriptions.get(sub_id, session)
        if sub is None:
            raise NotFound("There is no such subscription.")
        return sub

    async def confirmation(self, token: str) -> dict[str, str]:
        """What a confirmation link would confirm; changes nothing (mail scanners fetch links)."""
        address = await self._address(self._confirm_claim(token), None)
        return {"email": mask_email(address.email), "status": address.state.value}

    async def confirm(self, command: ConfirmAddress) -> dict[str, str]:
        recipient = self._confirm_claim(command.token)

        async def work(tx: Transaction) -> dict[str, str]:
            address = await self._address(recipient, tx.session)
            try:
                address.confirm(self._clock())
            except AddressSuppressed:
                raise Conflict("This address does not receive email from us.") from None
            await self._addresses.save(address, tx.session)
            return {"email": mask_email(address.email), "status": address.state.value}

        return await self._uow.run(work)

    def _unsubscribe_claim(self, token: str) -> tuple[str, str]:
        try:
            claim = self._signer.read_unsubscribe(token)
        except BadToken:
            raise InvalidLink("This unsubscribe link is not valid.") from None
        return claim.scope, claim.target

    async def unsubscription(self, token: str) -> dict[str, Any]:
        """What an unsubscribe link would end; changes nothing."""
        scope, target = self._unsubscribe_claim(token)
        if scope == "all":
            address = await self._address(target, None)
            email = mask_email(address.email)
            return {"scope": "all", "email": email, "kind": None, "active": True}
        sub = await self._subscription(target, None)
        address = await self._address(sub.recipient_hash, None)
        return {
            "scope": "subscription",
            "email": mask_email(address.email),
            "kind": sub.kind,
            "active": sub.active,
        }

    async def unsubscribe(self, command: Unsubscribe) -> dict[str, Any]:
        scope, target = self._unsubscribe_claim(command.token)

        async def work(tx: Transaction) -> dict[str, Any]:
            if scope == "all":
                address = await self._address(target, tx.session)
                await self._subscriptions.end_all_of(address.recipient_hash, tx.session)
                await self._ledger.cancel_pending_to(address.recipient_hash, tx.session)
                return {"status": "unsubscribed", "scope": "all"}
            sub = await self._subscription(target, tx.session)
            await self._subscriptions.end(sub.id, tx.session)
            await self._ledger.cancel_pending_to(
                sub.recipient_hash, tx.session, subscription_id=sub.id
            )
            return {"status": "unsubscribed", "scope": "subscription"}

        return await self._uow.run(work)
