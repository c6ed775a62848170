"""The only code that touches MongoDB: the article projection, comments, idempotency keys, bans.

Collections: ``articles`` (projection of article events), ``comment_counters`` (sharded public
counts), ``comments``, ``sequences`` and ``thread_outlines`` (sort paths and page planning),
``idempotency_keys``, ``bans``, ``votes`` (who voted for a comment). Methods that take part
in a use case's transaction take its ``session``.

Longer than the house's 450 lines on purpose: the rule is that this module alone touches
MongoDB, and it holds four repositories (articles, comments, imports, bans), each a port
(protocol), its document mapping and its adapter.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from broadsheet_comments.cursors import BestKey
from broadsheet_comments.domain import Article, Ban, BanKind, Comment, Status
from broadsheet_comments.threads import ROOT_WIDTH, SUBTREE_END, Sort
from broadsheet_shared.mongo import Database, IndexSpec, Session

ARTICLES = "articles"
COMMENTS = "comments"
IDEMPOTENCY_KEYS = "idempotency_keys"
BANS = "bans"
# Imported comments by (source site, WordPress id): the key of an import's upserts.
WORDPRESS_COMMENTS = "wordpress_comments"
COUNTERS = "comment_counters"
# One document per (comment, voter identity): the ids make a second vote a duplicate key.
VOTES = "votes"
# Creating a reply counter races only with the parent's other first replies: three tries suffice.
_SEQUENCE_ATTEMPTS = 3
SEQUENCES = "sequences"
# Per top-level comment: the path suffixes of all its replies, to size page windows.
OUTLINES = "thread_outlines"
# Public counts are spread over this many documents per article: a process's posting
# transactions $inc them in turn, so up to this many of its concurrent posters never touch the
# same document. Picked at random instead, 16 concurrent posts (the Isso bench) met a busy shard
# about once per post: WriteConflict, abort, the whole transaction again.
COUNT_SHARDS = 8
# Where a comment keeps what identifies its author, for each way staff look authors up: the
# email's digest, the client address as the comment was posted from.
AUTHOR_FIELDS: dict[BanKind, str] = {"email": "author_email_hash", "client": "client"}

INDEXES: list[IndexSpec] = [
    IndexSpec(
        ARTICLES,
        [IndexModel([("slug", ASCENDING)]), IndexModel([("previous_slugs", ASCENDING)])],
    ),
    IndexSpec(
        COMMENTS,
        [
            # A page of a thread: an equality prefix (public comments of one article) plus one
            # range on the sort path, whatever the thread's size.
            IndexModel(
                [
                    ("article_id", ASCENDING),
                    ("status", ASCENDING),
                    ("hidden_by", ASCENDING),
                    ("path", ASCENDING),
                ]
            ),
            IndexModel(
                [
                    ("article_id", ASCENDING),
                    ("status", ASCENDING),
                    ("hidden_by", ASCENDING),
                    ("path_newest", ASCENDING),
                ]
            ),
            # The Best order: an article's public top-level comments by votes, then position.
            IndexModel(
                [
                    ("article_id", ASCENDING),
                    ("status", ASCENDING),
                    ("depth", ASCENDING),
                    ("votes", DESCENDING),
                    ("path", ASCENDING),
                ]
            ),
            # A subtree, whatever its statuses (hiding and restoring replies).
            IndexModel([("article_id", ASCENDING), ("path", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("sort_key", DESCENDING)]),
            # An article's latest public comments (its comments feed).
            IndexModel(
                [("article_id", ASCENDING), ("status", ASCENDING), ("sort_key", DESCENDING)]
            ),
            IndexModel([("article_id", ASCENDING), ("body_hash", ASCENDING)]),
            IndexModel([("author_email_hash", ASCENDING), ("status", ASCENDING)]),
            # Staff finding an author's comments across articles, by email or client address.
            IndexModel([("author_email_hash", ASCENDING), ("sort_key", DESCENDING)]),
            IndexModel([("client", ASCENDING), ("sort_key", DESCENDING)]),
            # The client address sweep (expiry.py) reads comments by age.
            IndexModel([("created_at", ASCENDING)]),
            # An old #comment-ID link of an imported article (the reader site's lookup).
            IndexModel([("article_id", ASCENDING), ("wordpress_id", ASCENDING)]),
        ],
    ),
    IndexSpec(
        IDEMPOTENCY_KEYS,
        [IndexModel([("created_at", ASCENDING)], expireAfterSeconds=24 * 3600)],
    ),
    IndexSpec(BANS, [IndexModel([("until", ASCENDING)], expireAfterSeconds=0)]),
    IndexSpec(
        VOTES,
        [
            IndexModel([("comment_id", ASCENDING)]),
            # A reader's erasure finds the votes given with their address.
            IndexModel([("address_digest", ASCENDING)]),
        ],
    ),
    IndexSpec(
        WORDPRESS_COMMENTS, [IndexModel([("source", ASCENDING), ("wordpress_id", ASCENDING)])]
    ),
]


def _shard_id(article_id: str, shard: int) -> str:
    return f"{article_id}:{shard}"


class IdempotencyKeyTaken(Exception):
    pass


@dataclass(frozen=True)
class IdempotencyRecord:
    key: str
    fingerprint: str
    comment_id: str


class ArticleRepository(Protocol):
    async def by_slug(self, slug: str, session: Session | None = None) -> Article | None: ...
    async def by_id(self, article_id: str, session: Session | None = None) -> Article | None: ...
    async def by_ids(self, article_ids: Sequence[str]) -> dict[str, Article]: ...
    async def save(self, article: Article, session: Session) -> None: ...
    async def remove(self, article_id: str, session: Session) -> None: ...
    async def add_to_count(self, article_id: str, delta: int, session: Session) -> None: ...
    async def counts(self, articles: Sequence[Article]) -> dict[str, int]: ...
    async def next_root_seq(self, article_id: str) -> int | None: ...
    async def resume_root_seq(self, article_id: str, session: Session) -> None: ...
    async def ids(self) -> set[str]: ...
    async def is_empty(self) -> bool: ...


class CommentRepository(Protocol):
    async def add(self, comment: Comment, session: Session) -> None: ...
    async def get(self, comment_id: str, session: Session | None = None) -> Comment | None: ...
    async def save(self, comment: Comment, session: Session) -> None: ...
    async def add_to_reply_count(self, comment_id: str, delta: int, session: Session) -> None: ...
    async def next_child_seq(self, parent_id: str) -> int: ...
    async def outline(self, comment: Comment) -> None: ...
    async def lock_parent(self, parent_id: str, session: Session) -> Comment | None: ...
    async def shift_subtree(self, comment: Comment, delta: int, session: Session) -> None: ...
    async def public_descendants(self, comment: Comment, session: Session) -> int: ...
    async def outlines(self, article_id: str, root_seqs: Sequence[int]) -> dict[int, list[str]]: ...
    async def public_window(
        self, article_id: str, sort: Sort, after: str | None, until: str | None, limit: int
    ) -> list[Comment]: ...
    async def by_wordpress_id(self, article_id: str, wordpress_id: int) -> Comment | None: ...
    async def by_status(
        self, status: Status, after: str | None, limit: int, *, oldest_first: bool = False
    ) -> list[Comment]: ...
    async def count_status(self, status: Status) -> int: ...
    async def by_author(
        self, kind: BanKind, value: str, after: str | None, limit: int
    ) -> list[Comment]: ...
    async def recent_public(self, limit: int, article_id: str | None = None) -> list[Comment]: ...
    async def duplicate_since(self, article_id: str, body_hash: str, since: datetime) -> bool: ...
    async def has_public_from(self, email_hash: str) -> bool: ...
    async def all_by_email_hash(self, email_hash: str, session: Session | None) -> list[Comment]:
        """Every comment whose author has this address digest, oldest first."""
        ...

    async def rename_parent_author(
        self, parent_ids: Sequence[str], name: str, session: Session
    ) -> None: ...
    async def remember_key(self, record: IdempotencyRecord, session: Session) -> None: ...
    async def recall_key(self, key: str) -> IdempotencyRecord | None: ...
    async def best_roots(
        self, article_id: str, after: BestKey | None, limit: int
    ) -> list[Comment]: ...
    async def has_vote(self, comment_id: str, voters: Sequence[str], session: Session) -> bool: ...
    async def add_vote(
        self,
        comment_id: str,
        voters: Sequence[str],
        at: datetime,
        session: Session,
        *,
        address_digest: str | None = None,
    ) -> None: ...
    async def drop_votes(self, comment_id: str, session: Session) -> None: ...
    async def forget_votes_of(self, address_digest: str, session: Session) -> None: ...


@dataclass(frozen=True)
class ImportRecord:
    """One imported comment: the comment it became and the fingerprint of what was written."""

    source: str
    wordpress_id: int
    comment_id: str
    fingerprint: str


class ImportRepository(Protocol):
    async def get(self, source: str, wordpress_id: int) -> ImportRecord | None: ...
    async def put(self, record: ImportRecord, session: Session) -> None: ...
    async def page(self, source: str, after: int, limit: int) -> list[ImportRecord]: ...


class BanRepository(Protocol):
    async def put(self, ban: Ban, session: Session) -> None: ...
    async def active(self, ids: Sequence[str], now: datetime) -> Ban | None: ...
    async def list_active(self, now: datetime) -> list[Ban]: ...
    async def remove(self, ban_id: str, session: Session) -> bool: ...


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
        root_seq=int(doc.get("root_seq", 0)),
    )


class MongoArticleRepository:
    def __init__(self, db: Database) -> None:
        self._articles = db[ARTICLES]
        self._counters = db[COUNTERS]
        self._comments = db[COMMENTS]
        # Replicas start at random shards, so that theirs rarely coincide either.
        self._next_shard = itertools.count(random.randrange(COUNT_SHARDS))

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
            {"$set": _article_doc(article)},
            upsert=True,
            session=session,
        )
        await self._make_shards(article.article_id, session)

    async def remove(self, article_id: str, session: Session) -> None:
        await self._articles.delete_one({"_id": article_id}, session=session)
        shard_ids = [_shard_id(article_id, n) for n in range(COUNT_SHARDS)]
        await self._counters.delete_many({"_id": {"$in": shard_ids}}, session=session)

    async def add_to_count(self, article_id: str, delta: int, session: Session) -> None:
        """Moves the public count by the next shard in turn (see COUNT_SHARDS)."""
        shard = next(self._next_shard) % COUNT_SHARDS
        await self._counters.update_one(
            {"_id": _shard_id(article_id, shard)}, {"$inc": {"n": delta}}, session=session
        )

    async def counts(self, articles: Sequence[Article]) -> dict[str, int]:
        """Public counts: the sum of each article's shards."""
        totals = {article.article_id: 0 for article in articles}
        if not totals:
            return {}
        # Shards by primary key: point reads, no secondary index.
        query = {"_id": {"$in": [_shard_id(a, n) for a in totals for n in range(COUNT_SHARDS)]}}
        async for doc in self._counters.find(query, projection={"n": 1}):
            article_id = doc["_id"].rsplit(":", 1)[0]
            totals[article_id] += int(doc.get("n", 0))
        return {article_id: max(0, total) for article_id, total in totals.items()}

    async def next_root_seq(self, article_id: str) -> int | None:
        """The article's next display number (None when the article is gone).

        Called outside the posting transaction: a single-document $inc serializes on its own,
        and a number lost to an aborted post is only a gap.
        """
        doc = await self._articles.find_one_and_update(
            {"_id": article_id},
            {"$inc": {"root_seq": 1}},
            projection={"root_seq": 1},
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["root_seq"]) if doc is not None else None

    async def resume_root_seq(self, article_id: str, session: Session) -> None:
        """Bring the article's display numbering up to its comments' (a row lost and rebuilt
        starts from none): numbers already taken are never handed out again."""
        last = await self._comments.find_one(
            {"article_id": article_id},
            projection={"root_seq": 1},
            # Paths start with the root's number in fixed-width base 36: the greatest path
            # is under the greatest root.
            sort=[("path", DESCENDING)],
            session=session,
        )
        if last is None:
            return
        seq = int(last["root_seq"])
        behind = [{"root_seq": {"$exists": False}}, {"root_seq": {"$lt": seq}}]
        await self._articles.update_one(
            {"_id": article_id, "$or": behind}, {"$set": {"root_seq": seq}}, session=session
        )

    async def ids(self) -> set[str]:
        return {doc["_id"] async for doc in self._articles.find({}, projection={"_id": 1})}

    async def is_empty(self) -> bool:
        return await self._articles.find_one({}, projection={"_id": 1}) is None

    async def _make_shards(self, article_id: str, session: Session) -> None:
        for shard in range(COUNT_SHARDS):
            await self._counters.update_one(
                {"_id": _shard_id(article_id, shard)},
                {"$setOnInsert": {"article_id": article_id, "n": 0}},
                upsert=True,
                session=session,
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
        # Stored for the indexes and the outlines; read back from the path alone.
        "root_seq": comment.root_seq,
        "path": comment.path,
        "path_newest": comment.path_newest,
        "hidden_by": comment.hidden_by,
        "wordpress_id": comment.wordpress_id,
        "votes": comment.votes,
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
        path=doc["path"],
        hidden_by=max(0, int(doc["hidden_by"])),
        wordpress_id=doc.get("wordpress_id"),
        votes=max(0, int(doc.get("votes", 0))),
    )


# Outlines of this many consecutive top-level comments share a document: a page reads one or
# two documents, not one lookup per top-level comment.
OUTLINE_CHUNK = 64


def outline_id(article_id: str, root_seq: int) -> str:
    return f"{article_id}:{root_seq // OUTLINE_CHUNK}"


def outline_docs(comments: Sequence[Comment]) -> list[dict[str, Any]]:
    """The outline documents of these comments' threads: per top-level comment (field
    ``roots.<root_seq>``), the path suffixes below the root component of all its replies,
    whatever their status."""
    chunks: dict[str, dict[str, list[str]]] = {}
    for comment in comments:
        if comment.parent_id is not None:
            roots = chunks.setdefault(outline_id(comment.article_id, comment.root_seq), {})
            roots.setdefault(str(comment.root_seq), []).append(comment.path[ROOT_WIDTH:])
    return [
        {"_id": key, "roots": {seq: sorted(paths) for seq, paths in roots.items()}}
        for key, roots in chunks.items()
    ]


class MongoCommentRepository:
    def __init__(self, db: Database) -> None:
        self._comments = db[COMMENTS]
        self._keys = db[IDEMPOTENCY_KEYS]
        self._sequences = db[SEQUENCES]
        self._outlines = db[OUTLINES]
        self._votes = db[VOTES]

    async def add(self, comment: Comment, session: Session) -> None:
        await self._comments.insert_one(_comment_doc(comment), session=session)

    async def forget_clients_before(self, cutoff: datetime) -> int:
        result = await self._comments.update_many(
            {"created_at": {"$lt": cutoff}, "client": {"$exists": True}},
            {"$unset": {"client": ""}},
        )
        return result.modified_count

    async def get(self, comment_id: str, session: Session | None = None) -> Comment | None:
        doc = await self._comments.find_one({"_id": comment_id}, session=session)
        return _comment(doc) if doc else None

    async def save(self, comment: Comment, session: Session) -> None:
        fields = _comment_doc(comment)
        # Counters move only through $inc, so concurrent replies are never lost.
        for key in ("_id", "reply_count", "votes"):
            fields.pop(key)
        # Fixed when posted; hidden_by moves only with its ancestors.
        for key in ("root_seq", "path", "path_newest", "hidden_by"):
            fields.pop(key)
        await self._comments.update_one({"_id": comment.id}, {"$set": fields}, session=session)

    async def all_by_email_hash(self, email_hash: str, session: Session | None) -> list[Comment]:
        docs = await self._comments.find(
            {"author_email_hash": email_hash}, session=session, sort=[("created_at", ASCENDING)]
        ).to_list()
        return [_comment(doc) for doc in docs]

    async def rename_parent_author(
        self, parent_ids: Sequence[str], name: str, session: Session
    ) -> None:
        if parent_ids:
            await self._comments.update_many(
                {"parent_id": {"$in": list(parent_ids)}},
                {"$set": {"parent_author_name": name}},
                session=session,
            )

    async def add_to_reply_count(self, comment_id: str, delta: int, session: Session) -> None:
        await self._comments.update_one(
            {"_id": comment_id}, {"$inc": {"reply_count": delta}}, session=session
        )

    async def next_child_seq(self, parent_id: str) -> int:
        """The next child number under a comment; outside any transaction (gaps are fine).

        The first replies to a comment race to create its counter (two replicas, or one busy
        one): the loser's upsert fails on the key or, on our dev server, answers no document.
        The counter exists by then, so the loser increments it again.
        """
        for _ in range(_SEQUENCE_ATTEMPTS):
            try:
                doc = await self._sequences.find_one_and_update(
                    {"_id": f"children:{parent_id}"},
                    {"$inc": {"n": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue
            if doc is not None:
                return int(doc["n"])
        raise RuntimeError(f"no child number for {parent_id} after {_SEQUENCE_ATTEMPTS} tries")

    async def lock_parent(self, parent_id: str, session: Session) -> Comment | None:
        """The parent as the transaction sees it, written so that hiding the parent and
        posting under it conflict (one of them retries and sees the other)."""
        doc = await self._comments.find_one_and_update(
            {"_id": parent_id},
            {"$inc": {"replies_posted": 1}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return _comment(doc) if doc else None

    @staticmethod
    def _subtree(comment: Comment) -> dict[str, Any]:
        return {"$gt": comment.path, "$lt": comment.path + SUBTREE_END}

    async def shift_subtree(self, comment: Comment, delta: int, session: Session) -> None:
        await self._comments.update_many(
            {"article_id": comment.article_id, "path": self._subtree(comment)},
            {"$inc": {"hidden_by": delta}},
            session=session,
        )

    async def public_descendants(self, comment: Comment, session: Session) -> int:
        return int(
            await self._comments.count_documents(
                {
                    "article_id": comment.article_id,
                    "status": "approved",
                    "hidden_by": 0,
                    "path": self._subtree(comment),
                },
                session=session,
            )
        )

    async def outlines(self, article_id: str, root_seqs: Sequence[int]) -> dict[int, list[str]]:
        """The reply path suffixes of these top-level comments (one or two reads by _id)."""
        found: dict[int, list[str]] = {}
        if not root_seqs:
            return found
        ids = sorted({outline_id(article_id, n) for n in root_seqs})
        async for doc in self._outlines.find({"_id": {"$in": ids}}):
            for seq, paths in doc.get("roots", {}).items():
                found[int(seq)] = paths
        return found

    async def public_window(
        self, article_id: str, sort: Sort, after: str | None, until: str | None, limit: int
    ) -> list[Comment]:
        """Up to ``limit`` public comments with ``after`` < key <= ``until``, in thread order.

        One range on the index (article_id, status, hidden_by, key). SecantusDB (both builds)
        reads every entry of a range before it applies the limit, so callers close the range
        (``until``) wherever they can: an open one costs O(thread).
        """
        key = "path" if sort == "oldest" else "path_newest"
        bounds: dict[str, str] = {}
        if after is not None:
            bounds["$gt"] = after
        if until is not None:
            bounds["$lte"] = until
        query: dict[str, Any] = {"article_id": article_id, "status": "approved", "hidden_by": 0}
        if bounds:
            query[key] = bounds
        cursor = self._comments.find(query).sort(key, ASCENDING).limit(limit)
        return [_comment(doc) async for doc in cursor]

    async def outline(self, comment: Comment) -> None:
        """Adds a reply to its thread's outline; outside any transaction (an entry of a post
        that then failed only makes a window plan a little wide)."""
        await self._outlines.update_one(
            {"_id": outline_id(comment.article_id, comment.root_seq)},
            {"$addToSet": {f"roots.{comment.root_seq}": comment.path[ROOT_WIDTH:]}},
            upsert=True,
        )

    async def by_wordpress_id(self, article_id: str, wordpress_id: int) -> Comment | None:
        doc = await self._comments.find_one(
            {"article_id": article_id, "wordpress_id": wordpress_id}
        )
        return _comment(doc) if doc else None

    async def by_status(
        self, status: Status, after: str | None, limit: int, *, oldest_first: bool = False
    ) -> list[Comment]:
        query: dict[str, Any] = {"status": status}
        if after is not None:
            query["sort_key"] = {"$gt" if oldest_first else "$lt": after}
        order = ASCENDING if oldest_first else DESCENDING
        cursor = self._comments.find(query).sort("sort_key", order).limit(limit)
        return [_comment(doc) async for doc in cursor]

    async def count_status(self, status: Status) -> int:
        return await self._comments.count_documents({"status": status})

    async def by_author(
        self, kind: BanKind, value: str, after: str | None, limit: int
    ) -> list[Comment]:
        query: dict[str, Any] = {AUTHOR_FIELDS[kind]: value}
        if after is not None:
            query["sort_key"] = {"$lt": after}
        cursor = self._comments.find(query).sort("sort_key", DESCENDING).limit(limit)
        return [_comment(doc) async for doc in cursor]

    async def recent_public(self, limit: int, article_id: str | None = None) -> list[Comment]:
        query: dict[str, Any] = {"status": "approved"}
        if article_id is not None:
            query["article_id"] = article_id
        cursor = self._comments.find(query).sort("sort_key", DESCENDING)
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

    async def best_roots(self, article_id: str, after: BestKey | None, limit: int) -> list[Comment]:
        """Up to ``limit`` public top-level comments after ``after``'s thread in the Best order:
        by votes, most first, then by position."""
        query: dict[str, Any] = {"article_id": article_id, "status": "approved", "depth": 0}
        if after is not None:
            root = after.path[:ROOT_WIDTH]
            query["$or"] = [
                {"votes": {"$lt": after.votes}},
                {"votes": after.votes, "path": {"$gt": root}},
            ]
        cursor = self._comments.find(query).sort([("votes", DESCENDING), ("path", ASCENDING)])
        return [_comment(doc) async for doc in cursor.limit(limit)]

    @staticmethod
    def _vote_id(comment_id: str, voter: str) -> str:
        return f"{comment_id}:{voter}"

    async def has_vote(self, comment_id: str, voters: Sequence[str], session: Session) -> bool:
        ids = [self._vote_id(comment_id, voter) for voter in voters]
        doc = await self._votes.find_one({"_id": {"$in": ids}}, session=session)
        return doc is not None

    async def add_vote(
        self,
        comment_id: str,
        voters: Sequence[str],
        at: datetime,
        session: Session,
        *,
        address_digest: str | None = None,
    ) -> None:
        """One vote: a document per identity of the voter (a concurrent vote by any of them is
        a duplicate key or a write conflict, and its retry finds this one) and one $inc.
        ``address_digest``: the voter gave an address, whose erasure forgets this vote's
        identities (the count stays: it names no one)."""
        owner = {"address_digest": address_digest} if address_digest else {}
        await self._votes.insert_many(
            [
                {"_id": self._vote_id(comment_id, voter), "comment_id": comment_id, "at": at}
                | owner
                for voter in voters
            ],
            session=session,
        )
        await self._comments.update_one(
            {"_id": comment_id}, {"$inc": {"votes": 1}}, session=session
        )

    async def drop_votes(self, comment_id: str, session: Session) -> None:
        """A deleted comment's votes go with it."""
        await self._votes.delete_many({"comment_id": comment_id}, session=session)
        await self._comments.update_one(
            {"_id": comment_id}, {"$set": {"votes": 0}}, session=session
        )

    async def forget_votes_of(self, address_digest: str, session: Session) -> None:
        await self._votes.delete_many({"address_digest": address_digest}, session=session)


class MongoBanRepository:
    def __init__(self, db: Database) -> None:
        self._bans = db[BANS]

    async def put(self, ban: Ban, session: Session) -> None:
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
            session=session,
        )

    async def active(self, ids: Sequence[str], now: datetime) -> Ban | None:
        doc = await self._bans.find_one({"_id": {"$in": list(ids)}, "until": {"$gt": now}})
        return _ban(doc) if doc else None

    async def list_active(self, now: datetime) -> list[Ban]:
        cursor = self._bans.find({"until": {"$gt": now}}).sort("until", ASCENDING).limit(500)
        return [_ban(doc) async for doc in cursor]

    async def remove(self, ban_id: str, session: Session) -> bool:
        result = await self._bans.delete_one({"_id": ban_id}, session=session)
        return bool(result.deleted_count > 0)


def _ban(doc: dict[str, Any]) -> Ban:
    return Ban(
        kind=doc["kind"],
        value=doc["value"],
        until=doc["until"],
        reason=doc.get("reason", ""),
        created_by=doc.get("created_by", ""),
    )


class MongoImportRepository:
    def __init__(self, db: Database) -> None:
        self._imported = db[WORDPRESS_COMMENTS]

    @staticmethod
    def _id(source: str, wordpress_id: int) -> str:
        # One document per key, by _id: two imports racing on one comment cannot both insert.
        return f"{wordpress_id}@{source}"

    async def get(self, source: str, wordpress_id: int) -> ImportRecord | None:
        doc = await self._imported.find_one({"_id": self._id(source, wordpress_id)})
        return _import_record(doc) if doc else None

    async def put(self, record: ImportRecord, session: Session) -> None:
        await self._imported.replace_one(
            {"_id": self._id(record.source, record.wordpress_id)},
            {
                "source": record.source,
                "wordpress_id": record.wordpress_id,
                "comment_id": record.comment_id,
                "fingerprint": record.fingerprint,
            },
            upsert=True,
            session=session,
        )

    async def page(self, source: str, after: int, limit: int) -> list[ImportRecord]:
        cursor = (
            self._imported.find({"source": source, "wordpress_id": {"$gt": after}})
            .sort("wordpress_id", ASCENDING)
            .limit(limit)
        )
        return [_import_record(doc) async for doc in cursor]


def _import_record(doc: dict[str, Any]) -> ImportRecord:
    return ImportRecord(
        source=doc["source"],
        wordpress_id=int(doc["wordpress_id"]),
        comment_id=doc["comment_id"],
        fingerprint=doc["fingerprint"],
    )
