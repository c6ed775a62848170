"""The transactional outbox (eShop's IntegrationEventLog) for MongoDB.

A use case writes its state change and its events in one transaction; the relay publishes what is
pending, in order, and marks it published. A crash between any two steps loses nothing: an event
that was sent but not yet marked is sent again, and consumers drop the duplicate by event id.

States: ``pending`` → ``published``; ``failed`` when an event cannot be sent at all (e.g. larger
than the broker accepts) and needs a person.

Two rules keep one relay from undoing another's work:

- Fencing: a relay sends only after checking that it holds a live lease, and every transition
  of a row (published, failed, an error noted) is written in a transaction that renews that
  lease first, so a relay that lost its lease mid-batch changes nothing (another relay sends
  its rows again). The lease outlasts a whole batch (settings check it), so a live relay is
  never overtaken while it publishes.
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
from collections import deque
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
from broadsheet_shared.waiting import wait_until_set

log = structlog.get_logger(__name__)

OUTBOX = "outbox"
RELAY_LEASES = "outbox_relay_lease"
# Rows a relay reads, sends and marks at a time.
BATCH_SIZE = 200
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
    PUBLISHED = "published"
    FAILED = "failed"


# The state in which relays before 2026-12 left the rows they had claimed (OutboxRelay
# makes such rows pending again when it starts).
_OLD_CLAIMED = "in_flight"


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
        await wait_until_set(self._wake, timeout)
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
        batch_size: int = BATCH_SIZE,
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
        self._upgraded = False

    async def run(self) -> None:
        backoff = self._poll_interval
        try:
            while not self._stopping.is_set():
                try:
                    if not await self.hold_lease():
                        await self._sleep(self._lease.total_seconds() / 3)
                        continue
                    if not self._upgraded:
                        await self._release_old_claims()
                        self._upgraded = True
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
        await wait_until_set(self._stopping, seconds)

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
        a replica) publishes at once instead of waiting the lease out; without the lease this relay
        marks nothing more. A relay that dies without stopping keeps the lease until it
        expires. Best effort: the database may be what is going away."""
        with contextlib.suppress(PyMongoError, TimeoutError):
            await asyncio.wait_for(
                self._db[RELAY_LEASES].delete_one({"_id": "relay", "owner": self._owner}),
                _RELEASE_TIMEOUT_SECONDS,
            )

    async def _release_old_claims(self) -> None:
        """Make rows an earlier relay left claimed (``in_flight``: it claimed a batch before
        sending it) pending again, once the lease is ours, so that an upgrade strands none:
        they are sent again, and consumers drop what they already had by event id."""
        await self._db[OUTBOX].update_many(
            {"state": _OLD_CLAIMED}, {"$set": {"state": OutboxState.PENDING.value}}
        )

    async def _fenced(self, changes: list[tuple[list[Any], dict[str, Any]]]) -> bool:
        """Apply each (ids, update) to this relay's batch, in one transaction that first
        renews this relay's lease; False, changing nothing, when the lease is no longer its own.

        Writing the lease document is the fence: a relay taking the lease over writes it too, so
        the two transactions conflict and the loser retries, then finds the lease gone. It
        replaces a claim written on every row of a batch (the database writes row by row: that
        claim cost as much as the mark itself)."""
        leases, collection = self._db[RELAY_LEASES], self._db[OUTBOX]

        # A transaction even for a lone write: a plain multi-document write that meets a
        # writer's open transaction is retried inside secantusd-py, under its collection lock,
        # for as long as it takes (docs/database.md); in a transaction the conflict comes back
        # here at once and with_transaction retries it.
        async def work(session: Session) -> bool:
            now = datetime.now(UTC)
            renewed = await leases.update_one(
                {"_id": "relay", "owner": self._owner, "until": {"$gt": now}},
                {"$set": {"until": now + self._lease}},
                session=session,
            )
            if renewed.matched_count == 0:
                return False
            for ids, update in changes:
                if ids:
                    # By id alone (a filter on the state would have the server match every
                    # pending row): under the lease, no other relay changes these rows.
                    await collection.update_many({"_id": {"$in": ids}}, update, session=session)
            return True

        return await run_in_transaction(self._db.client, work)

    async def _holds_lease(self) -> bool:
        lease = await self._db[RELAY_LEASES].find_one(
            {"_id": "relay", "owner": self._owner, "until": {"$gt": datetime.now(UTC)}}
        )
        return lease is not None

    async def publish_pending(self) -> int:
        """Publish what is pending, batch after batch; returns how many events went out.

        The next batch is read while this one is sent (the database would otherwise idle
        through the send), and sent only once this one is marked, so the events of one article
        go out in order and a crash re-sends from the oldest unmarked batch on. The lease is
        checked before the first send and renewed by every mark, so a batch read ahead holds
        rows still pending: no other relay can have taken them over."""
        # A relay that crashed between sending and marking left its rows pending: they are
        # sent again, and consumers drop the duplicates by event id.
        backlog = _Backlog(self._db[OUTBOX], self._batch_size)
        rows = await backlog.next([])
        if not rows:
            OUTBOX_PENDING.labels(self._service).set(0)
            return 0
        if not await self._holds_lease():
            return 0  # the lease expired under us: another relay may hold it now
        published = 0
        while rows:
            ids = [row["_id"] for row in rows]
            more = not backlog.exhausted and not self._stopping.is_set()
            ahead = asyncio.create_task(backlog.next(ids)) if more else None
            try:
                count = await self._publish(rows, ids)
            except BaseException:
                await _discard(ahead)
                raise
            published += count
            if ahead is None or count < len(rows):  # the last batch, a refusal, a lost lease
                await _discard(ahead)
                break
            rows = await ahead
        return published

    async def _publish(self, rows: list[dict[str, Any]], ids: list[Any]) -> int:
        """Send one batch and mark it; returns how many of its events went out."""
        try:
            await self._publisher.send_batch([_message(row) for row in rows])
        except MessageRefused as refused:
            if not await self._record_refusal(rows, refused):
                raise  # tried again after the relay's backoff
            return refused.index
        except Exception as exc:
            with contextlib.suppress(PyMongoError):
                await self._fenced([(ids, _last_error(exc))])
            raise
        if not await self._fenced([(ids, _published())]):
            # Sent, but another relay took over meanwhile: it sends these rows again.
            log.warning("outbox relay lost its lease mid-batch", count=len(rows))
            return 0
        OUTBOX_PUBLISHED.labels(self._service).inc(len(rows))
        log.debug("outbox published", count=len(rows))
        return len(rows)

    async def _record_refusal(self, rows: list[dict[str, Any]], refused: MessageRefused) -> bool:
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
        if not await self._fenced(
            [(sent, _published()), ([poison["_id"]], poison_update), (behind, _last_error(refused))]
        ):
            return False  # another relay took over and sends these rows again
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


# Batches whose ids one scan of the pending rows lists (_Backlog): the more, the cheaper a
# backlog drains, and the longer a row committed late with an older id may wait behind it.
SCANNED_BATCHES = 50


class _Backlog:
    """The oldest pending rows, a batch at a time. The database server matches every pending
    row before it sorts and limits, so finding the oldest costs as much as the whole backlog
    (docs/database.md), while rows read by id cost only themselves: one scan lists the ids of
    several batches, which are then read by id. Rows committed meanwhile with older ids (ids
    are made before the commit, by several processes) are found by the next scan."""

    def __init__(self, collection: Any, batch_size: int) -> None:
        self._collection = collection
        self._batch_size = batch_size
        self._ids: deque[Any] = deque()
        self._scanned_all = False

    @property
    def exhausted(self) -> bool:
        return self._scanned_all and not self._ids

    async def next(self, excluding: list[Any]) -> list[dict[str, Any]]:
        """The next batch; ``excluding`` the batch still on its way, pending until marked."""
        if not self._ids and not self._scanned_all:
            await self._scan(excluding)
        batch = [self._ids.popleft() for _ in range(min(self._batch_size, len(self._ids)))]
        if not batch:
            return []
        # By id alone: a filter on the state too would have the server match every pending row.
        rows = await self._collection.find({"_id": {"$in": batch}}).sort("_id").to_list()
        return [row for row in rows if row["state"] == OutboxState.PENDING.value]

    async def _scan(self, excluding: list[Any]) -> None:
        query: dict[str, Any] = {"state": OutboxState.PENDING.value}
        if excluding:
            query["_id"] = {"$nin": excluding}
        limit = self._batch_size * SCANNED_BATCHES
        found = await self._collection.find(query, {"_id": 1}).sort("_id").limit(limit).to_list()
        self._ids.extend(row["_id"] for row in found)
        self._scanned_all = len(found) < limit


async def _discard(task: asyncio.Task[Any] | None) -> None:
    """Drop a read-ahead no longer wanted, once it has stopped."""
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _message(row: dict[str, Any]) -> OutgoingMessage:
    return OutgoingMessage(
        topic=row["topic"],
        key=bytes(row["key"]),
        value=bytes(row["value"]) if row["value"] is not None else None,
        headers=[(name, bytes(value)) for name, value in row["headers"]],
    )


def _published() -> dict[str, Any]:
    return {"$set": {"state": OutboxState.PUBLISHED.value, "published_at": datetime.now(UTC)}}


def _last_error(exc: BaseException) -> dict[str, Any]:
    return {"$set": {"last_error": repr(exc)}}
