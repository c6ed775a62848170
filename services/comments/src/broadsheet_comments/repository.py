"""The only code that touches MongoDB: the article projection, comments, idempotency keys, bans.

Collections: ``articles`` (projection of article events), ``comments``, ``idempotency_keys``,
``bans``. Methods that take part in a use case's transaction take its ``session``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from broadsheet_comments.domain import Article, Comment, Sort, Status
from broadsheet_shared.mongo import Database, IndexSpec, Session

ARTICLES = "articles"
COMMENTS = "comments"
IDEMPOTENCY_KEYS = "idempotency_keys"
BANS = "bans"
MIGRATIONS = "migrations"

INDEXES: list[IndexSpec] = [
    IndexSpec(
        ARTICLES,
        [IndexModel([("slug", ASCENDING)]), IndexModel([("previous_slugs", ASCENDING)])],
    ),
    IndexSpec(
        COMMENTS,
        [
            # One page of a thread (its top-level comments and all their replies): an equality
            # prefix plus one range on root_seq, whatever the thread's size.
            IndexModel([("article_id", ASCENDING), ("status", ASCENDING), ("root_seq", ASCENDING)]),
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
    async def next_root_seq(
        self, article_id: str, count_delta: int, session: Session
    ) -> int | None: ...


class CommentRepository(Protocol):
    async def add(self, comment: Comment, session: Session) -> None: ...
    async def get(self, comment_id: str, session: Session | None = None) -> Comment | None: ...
    async def save(self, comment: Comment, session: Session) -> None: ...
    async def add_to_reply_count(self, comment_id: str, delta: int, session: Session) -> None: ...
    async def thread_page(
        self, article_id: str, sort: Sort, after: int | None, limit: int, last_seq: int
    ) -> tuple[list[Comment], list[Comment]]: ...
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
        root_seq=int(doc.get("root_seq", 0)),
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

    async def next_root_seq(
        self, article_id: str, count_delta: int, session: Session
    ) -> int | None:
        """The article's next display number (None when the article is gone), moving
        comment_count in the same write."""
        doc = await self._articles.find_one_and_update(
            {"_id": article_id},
            {"$inc": {"root_seq": 1, "comment_count": count_delta}},
            projection={"root_seq": 1},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return int(doc["root_seq"]) if doc is not None else None


def _comment_doc(comment: Comment) -> dict[str, Any]:
    doc = {
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
    if comment.root_seq is not None:
        doc["root_seq"] = comment.root_seq
    return doc


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
        root_seq=doc.get("root_seq"),
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
        fields.pop("root_seq", None)  # fixed when posted (or by the backfill)
        await self._comments.update_one({"_id": comment.id}, {"$set": fields}, session=session)

    async def add_to_reply_count(self, comment_id: str, delta: int, session: Session) -> None:
        await self._comments.update_one(
            {"_id": comment_id}, {"$inc": {"reply_count": delta}}, session=session
        )

    async def thread_page(
        self, article_id: str, sort: Sort, after: int | None, limit: int, last_seq: int
    ) -> tuple[list[Comment], list[Comment]]:
        """Up to ``limit`` public top-level comments after the cursor, in page order, and the
        public replies under them.

        Each read is one range of root_seq numbers under (article_id, "approved"): roots and
        replies come together, and the cost follows the page, not the thread. Numbers of
        comments that are not public leave gaps, so a short range is followed by a wider one.
        """
        roots: list[Comment] = []
        replies: list[Comment] = []
        span = max(limit, 1)
        if sort == "oldest":
            low = after if after is not None else 0
            while len(roots) < limit and low < last_seq:
                high = min(low + span, last_seq)
                await self._seq_range(article_id, {"$gt": low, "$lte": high}, roots, replies)
                low, span = high, span * 2
            roots.sort(key=lambda c: c.root_seq or 0)
        else:
            high = after if after is not None else last_seq + 1
            while len(roots) < limit and high > 1:
                low = max(high - span, 1)
                await self._seq_range(article_id, {"$gte": low, "$lt": high}, roots, replies)
                high, span = low, span * 2
            roots.sort(key=lambda c: c.root_seq or 0, reverse=True)
        roots = roots[:limit]
        shown = {root.id for root in roots}
        return roots, [reply for reply in replies if reply.root_id in shown]

    async def _seq_range(
        self,
        article_id: str,
        seq_range: dict[str, int],
        roots: list[Comment],
        replies: list[Comment],
    ) -> None:
        query = {"article_id": article_id, "status": "approved", "root_seq": seq_range}
        async for doc in self._comments.find(query):
            comment = _comment(doc)
            (roots if comment.parent_id is None else replies).append(comment)

    async def backfill_root_seqs(self) -> None:
        """Number the comments stored before root_seq existed; once per database.

        Top-level comments get numbers reserved on their article (so they never collide with
        comments posted meanwhile), in sort_key order; replies then take their root's number.
        """
        db = self._comments.database
        if await db[MIGRATIONS].find_one({"_id": "root_seq"}) is not None:
            return
        missing: dict[str, Any] = {"root_seq": {"$exists": False}}
        for article_id in await self._comments.distinct("article_id", missing):
            cursor = self._comments.find(
                {"article_id": article_id, "parent_id": None, **missing}, projection={"_id": 1}
            ).sort("sort_key", ASCENDING)
            root_ids = [doc["_id"] async for doc in cursor]
            if root_ids:
                reserved = await db[ARTICLES].find_one_and_update(
                    {"_id": article_id},
                    {"$inc": {"root_seq": len(root_ids)}},
                    return_document=ReturnDocument.AFTER,
                )
                first = int(reserved["root_seq"]) - len(root_ids) + 1 if reserved else 1
                for n, root_id in enumerate(root_ids):
                    await self._comments.update_one(
                        {"_id": root_id, **missing}, {"$set": {"root_seq": first + n}}
                    )
            cursor = self._comments.find(
                {"article_id": article_id, "parent_id": {"$ne": None}, **missing},
                projection={"root_id": 1},
            )
            for root_id in {doc["root_id"] async for doc in cursor}:
                root = await self._comments.find_one({"_id": root_id}, projection={"root_seq": 1})
                if root is not None and root.get("root_seq") is not None:
                    await self._comments.update_many(
                        {"root_id": root_id, **missing}, {"$set": {"root_seq": root["root_seq"]}}
                    )
        await db[MIGRATIONS].update_one({"_id": "root_seq"}, {"$set": {"done": True}}, upsert=True)

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
