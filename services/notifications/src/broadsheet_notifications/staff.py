"""The staff's use cases: reading the delivery ledger, retrying a failed delivery, suppressing
an address. Each change is recorded in the audit log in its own transaction."""

from __future__ import annotations

from collections.abc import Callable

from broadsheet_notifications.commands import RetryDelivery, SuppressAddress
from broadsheet_notifications.domain import (
    Address,
    Delivery,
    DeliveryState,
    RetryPolicy,
    mask_email,
)
from broadsheet_notifications.repository import AddressRepository, LedgerRepository
from broadsheet_shared.addresses import AddressDigest, normalize_email
from broadsheet_shared.audit import StaffAction, recorded
from broadsheet_shared.auth import Principal
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.errors import Conflict, NotFound
from broadsheet_shared.unit_of_work import Transaction, UnitOfWork

SOURCE = "notifications"


class StaffService:
    def __init__(
        self,
        addresses: AddressRepository,
        ledger: LedgerRepository,
        uow: UnitOfWork,
        retry: RetryPolicy,
        digest: AddressDigest,
        *,
        on_queued: Callable[[], None] = lambda: None,
        clock: Clock = utcnow,
    ) -> None:
        self._addresses = addresses
        self._ledger = ledger
        self._uow = uow
        self._retry = retry
        self._digest = digest
        self._on_queued = on_queued
        self._clock = clock

    async def deliveries(
        self, state: DeliveryState | None, limit: int, cursor: str | None
    ) -> tuple[list[Delivery], str | None]:
        items = await self._ledger.page(state, limit + 1, cursor)
        next_cursor = items[limit - 1].id if len(items) > limit else None
        return items[:limit], next_cursor

    async def count(self, state: DeliveryState) -> int:
        return await self._ledger.count(state)

    async def retry(self, command: RetryDelivery, staff: Principal) -> Delivery:
        delivery_id = command.delivery_id
        delivery = await self._ledger.get(delivery_id)
        if delivery is None:
            raise NotFound("There is no such delivery.")

        async def work(tx: Transaction) -> bool:
            now = self._clock()
            retried = await self._ledger.retry_failed(
                delivery_id, now, now + self._retry.max_age, tx.session
            )
            if retried:
                action = StaffAction.DELIVERY_RETRIED
                tx.emit(recorded(staff, action, delivery_id, source=SOURCE, at=now))
            return retried

        if not await self._uow.run(work):
            raise Conflict(f"Only failed deliveries can be retried; this one is {delivery.state}.")
        self._on_queued()
        retried = await self._ledger.get(delivery_id)
        assert retried is not None
        return retried

    async def suppress(self, command: SuppressAddress, staff: Principal) -> Address:
        normalized = normalize_email(command.email)

        async def work(tx: Transaction) -> Address:
            now = self._clock()
            recipient = self._digest(normalized)
            address = await self._addresses.get(recipient, tx.session) or Address.new(
                normalized, now, self._digest
            )
            address.suppress(now)
            await self._addresses.save(address, tx.session)
            await self._ledger.cancel_pending_to(recipient, tx.session)
            # The address's hash and its masked form: enough to tell entries apart, and the
            # log does not become a list of readers' addresses.
            details = {"address": mask_email(normalized)}
            action = StaffAction.ADDRESS_SUPPRESSED
            tx.emit(recorded(staff, action, recipient, source=SOURCE, at=now, details=details))
            return address

        return await self._uow.run(work)
