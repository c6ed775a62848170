"""Idempotent consumption: the ids of handled events, stored with the handler's effects.

The handler's writes and the ``processed_events`` row commit in one transaction, so an event
delivered again (redelivery after a crash or a refused commit) is recognised and skipped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

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


class AlreadyProcessed(Exception):
    pass


async def handle_once(
    client: MongoClient,
    db: Database,
    *,
    handler: str,
    event_id: UUID | str,
    effects: Callable[[Session], Awaitable[None]],
) -> bool:
    """Run ``effects`` unless this handler already handled this event. True when it ran."""

    async def work(session: Session) -> None:
        try:
            await db[PROCESSED_EVENTS].insert_one(
                {"_id": f"{handler}:{event_id}", "processed_at": datetime.now(UTC)},
                session=session,
            )
        except DuplicateKeyError:
            raise AlreadyProcessed from None
        await effects(session)

    try:
        await run_in_transaction(client, work)
    except AlreadyProcessed:
        return False
    return True
