"""Digests: ledger rows of kind ``digest`` that collect a busy article's comments for one
recipient until the window the first of them opened ends. They live in the deliveries
collection (the worker sends them like any row); this repository holds what only the digest
rule asks of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from broadsheet_notifications.domain import Delivery, DeliveryState, DigestItem, Transitions
from broadsheet_notifications.repository.ledger import (
    DELIVERIES,
    INDIVIDUAL_KINDS,
    LIVE_STATES,
    delivery_from_doc,
    guard,
    item_to_doc,
    move,
)
from broadsheet_shared.mongo import Database, Session

_OPEN = DeliveryState.PENDING.value  # a digest takes items until a worker claims it


class DigestRepository(Protocol):
    async def recent_individual(
        self, recipients: list[str], article_id: str, since: datetime, session: Session | None
    ) -> dict[str, list[datetime]]:
        """Per recipient of ``recipients``, when the individual emails to it about the article
        since ``since`` were recorded (those that did not end up cancelled or failed), oldest
        first; a recipient with none is left out. One query for them all: an article's
        followers are many, and each query is a round trip inside the event's transaction."""
        ...

    async def open_for(
        self, recipient: str, article_id: str, session: Session | None
    ) -> Delivery | None: ...
    async def add_item(self, delivery_id: str, item: DigestItem, session: Session | None) -> bool:
        """False when the digest is no longer open."""
        ...

    async def withdraw_comment(self, comment_id: str, session: Session | None) -> None:
        """Open digests lose the comment's item; one left empty is cancelled."""
        ...


class MongoDigestRepository:
    def __init__(self, db: Database) -> None:
        self._deliveries = db[DELIVERIES]

    async def recent_individual(
        self, recipients: list[str], article_id: str, since: datetime, session: Session | None
    ) -> dict[str, list[datetime]]:
        if not recipients:
            return {}
        docs = await self._deliveries.find(
            {
                "recipient_hash": {"$in": recipients},
                "article_id": article_id,
                "created_at": {"$gte": since},
                "kind": {"$in": INDIVIDUAL_KINDS},
                "state": {"$in": LIVE_STATES},
            },
            {"recipient_hash": 1, "created_at": 1},
            session=session,
        ).to_list()
        recent: dict[str, list[datetime]] = {}
        for doc in sorted(docs, key=lambda doc: doc["created_at"]):
            recent.setdefault(doc["recipient_hash"], []).append(doc["created_at"])
        return recent

    async def open_for(
        self, recipient: str, article_id: str, session: Session | None
    ) -> Delivery | None:
        doc = await self._deliveries.find_one(
            {
                "recipient_hash": recipient,
                "article_id": article_id,
                "kind": "digest",
                "state": _OPEN,
            },
            session=session,
        )
        return delivery_from_doc(doc) if doc else None

    async def add_item(self, delivery_id: str, item: DigestItem, session: Session | None) -> bool:
        result = await self._deliveries.update_one(
            {"_id": delivery_id, "state": _OPEN},
            {"$push": {"items": item_to_doc(item), "comment_ids": item.comment_id}},
            session=session,
        )
        return result.modified_count == 1

    async def withdraw_comment(self, comment_id: str, session: Session | None) -> None:
        # Read-modify-write keeps to operators every server supports.
        digests = await self._deliveries.find(
            {"comment_ids": comment_id, "state": _OPEN, "kind": "digest"}, session=session
        ).to_list()
        for doc in digests:
            items = [i for i in doc.get("items") or [] if i["comment_id"] != comment_id]
            ids = [c for c in doc.get("comment_ids") or [] if c != comment_id]
            fields: dict[str, Any] = {"items": items, "comment_ids": ids}
            await self._deliveries.update_one(
                {"_id": doc["_id"], **guard(Transitions.CANCEL)},
                move(Transitions.CANCEL, fields) if not items else {"$set": fields},
                session=session,
            )
