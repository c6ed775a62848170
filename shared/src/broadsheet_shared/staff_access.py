"""The staff-access projection: an account's tokens issued before its last change do not count.

Articles owns staff accounts and publishes ``StaffAccountChangedV1`` when an account is
disabled, changes role or password. Every service that verifies staff tokens keeps the latest
``changed_at`` per account in its own database (:class:`MongoStaffAccess`, fed by
:func:`subscribe_staff_access`), and :func:`broadsheet_shared.auth.current_principal` refuses
a token whose ``iat`` is not later, so a disabled account loses access within the consumer's
lag, not at token expiry. Articles answers from its own accounts, so it refuses at once.

The check is one lookup by ``_id`` per staff request: staff requests are few, the lookup is
indexed, and it is never stale (an in-memory cache would need its own refresh and invalidation).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Protocol

from pymongo.errors import DuplicateKeyError

from broadsheet_shared.events.staff import StaffAccountChangedV1, StaffAccountData
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.mongo import Database

STAFF_ACCESS = "staff_access"


class StaffAccessProjection(Protocol):
    async def record(self, data: StaffAccountData) -> None:
        """Keep the change unless a newer one of the account is already kept."""
        ...


class MongoStaffAccess:
    """The projection of ``StaffAccountChangedV1``: one document per account, latest wins."""

    def __init__(self, db: Database) -> None:
        self._accounts = db[STAFF_ACCESS]

    async def changed_at(self, staff_id: str) -> datetime | None:
        doc = await self._accounts.find_one({"_id": staff_id}, projection={"changed_at": True})
        return doc["changed_at"] if doc else None

    async def record(self, data: StaffAccountData) -> None:
        """Idempotent and order-proof: an event replayed or older than the stored change is a
        no-op (the conditional upsert then meets the existing ``_id`` and is refused)."""
        # A change at least as new already recorded makes the upsert a duplicate key.
        with contextlib.suppress(DuplicateKeyError):
            await self._accounts.update_one(
                {"_id": data.staff_id, "changed_at": {"$lt": data.changed_at}},
                {
                    "$set": {
                        "changed_at": data.changed_at,
                        "role": data.role,
                        "disabled": data.disabled,
                    }
                },
                upsert=True,
            )


def subscribe_staff_access(router: EventRouter, access: StaffAccessProjection) -> None:
    @router.subscribe(StaffAccountChangedV1)
    async def staff_account_changed(event: StaffAccountChangedV1) -> None:
        await access.record(event.data)
