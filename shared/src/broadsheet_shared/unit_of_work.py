"""A unit of work over one MongoDB transaction: the use case's writes plus its events.

Use cases record events with :meth:`Transaction.emit`; they reach the outbox in the same
transaction, and the relay is woken once it has committed. Use cases never commit themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from broadsheet_shared.events.base import Emitted
from broadsheet_shared.mongo import MongoClient, Session, run_in_transaction
from broadsheet_shared.outbox import Outbox

T = TypeVar("T")


@dataclass
class Transaction:
    session: Session
    events: list[Emitted] = field(default_factory=list)

    def emit(self, event: Emitted) -> None:
        self.events.append(event)


class UnitOfWork(Protocol):
    async def run(
        self, work: Callable[[Transaction], Awaitable[T]], *, timeout: float | None = None
    ) -> T:
        """Run ``work`` in one transaction and commit it with the events it emitted, within
        ``timeout`` seconds (by default the bound of one database operation; a bulk change
        that rewrites many documents needs longer)."""
        ...


class MongoUnitOfWork:
    def __init__(self, client: MongoClient, outbox: Outbox) -> None:
        self._client = client
        self._outbox = outbox

    async def run(
        self, work: Callable[[Transaction], Awaitable[T]], *, timeout: float | None = None
    ) -> T:
        """Run ``work`` and commit; the whole of it is retried on a transient error."""

        async def attempt(session: Session) -> T:
            tx = Transaction(session)
            result = await work(tx)
            await self._outbox.add(tx.events, session)
            return result

        result = await run_in_transaction(self._client, attempt, timeout=timeout)
        self._outbox.notify_committed()
        return result
