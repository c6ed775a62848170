"""The only code that touches MongoDB: the article projection, comments, idempotency keys, bans.

Collections: ``articles`` (projection of article events), ``comments``, ``idempotency_keys``,
``bans``. Methods that take part in a use case's transaction take its ``session``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from broadsheet_comments.domain import Article, Comment, Sort, Status
from broadsheet_shared.mongo import Database, IndexSpec, Session

ARTICLES = "articles"
COMMENTS = "comments"
IDEMPOTENCY_KEYS = "idempotency_keys"
BANS = "bans"

INDEXES: list[IndexSpec] = [
    IndexSpec(
        ARTICLES,
        [IndexModel([("slug", ASCENDING)]), IndexModel([("previous_slugs", ASCENDING)])],
    ),
    IndexSpec(
        COMMENTS,
        [
            # One page of top-level comments: an index range, whatever the thread's size.
            IndexModel(
                [
                    ("article_id", ASCENDING),
                    ("parent_id", ASCENDING),
                    ("status", ASCENDING),
                    ("sort_key", ASCENDING),
                ]
            ),
            # The replies under one page of roots.
            IndexModel([("root_id", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("sort_key", DESCENDING)]),
            IndexModel([("article_id", ASCENDING), ("body_hash", ASCENDING)]),
            IndexModel([("author_email_hash", ASCENDING), ("status", ASCENDING)]),
        ],
    ),
    IndexSpec(
        IDEMPOTENCY_KEYS,
        [IndexModel([("created_at", ASCENDING)], expireAfterSeconds=24 * 3600)],
    ),
    IndexSpec(BANS, [IndexModel([("until", ASCENDING)], expireAfterSeconds=0)]),
]


class IdempotencyKeyTaken(Exception):
    pass


@dataclass(frozen=True)
class IdempotencyRecord:
    key: str
    fingerprint: str
    comment_id: str


BanKind = Literal["email", "client"]


@dataclass(frozen=True)
class Ban:
    kind: BanKind
    value: str  # the email hash for email bans, the client address for client bans
    until: datetime
    reason: str
    created_by: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.value}"


class ArticleRepository(Protocol):
    async def by_slug(self, slug: str, session: Session | None = None) -> Article | None: ...
    async def by_id(self, article_id: str, session: Session | None = None) -> Article | None: ...
    async def by_ids(self, article_ids: Sequence[str]) -> dict[str, Article]: ...
    async def save(self, article: Article, session: Session) -> None: ...
    async def remove(self, article_id: str, session: Session) -> None: ...
    async def add_to_count(self, article_id: str, delta: int, session: Session) -> None: ...


class CommentRepository(Protocol):
    async def add(self, comment: Comment, session: Session) -> None: ...
    async def get(self, comment_id: str, session: Session | None = None) -> Comment | None: ...
    async def save(self, comment: Comment, session: Session) -> None: ...
    async def add_to_reply_count(self, comment_id: str, delta: int, session: Session) -> None: ...
    async def roots_page(
        self, article_id: str, sort: Sort, after: str | None, limit: int
    ) -> list[Comment]: ...
    async def public_under(self, root_ids: Sequence[str]) -> list[Comment]: ...
    async def by_status(self, status: Status, after: str | None, limit: int) -> list[Comment]: ...
    async def recent_public(self, limit: int) -> list[Comment]: ...
    async def duplicate_since(self, article_id: str, body_hash: str, since: datetime) -> bool: ...
    async def has_public_from(self, email_hash: str) -> bool: ...
    async def remember_key(self, record: IdempotencyRecord, session: Session) -> None: ...
    async def recall_key(self, key: str) -> IdempotencyRecord | None: ...


class BanRepository(Protocol):
    async def put(self, ban: Ban) -> None: ...
    async def active(self, ids: Sequence[str], now: datetime) -> Ban | None: ...
    async def list_active(self, now: datetime) -> list[Ban]: ...
    async def remove(self, ban_id: str) -> bool: ...


# --- MongoDB ----------------------------------------------------------------------------------


def _article_doc(article: Article) -> dict[str, Any]:
    return {
        "slug": article.slug,
        "previous_slugs": list(article.previous_slugs),
        "title": article.title,
        "url_path": article.url_path,
        "section_slug": article.section_slug,
        "comments_open": article.comments_open,
        "published": article.published,
        "revision": article.revision,
    }


def _article(doc: dict[str, Any]) -> Article:
    return Article(
        article_id=doc["_id"],
        slug=doc["slug"],
        previous_slugs=tuple(doc.get("previous_slugs", ())),
        title=doc["title"],
        url_path=doc["url_path"],
        section_slug=doc.get("section_slug", ""),
        comments_open=bool(doc["comments_open"]),
        published=bool(doc["published"]),
        revision=int(doc.get("revision", 0)),
        comment_count=max(0, int(doc.get("comment_count", 0))),
    )


class MongoArticleRepository:
    def __init__(self, db: Database) -> None:
        self._articles = db[ARTICLES]

    async def by_slug(self, slug: str, session: Session | None = None) -> Article | None:
        doc = await self._articles.find_one({"slug": slug}, session=session)
        if doc is None:
            # A renamed article keeps answering to its old slugs.
            doc = await self._articles.find_one({"previous_slugs": slug}, session=session)
        return _article(doc) if doc else None

    async def by_id(self, article_id: str, session: Session | None = None) -> Article | None:
        doc = await self._articles.find_one({"_id": article_id}, session=session)
        return _article(doc) if doc else None

    async def by_ids(self, article_ids: Sequence[str]) -> dict[str, Article]:
        if not article_ids:
            return {}
        cursor = self._articles.find({"_id": {"$in": list(set(article_ids))}})
        return {doc["_id"]: _article(doc) async for doc in cursor}

    async def save(self, article: Article, session: Session) -> None:
        await self._articles.update_one(
            {"_id": article.article_id},
            {"$set": _article_doc(article), "$setOnInsert": {"comment_count": 0}},
            upsert=True,
            session=session,
        )

    async def remove(self, article_id: str, session: Session) -> None:
        await self._articles.delete_one({"_id": article_id}, session=session)

    async def add_to_count(self, article_id: str, delta: int, session: Session) -> None:
        await self._articles.update_one(
            {"_id": article_id}, {"$inc": {"comment_count": delta}}, session=session
        )


def _comment_doc(comment: Comment) -> dict[str, Any]:
    return {
        "_id": comment.id,
        "article_id": comment.article_id,
        "parent_id": comment.parent_id,
        "root_id": comment.root_id,
        "depth": comment.depth,
        "sort_key": comment.sort_key,
        "author_name": comment.author_name,
        "author_email": comment.author_email,
        "author_email_hash": comment.author_email_hash,
        "body_markdown": comment.body_markdown,
        "body_html": comment.body_html,
        "body_hash": comment.body_hash,
        "status": comment.status,
        "created_at": comment.created_at,
        "client": comment.client,
        "notify_replies": comment.notify_replies,
        "edited_at": comment.edited_at,
        "approved_at": comment.approved_at,
        "reply_count": comment.reply_count,
        "parent_author_name": comment.parent_author_name,
        "moderation_reasons": list(comment.moderation_reasons),
    }


def _comment(doc: dict[str, Any]) -> Comment:
    return Comment(
        id=doc["_id"],
        article_id=doc["article_id"],
        parent_id=doc.get("parent_id"),
        root_id=doc["root_id"],
        depth=int(doc["depth"]),
        author_name=doc["author_name"],
        author_email=doc.get("author_email"),
        author_email_hash=doc.get("author_email_hash"),
        body_markdown=doc["body_markdown"],
        body_html=doc["body_html"],
        body_hash=doc["body_hash"],
        status=doc["status"],
        created_at=doc["created_at"],
        client=doc.get("client", ""),
        notify_replies=bool(doc.get("notify_replies", False)),
        edited_at=doc.get("edited_at"),
        approved_at=doc.get("approved_at"),
        reply_count=max(0, int(doc.get("reply_count", 0))),
        parent_author_name=doc.get("parent_author_name"),
        moderation_reasons=tuple(doc.get("moderation_reasons", ())),
    )


class MongoCommentRepository:
    def __init__(self, db: Database) -> None:
        self._comments = db[COMMENTS]
        self._keys = db[IDEMPOTENCY_KEYS]

    async def add(self, comment: Comment, session: Session) -> None:
        await self._comments.insert_one(_comment_doc(comment), session=session)

    async def get(self, comment_id: str, session: Session | None = None) -> Comment | None:
        doc = await self._comments.find_one({"_id": comment_id}, session=session)
        return _comment(doc) if doc else None

    async def save(self, comment: Comment, session: Session) -> None:
        fields = _comment_doc(comment)
        # Counters move only through $inc, so concurrent replies are never lost.
        for key in ("_id", "reply_count"):
            fields.pop(key)
        await self._comments.update_one({"_id": comment.id}, {"$set": fields}, session=session)

    async def add_to_reply_count(self, comment_id: str, delta: int, session: Session) -> None:
        await self._comments.update_one(
            {"_id": comment_id}, {"$inc": {"reply_count": delta}}, session=session
        )

    async def roots_page(
        self, article_id: str, sort: Sort, after: str | None, limit: int
    ) -> list[Comment]:
        query: dict[str, Any] = {"article_id": article_id, "parent_id": None, "status": "approved"}
        if after is not None:
            query["sort_key"] = {"$gt" if sort == "oldest" else "$lt": after}
        direction = ASCENDING if sort == "oldest" else DESCENDING
        cursor = self._comments.find(query).sort("sort_key", direction).limit(limit)
        return [_comment(doc) async for doc in cursor]

    async def public_under(self, root_ids: Sequence[str]) -> list[Comment]:
        if not root_ids:
            return []
        cursor = self._comments.find({"root_id": {"$in": list(root_ids)}, "status": "approved"})
        return [_comment(doc) async for doc in cursor]

    async def by_status(self, status: Status, after: str | None, limit: int) -> list[Comment]:
        query: dict[str, Any] = {"status": status}
        if after is not None:
            query["sort_key"] = {"$lt": after}
        cursor = self._comments.find(query).sort("sort_key", DESCENDING).limit(limit)
        return [_comment(doc) async for doc in cursor]

    async def recent_public(self, limit: int) -> list[Comment]:
        cursor = self._comments.find({"status": "approved"}).sort("sort_key", DESCENDING)
        return [_comment(doc) async for doc in cursor.limit(limit)]

    async def duplicate_since(self, article_id: str, body_hash: str, since: datetime) -> bool:
        doc = await self._comments.find_one(
            {"article_id": article_id, "body_hash": body_hash, "created_at": {"$gte": since}},
            projection={"_id": 1},
        )
        return doc is not None

    async def has_public_from(self, email_hash: str) -> bool:
        doc = await self._comments.find_one(
            {"author_email_hash": email_hash, "status": "approved"}, projection={"_id": 1}
        )
        return doc is not None

    async def remember_key(self, record: IdempotencyRecord, session: Session) -> None:
        try:
            await self._keys.insert_one(
                {
                    "_id": record.key,
                    "fingerprint": record.fingerprint,
                    "comment_id": record.comment_id,
                    "created_at": datetime.now(UTC),
                },
                session=session,
            )
        except DuplicateKeyError:
            raise IdempotencyKeyTaken(record.key) from None

    async def recall_key(self, key: str) -> IdempotencyRecord | None:
        doc = await self._keys.find_one({"_id": key})
        if doc is None:
            return None
        return IdempotencyRecord(doc["_id"], doc["fingerprint"], doc["comment_id"])


class MongoBanRepository:
    def __init__(self, db: Database) -> None:
        self._bans = db[BANS]

    async def put(self, ban: Ban) -> None:
        await self._bans.replace_one(
            {"_id": ban.id},
            {
                "kind": ban.kind,
                "value": ban.value,
                "until": ban.until,
                "reason": ban.reason,
                "created_by": ban.created_by,
            },
            upsert=True,
        )

    async def active(self, ids: Sequence[str], now: datetime) -> Ban | None:
        doc = await self._bans.find_one({"_id": {"$in": list(ids)}, "until": {"$gt": now}})
        return _ban(doc) if doc else None

    async def list_active(self, now: datetime) -> list[Ban]:
        cursor = self._bans.find({"until": {"$gt": now}}).sort("until", ASCENDING).limit(500)
        return [_ban(doc) async for doc in cursor]

    async def remove(self, ban_id: str) -> bool:
        result = await self._bans.delete_one({"_id": ban_id})
        return bool(result.deleted_count > 0)


def _ban(doc: dict[str, Any]) -> Ban:
    return Ban(
        kind=doc["kind"],
        value=doc["value"],
        until=doc["until"],
        reason=doc.get("reason", ""),
        created_by=doc.get("created_by", ""),
    )
