"""Sending what the ledger holds: the delivery worker.

The worker claims due deliveries under a lease (``pending`` → ``sending``), sends them through
the ``Mailer`` (pooled SMTP connections, smtp.py), then records ``sent`` (or a retry, or
``failed``) together with the ``notification.sent``/``notification.failed`` event in one
transaction.

Every claim carries a fresh token, and everything the worker records about its attempt is fenced
on it (repository/ledger.py): a worker whose lease ran out, and whose rows another worker has
claimed since, changes nothing and learns so. While a batch is out, a heartbeat renews its lease
every third of the lease, so a send slower than the lease keeps its rows; the heartbeat also
learns which rows were cancelled meanwhile (an unsubscribe, a suppression, a withdrawn comment)
and stops their sends. A lease is only lost when its holder cannot renew it: then the holder stops
its unfinished sends a third of a lease before the lease ends, so no other worker sends a row
while its holder still might.

The window that cannot be closed: the SMTP server accepted a message and the worker could not
record it, because the process died or lost the database for two thirds of a lease right then
(or it stopped a send after the server had the whole message but before its answer came back).
The delivery is then sent again, by another worker once the lease runs out, or after the retry
backoff, with the same Message-ID. So it costs at most one duplicate per message in flight at
that moment, never a lost message; the wall clocks of the workers must agree to within a third
of a lease (the holder writes ``lease_until``, the others compare it with their own clock).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import structlog
from prometheus_client import Counter

from broadsheet_notifications.domain import Delivery, DeliveryState, RetryPolicy
from broadsheet_notifications.mail import MailComposer
from broadsheet_notifications.repository import LedgerRepository
from broadsheet_notifications.smtp import Mailer, PermanentFailure
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.events import (
    NotificationFailedDataV2,
    NotificationFailedV2,
    NotificationSentDataV2,
    NotificationSentV2,
)
from broadsheet_shared.unit_of_work import Transaction, UnitOfWork
from broadsheet_shared.waiting import wait_until_set

log = structlog.get_logger(__name__)

EMAILS = Counter("broadsheet_notification_emails_total", "Email attempts", ["kind", "outcome"])
LOST_CLAIMS = Counter(
    "broadsheet_notification_lost_claims_total",
    "Attempts whose outcome could not be recorded: the worker no longer held the row",
    ["outcome"],
)


def _event_fields(d: Delivery) -> dict[str, Any]:
    """What both ``notification.sent`` and ``notification.failed`` say about the delivery."""
    return {
        "delivery_id": d.id,
        "kind": d.kind,
        "article_id": d.article_id,
        "source_event_id": d.source_event_id,
        "recipient_hash": d.recipient_hash,
    }


@dataclass(frozen=True)
class Outcome:
    delivery: Delivery
    error: str | None = None
    permanent: bool = False


@dataclass
class _Batch:
    """One claim's rows while they are out: the send task of each, and why the heartbeat stopped
    the ones it stopped."""

    claim: str
    deliveries: list[Delivery]
    tasks: dict[str, asyncio.Task[Outcome]] = field(default_factory=dict)
    stopped: dict[str, str] = field(default_factory=dict)

    def stop(self, delivery_id: str, reason: str) -> None:
        task = self.tasks.get(delivery_id)
        if task is not None and not task.done() and delivery_id not in self.stopped:
            self.stopped[delivery_id] = reason
            task.cancel()

    def outcomes(self) -> list[Outcome]:
        return [
            Outcome(d, self.stopped[d.id])
            if self.tasks[d.id].cancelled()
            else self.tasks[d.id].result()
            for d in self.deliveries
        ]


# How often at most a worker releases the rows whose lease ran out (their worker died or lost the
# database). Such a row has waited a whole lease already (a minute by default); releasing is a
# transaction of its own, which every refill of due ids paid before its claim, many times a second
# under load, and always in front of a fresh row's send.
RELEASE_EVERY = timedelta(seconds=1)


class DeliveryWorker:
    def __init__(
        self,
        ledger: LedgerRepository,
        uow: UnitOfWork,
        composer: MailComposer,
        mailer: Mailer,
        retry: RetryPolicy,
        *,
        batch_size: int = 200,
        poll_seconds: float = 0.5,
        lease_seconds: float = 60.0,
        prefetch_batches: int = 10,
        clock: Clock = utcnow,
    ) -> None:
        self._ledger = ledger
        self._uow = uow
        self._composer = composer
        self._mailer = mailer
        self._retry = retry
        self._batch_size = batch_size
        self._poll = poll_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._wake = asyncio.Event()
        self._due: deque[str] = deque()
        # One loop looks for due rows at a time, and the others take from what it found: every
        # consumer commit wakes them all at once, and each used to run the scan of its own.
        self._finding = asyncio.Lock()
        self._finds = 0
        # Ids taken from ``_due`` whose batch is not recorded yet: a scan that ran while they
        # were being claimed may list them again, and a claim of them could only fail.
        self._taken: set[str] = set()
        self._released_at: datetime | None = None
        self._prefetch = prefetch_batches
        self.on_recorded: Callable[[list[Outcome]], None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self, concurrency: int = 1) -> None:
        """``concurrency`` claim-send-record loops, so one batch's database round trips overlap
        another's SMTP traffic. Claims never overlap: each loop takes its own rows."""
        if concurrency > 1:
            await asyncio.gather(*(self._loop() for _ in range(concurrency)))
        else:
            await self._loop()

    async def _loop(self) -> None:
        backoff = self._poll
        while True:
            try:
                handled = await self.run_once()
                backoff = self._poll
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the worker must outlive database outages
                log.warning("delivery worker error", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if handled == 0:
                await wait_until_set(self._wake, self._poll)
                self._wake.clear()

    async def _next_batch(self) -> _Batch | None:
        now = self._clock()
        # Ledger writes run in transactions even when they stand alone: a conflict with a
        # consumer's transaction then comes back at once and is retried here, instead of a plain
        # write waiting inside the database (docs/database.md).
        if not self._due:
            finds = self._finds
            async with self._finding:
                if self._finds == finds:  # no other loop looked while this one waited
                    await self._find_due(now)
        ids = [self._due.popleft() for _ in range(min(self._batch_size, len(self._due)))]
        if not ids:
            return None
        self._taken.update(ids)
        claim = uuid4().hex
        try:
            deliveries = await self._uow.run(
                lambda tx: self._ledger.claim(
                    ids, now, lease_until=now + self._lease, claim=claim, session=tx.session
                )
            )
        finally:
            self._taken.difference_update(ids)
        self._taken.update(d.id for d in deliveries)  # until their outcome is recorded
        return _Batch(claim, deliveries)

    async def _find_due(self, now: datetime) -> None:
        # One query for several batches: finding due rows is the expensive part (it scans on
        # the local server), claiming a known list of ids is cheap.
        if self._released_at is None or now - self._released_at >= RELEASE_EVERY:
            self._released_at = now
            await self._uow.run(lambda tx: self._ledger.release_expired(now, tx.session))
        due = await self._ledger.due_ids(now, self._batch_size * self._prefetch)
        self._finds += 1
        self._due.extend(i for i in due if i not in self._taken)

    async def run_once(self) -> int:
        """Claim, send and record one batch; returns how many deliveries it handled."""
        claimed_at = asyncio.get_running_loop().time()
        batch = await self._next_batch()
        while (batch is None or not batch.deliveries) and self._due:
            # every id of a stale prefetch was taken elsewhere
            claimed_at = asyncio.get_running_loop().time()
            batch = await self._next_batch()
        if batch is None or not batch.deliveries:
            return 0
        heartbeat: asyncio.Task[None] | None = None
        try:
            for delivery in batch.deliveries:
                batch.tasks[delivery.id] = asyncio.create_task(self._send(delivery))
                # A send task composes its message first, a millisecond or more of CPU: started
                # one loop turn apart, a batch's compositions let the consumer's database round
                # trips in between, instead of holding the one event loop for the whole batch.
                await asyncio.sleep(0)
            # Started once every send is, so that what it stops covers them all.
            heartbeat = asyncio.create_task(self._keep_lease(batch, claimed_at))
            await asyncio.wait(batch.tasks.values())
            # The lease is kept until the outcome is recorded: a sent row is never released.
            await self._record(batch.claim, batch.outcomes())
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
            for task in batch.tasks.values():
                task.cancel()
            self._taken.difference_update(d.id for d in batch.deliveries)
        return len(batch.deliveries)

    async def _keep_lease(self, batch: _Batch, claimed_at: float) -> None:
        """Renew the batch's lease every third of it; stop the sends of rows cancelled
        meanwhile, and of every row once the lease can no longer be trusted to hold."""
        loop = asyncio.get_running_loop()
        lease = self._lease.total_seconds()
        interval = lease / 3
        held_until = claimed_at + lease
        while True:
            await asyncio.sleep(interval)
            started = loop.time()
            try:
                async with asyncio.timeout(interval):
                    held = await self._uow.run(
                        lambda tx: self._ledger.renew(
                            batch.claim, self._clock() + self._lease, tx.session
                        )
                    )
            except Exception as exc:  # the database is away: the sends go on while it is safe
                log.warning("lease renewal failed", claim=batch.claim, error=repr(exc))
                if loop.time() >= held_until - interval:
                    for delivery_id in batch.tasks:
                        batch.stop(delivery_id, "stopped: the lease could not be renewed")
                continue
            held_until = started + lease
            for delivery_id in batch.tasks:
                if delivery_id in held.cancel_requested:
                    batch.stop(delivery_id, "stopped: cancelled while being sent")
                elif delivery_id not in held.ids:
                    batch.stop(delivery_id, "stopped: the lease was lost")

    async def _send(self, delivery: Delivery) -> Outcome:
        try:
            message = self._composer.compose(delivery)
        except Exception as exc:  # a delivery we cannot render will never render
            return Outcome(delivery, f"cannot compose: {exc!r}", permanent=True)
        try:
            await self._mailer.send(message)
        except PermanentFailure as exc:
            return Outcome(delivery, str(exc), permanent=True)
        except Exception as exc:
            return Outcome(delivery, repr(exc))
        return Outcome(delivery)

    async def _record(self, claim: str, outcomes: list[Outcome]) -> None:
        async def work(tx: Transaction) -> None:
            now = self._clock()
            sent = [o.delivery.id for o in outcomes if o.error is None]
            recorded = set(await self._ledger.mark_sent(claim, sent, now, tx.session))
            for outcome in outcomes:
                await self._record_one(tx, claim, outcome, now, recorded)

        await self._uow.run(work)
        if self.on_recorded is not None:
            self.on_recorded(outcomes)

    async def _record_one(
        self, tx: Transaction, claim: str, outcome: Outcome, now: datetime, recorded: set[str]
    ) -> None:
        d = outcome.delivery
        subject = d.article_id or d.recipient_hash
        if outcome.error is None:  # marked sent in bulk by the caller
            EMAILS.labels(d.kind, "sent").inc()
            if d.id not in recorded:
                # Only a worker cut off from the database for most of a lease gets here.
                LOST_CLAIMS.labels("sent").inc()
                log.error("sent, but the claim was lost: it may go out twice", delivery_id=d.id)
                return
            tx.emit(
                NotificationSentV2(
                    subject=subject,
                    data=NotificationSentDataV2(**_event_fields(d), sent_at=now),
                )
            )
            return
        retry_at = None if outcome.permanent else self._retry.next_step(d, now)
        if retry_at is not None:
            EMAILS.labels(d.kind, "retry").inc()
            state = await self._ledger.reschedule(claim, d.id, retry_at, outcome.error, tx.session)
            if state is None:
                LOST_CLAIMS.labels("retry").inc()
            return
        EMAILS.labels(d.kind, "failed").inc()
        state = await self._ledger.mark_failed(claim, d.id, outcome.error, now, tx.session)
        if state is None:
            LOST_CLAIMS.labels("failed").inc()
        if state != DeliveryState.FAILED:  # lost, or cancelled meanwhile: nothing failed
            return
        log.warning("delivery failed", delivery_id=d.id, error=outcome.error, attempts=d.attempts)
        tx.emit(
            NotificationFailedV2(
                subject=subject,
                data=NotificationFailedDataV2(
                    **_event_fields(d),
                    error=outcome.error[:500],
                    attempts=d.attempts,
                    failed_at=now,
                ),
            )
        )
