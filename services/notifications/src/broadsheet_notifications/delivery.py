"""Sending what the ledger holds: the delivery worker.

The worker claims due deliveries under a lease (``pending`` → ``sending``), sends them through
the ``Mailer`` (pooled SMTP connections, smtp.py), then records ``sent`` (or a retry, or
``failed``) together with the ``notification.sent``/``notification.failed`` event in one
transaction.

The window that cannot be closed: the SMTP server accepted a message and the process died before
recording it. The delivery is still ``sending``; once its lease runs out another worker sends it
again, with the same Message-ID. So a kill costs at most one duplicate per message that was in
flight at that moment, never a lost message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import structlog
from prometheus_client import Counter

from broadsheet_notifications.domain import Delivery, RetryPolicy
from broadsheet_notifications.mail import MailComposer
from broadsheet_notifications.repository import LedgerRepository
from broadsheet_notifications.smtp import Mailer, PermanentFailure
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.events import (
    NotificationFailedData,
    NotificationFailedV1,
    NotificationSentData,
    NotificationSentV1,
)
from broadsheet_shared.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger(__name__)

EMAILS = Counter("broadsheet_notification_emails_total", "Email attempts", ["kind", "outcome"])


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
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                self._wake.clear()

    async def _next_batch(self) -> list[Delivery]:
        now = self._clock()
        # Ledger writes run in transactions even when they stand alone: a conflict with a
        # consumer's transaction then comes back at once and is retried here, instead of a plain
        # write waiting inside the database (docs/database.md).
        if not self._due:
            # One query for several batches: finding due rows is the expensive part (it scans
            # on the local server), claiming a known list of ids is cheap.
            await self._uow.run(lambda tx: self._ledger.release_expired(now, tx.session))
            self._due.extend(await self._ledger.due_ids(now, self._batch_size * self._prefetch))
        ids = [self._due.popleft() for _ in range(min(self._batch_size, len(self._due)))]
        if not ids:
            return []
        claim = uuid4().hex
        return await self._uow.run(
            lambda tx: self._ledger.claim(
                ids, now, lease_until=now + self._lease, claim=claim, session=tx.session
            )
        )

    async def run_once(self) -> int:
        """Claim, send and record one batch; returns how many deliveries it handled."""
        batch = await self._next_batch()
        while not batch and self._due:  # every id of a stale prefetch was taken elsewhere
            batch = await self._next_batch()
        if not batch:
            return 0
        outcomes = await asyncio.gather(*(self._send(delivery) for delivery in batch))
        await self._record(list(outcomes))
        return len(batch)

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

    async def _record(self, outcomes: list[Outcome]) -> None:
        async def work(tx: Transaction) -> None:
            now = self._clock()
            sent = [o.delivery.id for o in outcomes if o.error is None]
            await self._ledger.mark_sent(sent, now, tx.session)
            for outcome in outcomes:
                await self._record_one(tx, outcome, now)

        await self._uow.run(work)
        if self.on_recorded is not None:
            self.on_recorded(outcomes)

    async def _record_one(self, tx: Transaction, outcome: Outcome, now: datetime) -> None:
        d = outcome.delivery
        subject = d.article_id or d.recipient_hash
        if outcome.error is None:  # marked sent in bulk by the caller
            EMAILS.labels(d.kind, "sent").inc()
            tx.emit(
                NotificationSentV1(
                    subject=subject,
                    data=NotificationSentData(**_event_fields(d), sent_at=now),
                )
            )
            return
        retry_at = None if outcome.permanent else self._retry.next_step(d, now)
        if retry_at is not None:
            EMAILS.labels(d.kind, "retry").inc()
            await self._ledger.reschedule(d.id, retry_at, outcome.error, tx.session)
            return
        EMAILS.labels(d.kind, "failed").inc()
        log.warning("delivery failed", delivery_id=d.id, error=outcome.error, attempts=d.attempts)
        await self._ledger.mark_failed(d.id, outcome.error, now, tx.session)
        tx.emit(
            NotificationFailedV1(
                subject=subject,
                data=NotificationFailedData(
                    **_event_fields(d),
                    error=outcome.error[:500],
                    attempts=d.attempts,
                    failed_at=now,
                ),
            )
        )
