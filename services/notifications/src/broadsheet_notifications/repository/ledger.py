"""The delivery ledger: one row per (event, recipient), moved through the domain's named
``Transitions`` (claim, send, fail …). This module only persists them: each update is guarded
by the transition's source states and sets its target state, and what a worker records about its
attempt is also fenced on its claim token (``fence``): a worker that lost its claim changes
nothing, and the method's answer tells it so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from broadsheet_notifications.domain import (
    Delivery,
    DeliveryState,
    DigestItem,
    Transition,
    Transitions,
)
from broadsheet_shared.mongo import Database, IndexSpec, Session

DELIVERIES = "deliveries"

LEDGER_INDEXES = [
    IndexSpec(
        DELIVERIES,
        [
            IndexModel([("state", ASCENDING), ("next_attempt_at", ASCENDING)]),
            IndexModel(
                [
                    ("recipient_hash", ASCENDING),
                    ("article_id", ASCENDING),
                    ("created_at", ASCENDING),
                ]
            ),
            IndexModel([("comment_ids", ASCENDING)]),
            IndexModel([("claim", ASCENDING)]),
        ],
    )
]

# A row that reaches sent, failed or cancelled is stamped with the server's time (the clock the
# TTL monitor reads) and deleted `ledger_retention_seconds` later; pending and sending rows have
# no stamp and never expire. A failed row that staff retry loses its stamp again.
FINISHED_AT = "finished_at"
LEDGER_TTL_INDEX = "finished_at_ttl"

INDIVIDUAL_KINDS = ["reply", "follow"]
# The rows that count against a recipient's digest window: all but the ones that never went out.
LIVE_STATES = [DeliveryState.PENDING.value, DeliveryState.SENDING.value, DeliveryState.SENT.value]
_LEASE = ("claim", "lease_until")


def ledger_expiry_indexes(retention_seconds: int) -> list[IndexSpec]:
    """The TTL index on the ledger; nothing reads through it, it only deletes."""
    return [
        IndexSpec(
            DELIVERIES,
            [
                IndexModel(
                    [(FINISHED_AT, ASCENDING)],
                    name=LEDGER_TTL_INDEX,
                    expireAfterSeconds=retention_seconds,
                )
            ],
        )
    ]


def guard(transition: Transition) -> dict[str, Any]:
    """The filter that keeps ``transition`` to rows in one of its source states."""
    states = sorted(state.value for state in transition.source)
    return {"state": states[0] if len(states) == 1 else {"$in": states}}


def fence(transition: Transition, claim: str) -> dict[str, Any]:
    """The filter for a worker's own transition: the row is still in a source state and still
    carries the worker's claim token (a release drops it, a later claim replaces it)."""
    return {**guard(transition), "claim": claim}


@dataclass(frozen=True)
class Held:
    """What a lease renewal found: the rows the claim still holds, and those of them whose
    cancellation was requested meanwhile (the worker must not send them)."""

    ids: frozenset[str]
    cancel_requested: frozenset[str]


def move(
    transition: Transition,
    fields: dict[str, Any] | None = None,
    *,
    drop: Iterable[str] = (),
    inc: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The update that persists ``transition``, with the ``fields`` it sets and the ones it
    ``drop``s. A finished row gets the server's time as its expiry stamp; a live one loses it."""
    update: dict[str, Any] = {"$set": {"state": transition.target.value, **(fields or {})}}
    unset = dict.fromkeys(drop, "")
    if transition.target.finished:
        update["$currentDate"] = {FINISHED_AT: True}
    else:
        unset[FINISHED_AT] = ""
    if unset:
        update["$unset"] = unset
    if inc:
        update["$inc"] = inc
    return update


class LedgerRepository(Protocol):
    async def add(self, delivery: Delivery, session: Session | None) -> bool:
        """Record ``delivery``; False when the ledger already holds its id."""
        ...

    async def add_many(self, deliveries: list[Delivery], session: Session | None) -> None:
        """Record an event's deliveries in one round trip. Their ids are the event's and a
        recipient's, and the consumer's inbox runs an event's effects once, so none is there
        yet; one that is fails the whole (the transaction is retried, then dead-lettered)."""
        ...

    async def get(self, delivery_id: str) -> Delivery | None: ...
    async def page(
        self, state: DeliveryState | None, limit: int, before: str | None
    ) -> list[Delivery]:
        """Newest id first, those below ``before``."""
        ...

    async def count(self, state: DeliveryState) -> int:
        """How many deliveries are in ``state``."""
        ...

    async def cancel_for_comment(self, comment_id: str, session: Session | None) -> None:
        """Individual emails about a withdrawn comment: cancelled, or flagged while sending."""
        ...

    async def cancel_pending_to(
        self, recipient: str, session: Session | None, *, subscription_id: str | None = None
    ) -> None:
        """Everything still to go to ``recipient`` (of one subscription, or all): pending rows,
        retries included, are cancelled; rows being sent are flagged, so their worker does not
        send them (or stops) and ends them cancelled."""
        ...

    async def to_recipient(self, recipient: str, session: Session | None) -> list[Delivery]:
        """Every row addressed to ``recipient``, oldest first."""
        ...

    async def delete_to(self, recipient: str, session: Session | None) -> None:
        """Every row addressed to ``recipient``, whatever its state: a row being sent stays
        (its worker owns it until it ends) and expires with the ledger's retention."""
        ...

    async def release_expired(self, now: datetime, session: Session | None) -> None:
        """Rows whose lease ran out are due again, or cancelled if that was requested."""
        ...

    async def due_ids(self, now: datetime, limit: int) -> list[str]: ...
    async def claim(
        self,
        ids: list[str],
        now: datetime,
        *,
        lease_until: datetime,
        claim: str,
        session: Session | None,
    ) -> list[Delivery]:
        """Take those of ``ids`` still due; another worker may have taken or cancelled some."""
        ...

    async def renew(self, claim: str, lease_until: datetime, session: Session | None) -> Held:
        """Extend the lease of every row ``claim`` still holds."""
        ...

    async def mark_sent(
        self, claim: str, delivery_ids: list[str], now: datetime, session: Session | None
    ) -> list[str]:
        """The ids actually recorded sent: those ``claim`` still held."""
        ...

    async def reschedule(
        self, claim: str, delivery_id: str, at: datetime, error: str, session: Session | None
    ) -> DeliveryState | None:
        """Due again at ``at`` (or cancelled, if that was requested while it was claimed): the
        state the row moved to, None when ``claim`` no longer held it."""
        ...

    async def mark_failed(
        self, claim: str, delivery_id: str, error: str, now: datetime, session: Session | None
    ) -> DeliveryState | None:
        """Failed (or cancelled, if that was requested while it was claimed): the state the
        row moved to, None when ``claim`` no longer held it."""
        ...

    async def retry_failed(
        self, delivery_id: str, now: datetime, deadline: datetime, session: Session | None
    ) -> bool:
        """False when the delivery is not failed."""
        ...


def item_to_doc(item: DigestItem) -> dict[str, Any]:
    return {
        "comment_id": item.comment_id,
        "author_name": item.author_name,
        "excerpt": item.excerpt,
        "comment_url_path": item.comment_url_path,
    }


def delivery_to_doc(d: Delivery) -> dict[str, Any]:
    return {
        "_id": d.id,
        "kind": d.kind,
        "state": d.state.value,
        "recipient_hash": d.recipient_hash,
        "email": d.email,
        "article_id": d.article_id,
        "source_event_id": d.source_event_id,
        "subscription_id": d.subscription_id,
        "comment_ids": list(d.comment_ids),
        "content": dict(d.content),
        "items": [item_to_doc(item) for item in d.items],
        "attempts": d.attempts,
        "created_at": d.created_at,
        "next_attempt_at": d.next_attempt_at,
        "deadline": d.deadline,
        "sent_at": d.sent_at,
        "last_error": d.last_error,
    }


def delivery_from_doc(doc: dict[str, Any]) -> Delivery:
    return Delivery(
        id=doc["_id"],
        kind=doc["kind"],
        state=DeliveryState(doc["state"]),
        recipient_hash=doc["recipient_hash"],
        email=doc["email"],
        article_id=doc.get("article_id"),
        source_event_id=doc.get("source_event_id"),
        subscription_id=doc.get("subscription_id"),
        comment_ids=list(doc.get("comment_ids") or []),
        content=dict(doc.get("content") or {}),
        items=[DigestItem(**item) for item in doc.get("items") or []],
        attempts=int(doc.get("attempts", 0)),
        created_at=doc["created_at"],
        next_attempt_at=doc["next_attempt_at"],
        deadline=doc["deadline"],
        sent_at=doc.get("sent_at"),
        last_error=doc.get("last_error"),
    )


class MongoLedgerRepository:
    def __init__(self, db: Database) -> None:
        self._deliveries = db[DELIVERIES]

    async def add(self, delivery: Delivery, session: Session | None) -> bool:
        try:
            await self._deliveries.insert_one(delivery_to_doc(delivery), session=session)
        except DuplicateKeyError:
            return False
        return True

    async def add_many(self, deliveries: list[Delivery], session: Session | None) -> None:
        if deliveries:
            docs = [delivery_to_doc(delivery) for delivery in deliveries]
            await self._deliveries.insert_many(docs, session=session)

    async def get(self, delivery_id: str) -> Delivery | None:
        doc = await self._deliveries.find_one({"_id": delivery_id})
        return delivery_from_doc(doc) if doc else None

    async def page(
        self, state: DeliveryState | None, limit: int, before: str | None
    ) -> list[Delivery]:
        query: dict[str, Any] = {}
        if state is not None:
            query["state"] = state.value
        if before is not None:
            query["_id"] = {"$lt": before}
        docs = await self._deliveries.find(query).sort("_id", DESCENDING).limit(limit).to_list()
        return [delivery_from_doc(doc) for doc in docs]

    async def count(self, state: DeliveryState) -> int:
        return await self._deliveries.count_documents({"state": state.value})

    async def cancel_for_comment(self, comment_id: str, session: Session | None) -> None:
        await self._cancel({"comment_ids": comment_id, "kind": {"$in": INDIVIDUAL_KINDS}}, session)

    async def cancel_pending_to(
        self, recipient: str, session: Session | None, *, subscription_id: str | None = None
    ) -> None:
        about: dict[str, Any] = {"recipient_hash": recipient}
        if subscription_id is not None:
            about["subscription_id"] = subscription_id
        await self._cancel(about, session)

    async def to_recipient(self, recipient: str, session: Session | None) -> list[Delivery]:
        docs = await self._deliveries.find(
            {"recipient_hash": recipient}, session=session, sort=[("created_at", ASCENDING)]
        ).to_list()
        return [delivery_from_doc(doc) for doc in docs]

    async def delete_to(self, recipient: str, session: Session | None) -> None:
        await self._deliveries.delete_many(
            {"recipient_hash": recipient, "state": {"$ne": DeliveryState.SENDING.value}},
            session=session,
        )

    async def _cancel(self, about: dict[str, Any], session: Session | None) -> None:
        await self._deliveries.update_many(
            {**about, **guard(Transitions.CANCEL)}, move(Transitions.CANCEL), session=session
        )
        # A claimed row is its worker's to end: it sees the flag when it renews its lease.
        await self._deliveries.update_many(
            {**about, **guard(Transitions.ABANDON)},
            {"$set": {"cancel_requested": True}},
            session=session,
        )

    async def release_expired(self, now: datetime, session: Session | None) -> None:
        expired = {"lease_until": {"$lt": now}}
        await self._deliveries.update_many(
            {**guard(Transitions.ABANDON), **expired, "cancel_requested": True},
            move(Transitions.ABANDON, drop=_LEASE),
            session=session,
        )
        await self._deliveries.update_many(
            {**guard(Transitions.RELEASE), **expired},
            move(Transitions.RELEASE, {"next_attempt_at": now}, drop=_LEASE),
            session=session,
        )

    async def due_ids(self, now: datetime, limit: int) -> list[str]:
        due = {**guard(Transitions.CLAIM), "next_attempt_at": {"$lte": now}}
        docs = (
            await self._deliveries.find(due, {"_id": 1})
            .sort("next_attempt_at", ASCENDING)
            .limit(limit)
            .to_list()
        )
        return [doc["_id"] for doc in docs]

    async def claim(
        self,
        ids: list[str],
        now: datetime,
        *,
        lease_until: datetime,
        claim: str,
        session: Session | None,
    ) -> list[Delivery]:
        await self._deliveries.update_many(
            {"_id": {"$in": ids}, **guard(Transitions.CLAIM), "next_attempt_at": {"$lte": now}},
            move(
                Transitions.CLAIM, {"claim": claim, "lease_until": lease_until}, inc={"attempts": 1}
            ),
            session=session,
        )
        docs = await self._deliveries.find({"claim": claim}, session=session).to_list()
        return [delivery_from_doc(doc) for doc in docs]

    async def renew(self, claim: str, lease_until: datetime, session: Session | None) -> Held:
        held = {"claim": claim, **guard(Transitions.RELEASE)}
        await self._deliveries.update_many(
            held, {"$set": {"lease_until": lease_until}}, session=session
        )
        docs = await self._deliveries.find(
            held, {"_id": 1, "cancel_requested": 1}, session=session
        ).to_list()
        return Held(
            ids=frozenset(doc["_id"] for doc in docs),
            cancel_requested=frozenset(doc["_id"] for doc in docs if doc.get("cancel_requested")),
        )

    async def mark_sent(
        self, claim: str, delivery_ids: list[str], now: datetime, session: Session | None
    ) -> list[str]:
        if not delivery_ids:
            return []
        mine = {"_id": {"$in": delivery_ids}, **fence(Transitions.SEND, claim)}
        # Read first, in the same transaction: the update cannot say which rows it matched.
        docs = await self._deliveries.find(mine, {"_id": 1}, session=session).to_list()
        await self._deliveries.update_many(
            mine,
            move(Transitions.SEND, {"sent_at": now, "last_error": None}, drop=_LEASE),
            session=session,
        )
        return [doc["_id"] for doc in docs]

    async def reschedule(
        self, claim: str, delivery_id: str, at: datetime, error: str, session: Session | None
    ) -> DeliveryState | None:
        return await self._end_attempt(
            claim,
            delivery_id,
            Transitions.RESCHEDULE,
            {"next_attempt_at": at, "last_error": error},
            session,
        )

    async def mark_failed(
        self, claim: str, delivery_id: str, error: str, now: datetime, session: Session | None
    ) -> DeliveryState | None:
        return await self._end_attempt(
            claim,
            delivery_id,
            Transitions.FAIL,
            {"last_error": error, "failed_at": now},
            session,
        )

    async def _end_attempt(
        self,
        claim: str,
        delivery_id: str,
        transition: Transition,
        fields: dict[str, Any],
        session: Session | None,
    ) -> DeliveryState | None:
        """``transition`` for an attempt that did not send, or ABANDON if the row's cancellation
        was requested meanwhile; both only while ``claim`` still holds the row."""
        abandoned = await self._deliveries.update_one(
            {"_id": delivery_id, "cancel_requested": True, **fence(Transitions.ABANDON, claim)},
            move(Transitions.ABANDON, {"last_error": fields["last_error"]}, drop=_LEASE),
            session=session,
        )
        if abandoned.modified_count:
            return Transitions.ABANDON.target
        result = await self._deliveries.update_one(
            {"_id": delivery_id, "cancel_requested": {"$ne": True}, **fence(transition, claim)},
            move(transition, fields, drop=_LEASE),
            session=session,
        )
        return transition.target if result.modified_count else None

    async def retry_failed(
        self, delivery_id: str, now: datetime, deadline: datetime, session: Session | None
    ) -> bool:
        result = await self._deliveries.update_one(
            {"_id": delivery_id, **guard(Transitions.RETRY)},
            move(Transitions.RETRY, {"next_attempt_at": now, "deadline": deadline, "attempts": 0}),
            session=session,
        )
        return result.modified_count == 1
