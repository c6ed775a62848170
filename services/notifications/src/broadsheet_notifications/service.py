"""The readers' use cases: following an article, confirming requests, unsubscribing, managing
an address's subscriptions.

They take repositories and a unit of work and never commit themselves; a refusal is an
application error (``broadsheet_shared.errors``) that each edge (HTTP, inbound SMTP) answers in
its own terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broadsheet_notifications.commands import (
    ConfirmAddress,
    ConfirmRequest,
    EndSubscription,
    FollowArticle,
    RequestManageLink,
    Unsubscribe,
)
from broadsheet_notifications.domain import (
    Address,
    AddressSuppressed,
    Subscription,
    mask_email,
)
from broadsheet_notifications.planner import Planner, describe_requests
from broadsheet_notifications.repository import (
    AddressRepository,
    ArticleRepository,
    LedgerRepository,
    SubscriptionRepository,
)
from broadsheet_notifications.tokens import BadToken, ConfirmClaim, LinkSigner
from broadsheet_shared.addresses import AddressDigest, mailbox_key, normalize_email
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.errors import Conflict, InvalidLink, NotFound
from broadsheet_shared.http.clients import client_key
from broadsheet_shared.mongo import Session
from broadsheet_shared.ratelimit import RateLimit, RateLimiter, raise_if_limited
from broadsheet_shared.unit_of_work import Transaction, UnitOfWork


@dataclass(frozen=True)
class FollowLimits:
    """Requests a reader makes by giving an address (a follow, a manage link), per client and
    per mailbox (plus-addressed variants count as one); each request has its own counters."""

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
        digest: AddressDigest,
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
        self._digest = digest
        self._on_queued = on_queued
        self._clock = clock

    async def follow(self, command: FollowArticle) -> None:
        """Record a request to follow the article, pending until the address's owner confirms it.

        Nothing is returned on purpose: the answer is the same whether the address is new,
        pending, confirmed, already following, unsubscribed or suppressed, so it tells nothing.
        """
        limits = self._limits
        raise_if_limited(
            await self._limiter.hit(
                f"follow:client:{client_key(command.client)}", limits.per_client
            )
        )
        article = await self._articles.live_by_slug(command.slug)
        if article is None:
            raise NotFound("There is no published article at this address.")
        normalized = normalize_email(command.email)
        mailbox = self._digest(mailbox_key(normalized))
        raise_if_limited(await self._limiter.hit(f"follow:address:{mailbox}", limits.per_address))
        article_id = article.article_id

        async def work(tx: Transaction) -> None:
            await self._planner.request_subscription(
                normalized,
                lambda recipient, now: Subscription.to_article(article_id, recipient, now),
                tx.session,
            )

        await self._uow.run(work)
        self._on_queued()

    def _confirm_claim(self, token: str) -> ConfirmClaim:
        try:
            return self._signer.read_confirm(token)
        except BadToken:
            raise InvalidLink("This confirmation link is not valid or has expired.") from None

    async def _address(self, recipient: str, session: Session | None) -> Address:
        address = await self._addresses.get(recipient, session)
        if address is None or address.erased:  # an erased address is only its digest
            raise NotFound("We know nothing about this address.")
        return address

    async def _subscription(self, sub_id: str, session: Session | None) -> Subscription:
        sub = await self._subscriptions.get(sub_id, session)
        if sub is None:
            raise NotFound("There is no such subscription.")
        return sub

    async def _pending(
        self, claim: ConfirmClaim, session: Session | None
    ) -> tuple[list[Subscription], list[Subscription]]:
        """The address's pending requests: those the link confirms (made before its mail was
        written, so listed in it) and those made later, which need a click each."""
        pending = await self._subscriptions.pending_of(claim.recipient, session)
        covered = [sub for sub in pending if sub.covered_by(claim.issued_at)]
        later = [sub for sub in pending if not sub.covered_by(claim.issued_at)]
        return covered, later

    async def _describe(
        self, subs: list[Subscription], session: Session | None
    ) -> list[dict[str, str]]:
        articles = await self._articles.by_ids(sorted({sub.article_id for sub in subs}), session)
        return describe_requests(subs, articles)

    async def _view(
        self,
        address: Address,
        listed: list[Subscription],
        later: list[Subscription],
        session: Session | None,
    ) -> dict[str, Any]:
        return {
            "email": mask_email(address.email),
            "status": address.state.value,
            "requests": await self._describe(listed, session),
            "later_requests": await self._describe(later, session),
        }

    async def confirmation(self, token: str) -> dict[str, Any]:
        """What a confirmation link would confirm; changes nothing (mail scanners fetch links)."""
        claim = self._confirm_claim(token)
        address = await self._address(claim.recipient, None)
        covered, later = await self._pending(claim, None)
        return await self._view(address, covered, later, None)

    async def _activate(
        self, address: Address, subs: list[Subscription], session: Session | None
    ) -> None:
        """The owner's click: the requests take effect and the address is theirs (again)."""
        if not subs:
            return  # an old link with nothing left to confirm changes nothing, not even the state
        now = self._clock()
        try:
            address.confirm(now)
        except AddressSuppressed:
            raise Conflict("This address does not receive email from us.") from None
        for sub in subs:
            sub.confirm(now)
            await self._subscriptions.save(sub, session)
        await self._addresses.save(address, session)

    async def confirm(self, command: ConfirmAddress) -> dict[str, Any]:
        """Confirm the requests the link's mail listed, and nothing requested since."""
        claim = self._confirm_claim(command.token)

        async def work(tx: Transaction) -> dict[str, Any]:
            address = await self._address(claim.recipient, tx.session)
            covered, later = await self._pending(claim, tx.session)
            await self._activate(address, covered, tx.session)
            return await self._view(address, covered, later, tx.session)

        return await self._uow.run(work)

    async def confirm_request(self, command: ConfirmRequest) -> dict[str, Any]:
        """Confirm one pending request of the link's address that its mail did not list (made
        later, e.g. a second follow the same day after the mailbox's allowance was spent): the
        owner picks it on the page, by its own click."""
        claim = self._confirm_claim(command.token)

        async def work(tx: Transaction) -> dict[str, Any]:
            address = await self._address(claim.recipient, tx.session)
            sub = await self._subscriptions.get(command.subscription_id, tx.session)
            if sub is None or sub.recipient_hash != claim.recipient:
                raise NotFound("There is no such request for this address.")
            chosen = [sub] if sub.pending else []
            await self._activate(address, chosen, tx.session)
            _, later = await self._pending(claim, tx.session)
            return await self._view(address, chosen, later, tx.session)

        return await self._uow.run(work)

    async def request_manage_link(self, command: RequestManageLink) -> None:
        """Mail the address a link to its manage page. Nothing is returned on purpose: the
        answer is the same whether we know the address or not, so it tells nobody anything."""
        limits = self._limits
        raise_if_limited(
            await self._limiter.hit(
                f"manage:client:{client_key(command.client)}", limits.per_client
            )
        )
        normalized = normalize_email(command.email)
        mailbox = self._digest(mailbox_key(normalized))
        raise_if_limited(await self._limiter.hit(f"manage:address:{mailbox}", limits.per_address))

        async def work(tx: Transaction) -> bool:
            return await self._planner.mail_manage_link(normalized, tx.session)

        if await self._uow.run(work):
            self._on_queued()

    def _manage_claim(self, token: str) -> str:
        try:
            return self._signer.read_manage(token)
        except BadToken:
            raise InvalidLink("This link is not valid or has expired.") from None

    async def _manage_view(self, address: Address, session: Session | None) -> dict[str, Any]:
        subs = await self._subscriptions.live_of(address.recipient_hash, session)
        states = {sub.id: sub.state.value for sub in subs}
        described = await self._describe(subs, session)
        return {
            "email": mask_email(address.email),
            "status": address.state.value,
            "subscriptions": [{**d, "state": states[d["id"]]} for d in described],
        }

    async def manage(self, token: str) -> dict[str, Any]:
        """What the manage link's address follows and receives: its pending and active
        subscriptions. Changes nothing."""
        address = await self._address(self._manage_claim(token), None)
        return await self._manage_view(address, None)

    async def end_subscription(self, command: EndSubscription) -> dict[str, Any]:
        """End one subscription of the manage link's address (its pending mail cancelled), or
        all of them, which stops all mail to the address like the mails' "stop all" link.
        Idempotent; answers the page as it is afterwards."""
        recipient = self._manage_claim(command.token)

        async def work(tx: Transaction) -> dict[str, Any]:
            address = await self._address(recipient, tx.session)
            if command.subscription_id is None:
                await self._end_all(address, tx.session)
            else:
                sub = await self._subscriptions.get(command.subscription_id, tx.session)
                if sub is None or sub.recipient_hash != recipient:
                    raise NotFound("There is no such subscription for this address.")
                await self._end_one(sub, tx.session)
            return await self._manage_view(address, tx.session)

        return await self._uow.run(work)

    async def _end_all(self, address: Address, session: Session | None) -> None:
        address.unsubscribe()
        await self._addresses.save(address, session)
        await self._subscriptions.end_all_of(address.recipient_hash, session)
        await self._ledger.cancel_pending_to(address.recipient_hash, session)

    async def _end_one(self, sub: Subscription, session: Session | None) -> None:
        await self._subscriptions.end(sub.id, session)
        await self._ledger.cancel_pending_to(sub.recipient_hash, session, subscription_id=sub.id)

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
                await self._end_all(await self._address(target, tx.session), tx.session)
                return {"status": "unsubscribed", "scope": "all"}
            await self._end_one(await self._subscription(target, tx.session), tx.session)
            return {"status": "unsubscribed", "scope": "subscription"}

        return await self._uow.run(work)
