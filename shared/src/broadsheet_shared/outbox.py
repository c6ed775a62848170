"""The transactional outbox (eShop's IntegrationEventLog) for MongoDB.

A use case writes its state change and its events in one transaction; the relay publishes what is
pending, in order, and marks it published. A crash between any two steps loses nothing: an event
that was sent but not yet marked is sent again, and consumers drop the duplicate by event id.

States: ``pending`` → ``in_flight`` (the relay took it) → ``published``; ``failed`` when an event
cannot be sent at all (e.g. larger than the broker accepts) and needs a person.

Two rules keep one relay from undoing another's work:

- Fencing: each batch is claimed under a fresh claim token, inside the same transaction that
  checks the relay still holds a live lease; every later transition of a row (published, back to
  pending, failed) matches that token, so a relay that lost its lease mid-batch changes nothing
  another relay has claimed since. The lease outlasts a whole batch (settings check it), so a
  live relay is never overtaken while it publishes.
- Poison rows: a message the broker refuses for good (:class:`MessageRefused`) is tried
  ``max_refusals`` times, then marked ``failed`` and counted (``broadsheet_outbox_failed_total``,
  alert on any increase). Ordering: the rows behind it wait during those tries, so events of one
  article stay in order while an outage or a refusal may still pass; once it is failed they go
  on without it, and consumers see the next revision (their projections keep the newest
  revision, so a missing one in between is harmless). Stalling every event of the service
  behind one row that can never be sent would be worse.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import structlog
from bson import Binary, ObjectId
from prometheus_client import Counter, Gauge
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError, PyMongoError

from broadsheet_shared.events.base import Emitted, Tombstone
from broadsheet_shared.events.codec import encode, topic_of
from broadsheet_shared.mongo import Database, IndexSpec, Session, run_in_transaction

log = structlog.get_logger(__name__)

OUTBOX = "outbox"
RELAY_LEASES = "outbox_relay_lease"
# A stopping service waits at most this long to give its relay lease up.
_RELEASE_TIMEOUT_SECONDS = 2.0

OUTBOX_PUBLISHED = Counter(
    "broadsheet_outbox_published_total", "Events the relay published", ["service"]
)
OUTBOX_PENDING = Gauge("broadsheet_outbox_pending", "Events waiting in the outbox", ["service"])
OUTBOX_FAILED = Counter(
    "broadsheet_outbox_failed_total",
    "Events the broker refused too often, marked failed and never published (alert on it)",
    ["service"],
)


class OutboxState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    PUBLISHED = "published"
    FAILED = "failed"


OUTBOX_INDEXES = [
    IndexSpec(
        OUTBOX,
        [
            IndexModel([("event_id", ASCENDING)], unique=True),
            IndexModel([("state", ASCENDING), ("_id", ASCENDING)]),
            # Published rows are kept a week for inspection, then expire.
            IndexModel([("published_at", ASCENDING)], expireAfterSeconds=7 * 24 * 3600),
        ],
    )
]


def outbox_document(message: Emitted, topic: str) -> dict[str, Any]:
    key, value, headers = encode(message)
    # ObjectIds grow with time, so sorting by _id publishes in commit order per process.
    row_id = ObjectId()
    if isinstance(message, Tombstone):
        # No event, so no event id: the row's own id keeps the unique index satisfied.
        event_id, event_type = f"tombstone:{row_id}", "tombstone"
    else:
        event_id, event_type = str(message.id), message.type
    return {
        "_id": row_id,
        "event_id": event_id,
        "type": event_type,
        "topic": topic,
        "key": Binary(key),
        # None for a tombstone: Kafka reads a null value as the deletion of the key.
        "value": Binary(value) if value is not None else None,
        "headers": [[name, Binary(val)] for name, val in headers],
        "state": OutboxState.PENDING.value,
        "attempts": 0,
        "created_at": datetime.now(UTC),
        "published_at": None,
    }


class Outbox:
    """Adds events to the outbox inside the caller's transaction."""

    def __init__(self, db: Database, topic_for: TopicResolver) -> None:
        self._collection = db[OUTBOX]
        self._topic_for = topic_for
        self._wake = asyncio.Event()

    async def add(self, events: Sequence[Emitted], session: Session) -> None:
        if not events:
            return
        documents = [outbox_document(event, self._topic_for(topic_of(event))) for event in events]
        await self._collection.insert_many(documents, session=session)

    def notify_committed(self) -> None:
        """Wake the relay now instead of at its next poll (called after a commit)."""
        self._wake.set()

    async def wait_for_work(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()


class TopicResolver(Protocol):
    def __call__(self, name: str, /) -> str: ...


class RawPublisher(Protocol):
    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send in order; raise :class:`MessageRefused` when the broker refuses one for good."""
        ...


class MessageRefused(Exception):
    """The broker refused ``messages[index]`` for a reason that retrying will not change (too
    large, an invalid topic). Every message before it was acknowledged."""

    def __init__(self, index: int, cause: BaseException) -> None:
        super().__init__(f"message {index} refused: {cause!r}")
        self.index = index
        self.cause = cause


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    key: bytes
    value: bytes | None  # None: a tombstone
    headers: list[tuple[str, bytes]]


class OutboxRelay:
    """Publishes pending outbox rows in order. One relay per database holds a lease at a time."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        publisher: RawPublisher,
        *,
        service: str,
        batch_size: int = 200,
        poll_interval: float = 0.25,
        lease_seconds: float = 30.0,
        max_refusals: int = 5,
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._publisher = publisher
        self._service = service
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._lease = timedelta(seconds=lease_seconds)
        self._max_refusals = max_refusals
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        backoff = self._poll_interval
        try:
            while not self._stopping.is_set():
                try:
                    if not await self.hold_lease():
                        await self._sleep(self._lease.total_seconds() / 3)
                        continue
                    published = await self.publish_pending()
                    backoff = self._poll_interval
                    if published == 0:
                        await self._outbox.wait_for_work(self._poll_interval)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the relay must outlive broker and database outages
                    log.warning("outbox relay error", error=repr(exc), retry_in=backoff)
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            if self._stopping.is_set():
                await self.release_lease()

    def stop(self) -> None:
        self._stopping.set()
        self._outbox.notify_committed()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def hold_lease(self) -> bool:
        """Take or renew the relay lease; False while another relay holds a live one."""
        now = datetime.now(UTC)
        try:
            await self._db[RELAY_LEASES].find_one_and_update(
                {"_id": "relay", "$or": [{"owner": self._owner}, {"until": {"$lt": now}}]},
                {"$set": {"owner": self._owner, "until": now + self._lease}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # another relay holds a live lease
        return True

    async def release_lease(self) -> None:
        """Give the lease up on a graceful stop, so that another relay (the restarted service,
        a replica) publishes at once instead of waiting the lease out. Rows this relay had
        claimed stay fenced by their claim token; a relay that dies without stopping keeps the
        lease until it expires. Best effort: the database may be what is going away."""
        with contextlib.suppress(PyMongoError, TimeoutError):
            await asyncio.wait_for(
                self._db[RELAY_LEASES].delete_one({"_id": "relay", "owner": self._owner}),
                _RELEASE_TIMEOUT_SECONDS,
            )

    async def _claim(self, ids: list[Any], claim: str) -> bool:
        """Mark the rows in flight under ``claim``, if this relay still holds a live lease."""
        leases, outbox = self._db[RELAY_LEASES], self._db[OUTBOX]

        # In a transaction for the lease check, and although the write alone would not need
        # one: a plain multi-document write that meets a writer's open transaction is retried
        # inside secantusd-py, under its collection lock, for as long as it takes
        # (docs/database.md); in a transaction the conflict comes back here at once and
        # with_transaction retries it.
        async def work(session: Session) -> bool:
            lease = await leases.find_one(
                {"_id": "relay", "owner": self._owner, "until": {"$gt": datetime.now(UTC)}},
                session=session,
            )
            if lease is None:
                return False
            await outbox.update_many(
                {"_id": {"$in": ids}, "state": {"$in": _UNPUBLISHED}},
                {
                    "$set": {"state": OutboxState.IN_FLIGHT.value, "claim": claim},
                    "$inc": {"attempts": 1},
                },
                session=session,
            )
            return True

        return await run_in_transaction(self._db.client, work)

    async def _transition(
        self, changes: list[tuple[list[Any], dict[str, Any]]], claim: str
    ) -> None:
        """Apply each (ids, update) to the rows still claimed under ``claim``, in one
        transaction; rows another relay has claimed since are left alone."""
        collection = self._db[OUTBOX]

        async def work(session: Session) -> None:
            for ids, update in changes:
                if ids:
                    await collection.update_many(
                        {"_id": {"$in": ids}, "claim": claim}, update, session=session
                    )

        await run_in_transaction(self._db.client, work)

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many events went out."""
        collection = self._db[OUTBOX]
        # in_flight rows are those a crashed relay took but never marked: send them again.
        rows = (
            await collection.find({"state": {"$in": _UNPUBLISHED}})
            .sort("_id", ASCENDING)
            .limit(self._batch_size)
            .to_list()
        )
        if not rows:
            OUTBOX_PENDING.labels(self._service).set(0)
            return 0
        ids = [row["_id"] for row in rows]
        claim = str(ObjectId())
        if not await self._claim(ids, claim):
            return 0  # the lease expired under us: another relay may hold it now
        try:
            await self._publisher.send_batch([_message(row) for row in rows])
        except MessageRefused as refused:
            if not await self._record_refusal(rows, refused, claim):
                raise  # tried again after the relay's backoff
            return refused.index
        except Exception as exc:
            with contextlib.suppress(PyMongoError):
                await self._transition([(ids, _back_to_pending(exc))], claim)
            raise
        await self._transition([(ids, _published())], claim)
        OUTBOX_PUBLISHED.labels(self._service).inc(len(rows))
        log.debug("outbox published", count=len(rows))
        return len(rows)

    async def _record_refusal(
        self, rows: list[dict[str, Any]], refused: MessageRefused, claim: str
    ) -> bool:
        """The rows before the refused one went out; the refused one is tried again later or,
        refused too often, failed (True); the rows after it wait for the next batch."""
        sent = [row["_id"] for row in rows[: refused.index]]
        poison = rows[refused.index]
        behind = [row["_id"] for row in rows[refused.index + 1 :]]
        error = repr(refused.cause)
        refusals = int(poison.get("refusals", 0)) + 1
        failed = refusals >= self._max_refusals
        poison_update: dict[str, Any] = {
            "$set": {
                "state": (OutboxState.FAILED if failed else OutboxState.PENDING).value,
                "last_error": error,
            },
            "$inc": {"refusals": 1},
        }
        await self._transition(
            [
                (sent, _published()),
                ([poison["_id"]], poison_update),
                (behind, _back_to_pending(refused)),
            ],
            claim,
        )
        OUTBOX_PUBLISHED.labels(self._service).inc(len(sent))
        if failed:
            OUTBOX_FAILED.labels(self._service).inc()
            log.error(
                "outbox event failed for good",
                event_id=poison["event_id"],
                event_type=poison["type"],
                error=error,
            )
        else:
            log.warning("broker refused an outbox event", event_id=poison["event_id"], error=error)
        return failed


_UNPUBLISHED = [OutboxState.PENDING.value, OutboxState.IN_FLIGHT.value]


def _message(row: dict[str, Any]) -> OutgoingMessage:
    return OutgoingMessage(
        topic=row["topic"],
        key=bytes(row["key"]),
        value=bytes(row["value"]) if row["value"] is not None else None,
        headers=[(name, bytes(value)) for name, value in row["headers"]],
    )


def _published() -> dict[str, Any]:
    return {"$set": {"state": OutboxState.PUBLISHED.value, "published_at": datetime.now(UTC)}}


def _back_to_pending(exc: BaseException) -> dict[str, Any]:
    return {"$set": {"state": OutboxState.PENDING.value, "last_error": repr(exc)}}
