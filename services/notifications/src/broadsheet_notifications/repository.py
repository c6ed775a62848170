"""The only module that touches MongoDB: articles projection, addresses, subscriptions and the
delivery ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from broadsheet_notifications.domain import (
    Address,
    AddressState,
    Delivery,
    DeliveryState,
    DigestItem,
    Subscription,
)
from broadsheet_shared.mongo import Database, IndexSpec, Session

ARTICLES = "articles"
ADDRESSES = "addresses"
SUBSCRIPTIONS = "subscriptions"
DELIVERIES = "deliveries"

INDEXES: list[IndexSpec] = [
    IndexSpec(ARTICLES, [IndexModel([("slugs", ASCENDING)])]),
    IndexSpec(
        SUBSCRIPTIONS,
        [
            IndexModel([("comment_id", ASCENDING), ("active", ASCENDING)]),
            IndexModel([("article_id", ASCENDING), ("kind", ASCENDING), ("active", ASCENDING)]),
            IndexModel([("recipient_hash", ASCENDING)]),
        ],
    ),
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
    ),
]

# A row that reaches sent, failed or cancelled is stamped with the server's time (the clock the
# TTL monitor reads) and deleted `ledger_retention_seconds` later; pending and sending rows have
# no stamp and never expire. A failed row that staff retry loses its stamp again.
FINISHED_AT = "finished_at"
LEDGER_TTL_INDEX = "finished_at_ttl"
_STAMP_FINISHED: dict[str, Any] = {"$currentDate": {FINISHED_AT: True}}


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


INDIVIDUAL_KINDS = ["reply", "follow"]
LIVE_STATES = [DeliveryState.PENDING.value, DeliveryState.SENDING.value, DeliveryState.SENT.value]


@dataclass(frozen=True)
class ArticleView:
    article_id: str
    slug: str
    slugs: list[str]
    title: str
    url_path: str
    live: bool = True


class NotificationsRepository(Protocol):
    async def save_article(self, article: ArticleView, session: Session | None) -> None: ...
    async def mark_article_gone(self, article_id: str, session: Session | None) -> None: ...
    async def article_by_slug(self, slug: str) -> ArticleView | None: ...

    async def get_address(self, recipient: str, session: Session | None) -> Address | None: ...
    async def get_addresses(
        self, recipients: list[str], session: Session | None
    ) -> dict[str, Address]: ...
    async def save_address(self, address: Address, session: Session | None) -> None: ...

    async def get_subscription(
        self, sub_id: str, session: Session | None
    ) -> Subscription | None: ...
    async def save_subscription(self, sub: Subscription, session: Session | None) -> None: ...
    async def reply_subscription(
        self, comment_id: str, session: Session | None
    ) -> Subscription | None: ...
    async def followers(self, article_id: str, session: Session | None) -> list[Subscription]: ...
    async def end_subscription(self, sub_id: str, session: Session | None) -> None: ...
    async def end_subscriptions_of(self, recipient: str, session: Session | None) -> None: ...
    async def end_subscriptions_for_comment(
        self, comment_id: str, session: Session | None
    ) -> None: ...

    async def add_delivery(self, delivery: Delivery, session: Session | None) -> bool: ...
    async def get_delivery(self, delivery_id: str) -> Delivery | None: ...
    async def recent_individual(
        self, recipient: str, article_id: str, since: datetime, session: Session | None
    ) -> list[datetime]: ...
    async def open_digest(
        self, recipient: str, article_id: str, session: Session | None
    ) -> Delivery | None: ...
    async def add_digest_item(
        self, delivery_id: str, item: DigestItem, session: Session | None
    ) -> bool: ...
    async def cancel_for_comment(self, comment_id: str, session: Session | None) -> None: ...
    async def cancel_pending_to(
        self, recipient: str, session: Session | None, *, subscription_id: str | None = None
    ) -> None: ...
    async def release_expired(self, now: datetime, session: Session | None) -> None: ...
    async def due_ids(self, now: datetime, limit: int) -> list[str]: ...
    async def claim(
        self,
        ids: list[str],
        now: datetime,
        *,
        lease_until: datetime,
        claim: str,
        session: Session | None,
    ) -> list[Delivery]: ...
    async def mark_sent(
        self, delivery_ids: list[str], now: datetime, session: Session | None
    ) -> None: ...
    async def reschedule(
        self, delivery_id: str, at: datetime, error: str, session: Session | None
    ) -> None: ...
    async def mark_failed(
        self, delivery_id: str, error: str, now: datetime, session: Session | None
    ) -> None: ...
    async def retry_failed(
        self, delivery_id: str, now: datetime, deadline: datetime, session: Session | None
    ) -> bool: ...
    async def list_deliveries(
        self, state: DeliveryState | None, limit: int, before: str | None
    ) -> list[Delivery]: ...


def address_to_doc(address: Address) -> dict[str, Any]:
    return {
        "_id": address.recipient_hash,
        "email": address.email,
        "state": address.state.value,
        "created_at": address.created_at,
        "confirmation_sent_at": address.confirmation_sent_at,
        "confirmed_at": address.confirmed_at,
        "suppressed_at": address.suppressed_at,
    }


def address_from_doc(doc: dict[str, Any]) -> Address:
    return Address(
        recipient_hash=doc["_id"],
        email=doc["email"],
        state=AddressState(doc["state"]),
        created_at=doc.get("created_at"),
        confirmation_sent_at=doc.get("confirmation_sent_at"),
        confirmed_at=doc.get("confirmed_at"),
        suppressed_at=doc.get("suppressed_at"),
    )


def subscription_to_doc(sub: Subscription) -> dict[str, Any]:
    return {
        "_id": sub.id,
        "kind": sub.kind,
        "recipient_hash": sub.recipient_hash,
        "article_id": sub.article_id,
        "comment_id": sub.comment_id,
        "active": sub.active,
        "created_at": sub.created_at,
    }


def subscription_from_doc(doc: dict[str, Any]) -> Subscription:
    return Subscription(
        id=doc["_id"],
        kind=doc["kind"],
        recipient_hash=doc["recipient_hash"],
        article_id=doc["article_id"],
        comment_id=doc.get("comment_id"),
        active=bool(doc.get("active", True)),
        created_at=doc.get("created_at"),
    )


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


class MongoNotificationsRepository:
    def __init__(self, db: Database) -> None:
        self._articles = db[ARTICLES]
        self._addresses = db[ADDRESSES]
        self._subscriptions = db[SUBSCRIPTIONS]
        self._deliveries = db[DELIVERIES]

    # Articles projection

    async def save_article(self, article: ArticleView, session: Session | None) -> None:
        await self._articles.replace_one(
            {"_id": article.article_id},
            {
                "_id": article.article_id,
                "slug": article.slug,
                "slugs": article.slugs,
                "title": article.title,
                "url_path": article.url_path,
                "live": article.live,
            },
            upsert=True,
            session=session,
        )

    async def mark_article_gone(self, article_id: str, session: Session | None) -> None:
        await self._articles.update_one(
            {"_id": article_id}, {"$set": {"live": False}}, session=session
        )

    async def article_by_slug(self, slug: str) -> ArticleView | None:
        doc = await self._articles.find_one({"slugs": slug, "live": True})
        if doc is None:
            return None
        return ArticleView(
            article_id=doc["_id"],
            slug=doc["slug"],
            slugs=list(doc["slugs"]),
            title=doc["title"],
            url_path=doc["url_path"],
            live=bool(doc["live"]),
        )

    # Addresses

    async def get_address(self, recipient: str, session: Session | None) -> Address | None:
        doc = await self._addresses.find_one({"_id": recipient}, session=session)
        return address_from_doc(doc) if doc else None

    async def get_addresses(
        self, recipients: list[str], session: Session | None
    ) -> dict[str, Address]:
        if not recipients:
            return {}
        docs = await self._addresses.find({"_id": {"$in": recipients}}, session=session).to_list()
        return {doc["_id"]: address_from_doc(doc) for doc in docs}

    async def save_address(self, address: Address, session: Session | None) -> None:
        doc = address_to_doc(address)
        await self._addresses.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=session)

    # Subscriptions

    async def get_subscription(self, sub_id: str, session: Session | None) -> Subscription | None:
        doc = await self._subscriptions.find_one({"_id": sub_id}, session=session)
        return subscription_from_doc(doc) if doc else None

    async def save_subscription(self, sub: Subscription, session: Session | None) -> None:
        doc = subscription_to_doc(sub)
        await self._subscriptions.replace_one(
            {"_id": doc["_id"]}, doc, upsert=True, session=session
        )

    async def reply_subscription(
        self, comment_id: str, session: Session | None
    ) -> Subscription | None:
        doc = await self._subscriptions.find_one(
            {"comment_id": comment_id, "kind": "reply", "active": True}, session=session
        )
        return subscription_from_doc(doc) if doc else None

    async def followers(self, article_id: str, session: Session | None) -> list[Subscription]:
        docs = await self._subscriptions.find(
            {"article_id": article_id, "kind": "follow", "active": True}, session=session
        ).to_list()
        return [subscription_from_doc(doc) for doc in docs]

    async def end_subscription(self, sub_id: str, session: Session | None) -> None:
        await self._subscriptions.update_one(
            {"_id": sub_id}, {"$set": {"active": False}}, session=session
        )

    async def end_subscriptions_of(self, recipient: str, session: Session | None) -> None:
        await self._subscriptions.update_many(
            {"recipient_hash": recipient}, {"$set": {"active": False}}, session=session
        )

    async def end_subscriptions_for_comment(self, comment_id: str, session: Session | None) -> None:
        await self._subscriptions.update_many(
            {"comment_id": comment_id}, {"$set": {"active": False}}, session=session
        )

    # Deliveries

    async def add_delivery(self, delivery: Delivery, session: Session | None) -> bool:
        try:
            await self._deliveries.insert_one(delivery_to_doc(delivery), session=session)
        except DuplicateKeyError:
            return False
        return True

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        doc = await self._deliveries.find_one({"_id": delivery_id})
        return delivery_from_doc(doc) if doc else None

    async def recent_individual(
        self, recipient: str, article_id: str, since: datetime, session: Session | None
    ) -> list[datetime]:
        docs = await self._deliveries.find(
            {
                "recipient_hash": recipient,
                "article_id": article_id,
                "created_at": {"$gte": since},
                "kind": {"$in": INDIVIDUAL_KINDS},
                "state": {"$in": LIVE_STATES},
            },
            {"created_at": 1},
            session=session,
        ).to_list()
        return sorted(doc["created_at"] for doc in docs)

    async def open_digest(
        self, recipient: str, article_id: str, session: Session | None
    ) -> Delivery | None:
        doc = await self._deliveries.find_one(
            {
                "recipient_hash": recipient,
                "article_id": article_id,
                "kind": "digest",
                "state": DeliveryState.PENDING.value,
            },
            session=session,
        )
        return delivery_from_doc(doc) if doc else None

    async def add_digest_item(
        self, delivery_id: str, item: DigestItem, session: Session | None
    ) -> bool:
        result = await self._deliveries.update_one(
            {"_id": delivery_id, "state": DeliveryState.PENDING.value},
            {"$push": {"items": item_to_doc(item), "comment_ids": item.comment_id}},
            session=session,
        )
        return result.modified_count == 1

    async def cancel_for_comment(self, comment_id: str, session: Session | None) -> None:
        pending = DeliveryState.PENDING.value
        await self._deliveries.update_many(
            {"comment_ids": comment_id, "state": pending, "kind": {"$in": INDIVIDUAL_KINDS}},
            {"$set": {"state": DeliveryState.CANCELLED.value}, **_STAMP_FINISHED},
            session=session,
        )
        # One being sent right now may still fail; if it does, it must not be retried.
        await self._deliveries.update_many(
            {
                "comment_ids": comment_id,
                "state": DeliveryState.SENDING.value,
                "kind": {"$in": INDIVIDUAL_KINDS},
            },
            {"$set": {"cancel_requested": True}},
            session=session,
        )
        # Digests lose the item; read-modify-write keeps to operators every server supports.
        digests = await self._deliveries.find(
            {"comment_ids": comment_id, "state": pending, "kind": "digest"}, session=session
        ).to_list()
        for doc in digests:
            items = [i for i in doc.get("items") or [] if i["comment_id"] != comment_id]
            ids = [c for c in doc.get("comment_ids") or [] if c != comment_id]
            update: dict[str, Any] = {"$set": {"items": items, "comment_ids": ids}}
            if not items:
                update["$set"]["state"] = DeliveryState.CANCELLED.value
                update.update(_STAMP_FINISHED)
            await self._deliveries.update_one(
                {"_id": doc["_id"], "state": pending}, update, session=session
            )

    async def cancel_pending_to(
        self, recipient: str, session: Session | None, *, subscription_id: str | None = None
    ) -> None:
        query: dict[str, Any] = {"recipient_hash": recipient, "state": DeliveryState.PENDING.value}
        if subscription_id is not None:
            query["subscription_id"] = subscription_id
        await self._deliveries.update_many(
            query,
            {"$set": {"state": DeliveryState.CANCELLED.value}, **_STAMP_FINISHED},
            session=session,
        )

    async def release_expired(self, now: datetime, session: Session | None) -> None:
        # A worker died holding these: its lease ran out, so they are due again.
        await self._deliveries.update_many(
            {"state": DeliveryState.SENDING.value, "lease_until": {"$lt": now}},
            {"$set": {"state": DeliveryState.PENDING.value, "next_attempt_at": now}},
            session=session,
        )

    async def due_ids(self, now: datetime, limit: int) -> list[str]:
        due = {"state": DeliveryState.PENDING.value, "next_attempt_at": {"$lte": now}}
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
        """Take those of ``ids`` still due; another worker may have taken or cancelled some."""
        await self._deliveries.update_many(
            {
                "_id": {"$in": ids},
                "state": DeliveryState.PENDING.value,
                "next_attempt_at": {"$lte": now},
            },
            {
                "$set": {
                    "state": DeliveryState.SENDING.value,
                    "claim": claim,
                    "lease_until": lease_until,
                },
                "$inc": {"attempts": 1},
            },
            session=session,
        )
        docs = await self._deliveries.find({"claim": claim}, session=session).to_list()
        return [delivery_from_doc(doc) for doc in docs]

    async def mark_sent(
        self, delivery_ids: list[str], now: datetime, session: Session | None
    ) -> None:
        if not delivery_ids:
            return
        await self._deliveries.update_many(
            {"_id": {"$in": delivery_ids}},
            {
                "$set": {"state": DeliveryState.SENT.value, "sent_at": now, "last_error": None},
                "$unset": {"claim": "", "lease_until": ""},
                **_STAMP_FINISHED,
            },
            session=session,
        )

    async def reschedule(
        self, delivery_id: str, at: datetime, error: str, session: Session | None
    ) -> None:
        await self._deliveries.update_one(
            {"_id": delivery_id, "cancel_requested": True},
            {"$set": {"state": DeliveryState.CANCELLED.value}, **_STAMP_FINISHED},
            session=session,
        )
        await self._deliveries.update_one(
            {"_id": delivery_id, "cancel_requested": {"$ne": True}},
            {
                "$set": {
                    "state": DeliveryState.PENDING.value,
                    "next_attempt_at": at,
                    "last_error": error,
                },
                "$unset": {"claim": "", "lease_until": ""},
            },
            session=session,
        )

    async def mark_failed(
        self, delivery_id: str, error: str, now: datetime, session: Session | None
    ) -> None:
        await self._deliveries.update_one(
            {"_id": delivery_id},
            {
                "$set": {
                    "state": DeliveryState.FAILED.value,
                    "last_error": error,
                    "failed_at": now,
                },
                "$unset": {"claim": "", "lease_until": ""},
                **_STAMP_FINISHED,
            },
            session=session,
        )

    async def retry_failed(
        self, delivery_id: str, now: datetime, deadline: datetime, session: Session | None
    ) -> bool:
        result = await self._deliveries.update_one(
            {"_id": delivery_id, "state": DeliveryState.FAILED.value},
            {
                "$set": {
                    "state": DeliveryState.PENDING.value,
                    "next_attempt_at": now,
                    "deadline": deadline,
                    "attempts": 0,
                },
                "$unset": {FINISHED_AT: ""},  # pending again: it must not expire
            },
            session=session,
        )
        return result.modified_count == 1

    async def list_deliveries(
        self, state: DeliveryState | None, limit: int, before: str | None
    ) -> list[Delivery]:
        query: dict[str, Any] = {}
        if state is not None:
            query["state"] = state.value
        if before is not None:
            query["_id"] = {"$lt": before}
        docs = await self._deliveries.find(query).sort("_id", DESCENDING).limit(limit).to_list()
        return [delivery_from_doc(doc) for doc in docs]
