"""A reader's own data, by a link mailed to their address: download it, or erase it.

Notifications mails the link and checks it, so it is the one service that knows the holder
reads that mailbox. It answers with its own data (the address, its subscriptions, the mails
sent to it) and a five-minute grant naming the address's digest, with which the gateway fetches
what other services hold (comments: ``broadsheet_shared.grants``). An erasure deletes this
service's data in one transaction and writes ``reader.erased`` (the digest, never the address)
to the outbox with it, so the other services learn of it even if Kafka is down at that moment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broadsheet_notifications.commands import EraseData, RequestDataLink
from broadsheet_notifications.domain import Address
from broadsheet_notifications.planner import Planner
from broadsheet_notifications.repository import (
    AddressRepository,
    ArticleRepository,
    LedgerRepository,
    SubscriptionRepository,
)
from broadsheet_notifications.service import FollowLimits
from broadsheet_notifications.tokens import BadToken, LinkSigner
from broadsheet_shared.addresses import AddressDigest, mailbox_key, normalize_email
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.errors import InvalidLink
from broadsheet_shared.events import ReaderErasedData, ReaderErasedV1
from broadsheet_shared.grants import DataGrants
from broadsheet_shared.http.clients import client_key
from broadsheet_shared.mongo import Session
from broadsheet_shared.ratelimit import RateLimiter, raise_if_limited
from broadsheet_shared.unit_of_work import Transaction, UnitOfWork


class MyDataService:
    def __init__(
        self,
        articles: ArticleRepository,
        addresses: AddressRepository,
        subscriptions: SubscriptionRepository,
        ledger: LedgerRepository,
        uow: UnitOfWork,
        planner: Planner,
        signer: LinkSigner,
        grants: DataGrants,
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
        self._grants = grants
        self._limiter = limiter
        self._limits = limits
        self._digest = digest
        self._on_queued = on_queued
        self._clock = clock

    async def request_link(self, command: RequestDataLink) -> None:
        """Mail the address a link to its my-data page. Nothing is returned on purpose: the
        answer is the same whatever the address, so it tells nobody anything."""
        limits = self._limits
        raise_if_limited(
            await self._limiter.hit(f"data:client:{client_key(command.client)}", limits.per_client)
        )
        normalized = normalize_email(command.email)
        mailbox = self._digest(mailbox_key(normalized))
        raise_if_limited(await self._limiter.hit(f"data:address:{mailbox}", limits.per_address))

        async def work(tx: Transaction) -> bool:
            return await self._planner.mail_data_link(normalized, tx.session)

        if await self._uow.run(work):
            self._on_queued()

    def _claim(self, token: str) -> str:
        try:
            return self._signer.read_data(token)
        except BadToken:
            raise InvalidLink("This link is not valid or has expired.") from None

    async def export(self, token: str) -> dict[str, Any]:
        """What this service holds about the link's address, and a grant to fetch what the
        other services hold. Changes nothing (mail scanners fetch links)."""
        recipient = self._claim(token)
        address = await self._addresses.get(recipient, None)
        subs = await self._subscriptions.all_of(recipient, None)
        articles = await self._articles.by_ids(sorted({s.article_id for s in subs}), None)
        deliveries = await self._ledger.to_recipient(recipient, None)
        known = address is not None and not address.erased
        return {
            "grant": self._grants.issue(recipient),
            "address": _address_export(address) if known and address else None,
            "subscriptions": [
                {
                    "kind": sub.kind,
                    "state": sub.state.value,
                    "article_title": articles[sub.article_id].title
                    if sub.article_id in articles
                    else "",
                    "article_url_path": articles[sub.article_id].url_path
                    if sub.article_id in articles
                    else "",
                    "comment_id": sub.comment_id,
                    "requested_at": sub.requested_at,
                    "confirmed_at": sub.confirmed_at,
                }
                for sub in subs
            ],
            "deliveries": [
                {
                    "kind": d.kind,
                    "state": d.state.value,
                    "email": d.email,
                    "article_title": str(d.content.get("article_title", "")),
                    "created_at": d.created_at,
                    "sent_at": d.sent_at,
                }
                for d in deliveries
            ],
        }

    async def erase(self, command: EraseData) -> None:
        """Delete the link's address's subscriptions and mails (a mail being sent right now is
        stopped and goes with the ledger's retention), keep only its digest so no later request
        records it again, and tell the other services. Idempotent: erasing again deletes what
        came since and tells them again, which they take as a no-op."""
        recipient = self._claim(command.token)

        async def work(tx: Transaction) -> None:
            await self._erase(recipient, tx.session)
            now = self._clock()
            tx.emit(
                ReaderErasedV1(
                    subject=recipient,
                    data=ReaderErasedData(address_digest=recipient, erased_at=now),
                )
            )

        await self._uow.run(work)

    async def _erase(self, recipient: str, session: Session | None) -> None:
        address = await self._addresses.get(recipient, session) or Address(recipient, "")
        address.erase()
        await self._addresses.save(address, session)
        await self._subscriptions.delete_all_of(recipient, session)
        await self._ledger.cancel_pending_to(recipient, session)
        await self._ledger.delete_to(recipient, session)


def _address_export(address: Address) -> dict[str, Any]:
    return {
        "email": address.email,
        "state": address.state.value,
        "created_at": address.created_at,
        "confirmed_at": address.confirmed_at,
    }
