"""Idempotent consumption: the ids of handled events, stored with the handler's effects.

The handler's writes and the ``processed_events`` row commit in one transaction, so an event
delivered again (redelivery after a crash or a refused commit) is recognised and skipped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol
from uuid import UUID

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from broadsheet_shared.clock import utcnow
from broadsheet_shared.mongo import Database, IndexSpec, MongoClient, Session, run_in_transaction

PROCESSED_EVENTS = "processed_events"

# How long a handled event's id is remembered. An event redelivered later than this (only
# possible if the topic keeps events longer) would be handled again: topic retention must stay
# below it.
PROCESSED_EVENTS_RETENTION_SECONDS = 30 * 24 * 3600

# The unique key is _id; rows expire after 30 days, far beyond any redelivery window.
INBOX_INDEXES = [
    IndexSpec(
        PROCESSED_EVENTS,
        [
            IndexModel(
                [("processed_at", ASCENDING)], expireAfterSeconds=PROCESSED_EVENTS_RETENTION_SECONDS
            )
        ],
    )
]


Effects = Callable[[Session], Awaitable[None]]


class Inbox(Protocol):
    async def handle_once(self, handler: str, event_id: UUID | str, effects: Effects) -> bool:
        """Run ``effects`` unless ``handler`` already handled this event. True when it ran."""
        ...


class _AlreadyProcessed(Exception):
    pass


class MongoInbox:
    """The inbox in the service's own database: a ``processed_events`` row per (handler,
    event), inserted in the handler's transaction."""

    def __init__(self, client: MongoClient, db: Database) -> None:
        self._client = client
        self._db = db

    async def handle_once(self, handler: str, event_id: UUID | str, effects: Effects) -> bool:
        async def work(session: Session) -> None:
            try:
                await self._db[PROCESSED_EVENTS].insert_one(
                    {"_id": f"{handler}:{event_id}", "processed_at": utcnow()}, session=session
                )
            except DuplicateKeyError:
                raise _AlreadyProcessed from None
            await effects(session)

        try:
            await run_in_transaction(self._client, work)
        except _AlreadyProcessed:
            return False
        return True
