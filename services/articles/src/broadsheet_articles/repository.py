"""The only code that touches MongoDB: articles, slugs, revisions, sections, editors, tokens,
the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from broadsheet_articles.cursors import AuditCursor, PublicCursor
from broadsheet_articles.domain import (
    Article,
    ArticleStatus,
    AuditEntry,
    AuditFilter,
    Editor,
    Revision,
    Section,
    author_slug,
)
from broadsheet_shared.mongo import Database, IndexSpec, Session

ARTICLES = "articles"
SLUGS = "slugs"
REVISIONS = "revisions"
SECTIONS = "sections"
EDITORS = "editors"
REFRESH_TOKENS = "refresh_tokens"
# Imported articles by (source site, WordPress id): the key of an import's upserts, and the old
# links' index (their paths and WordPress slugs).
WORDPRESS_POSTS = "wordpress_posts"
# Every staff action of every service, keyed by the id of the event that recorded it.
AUDIT = "audit"

INDEXES: list[IndexSpec] = [
    IndexSpec(
        ARTICLES,
        [
            IndexModel([("slug", ASCENDING)], unique=True),
            IndexModel([("status", ASCENDING), ("published_at", DESCENDING), ("_id", DESCENDING)]),
            IndexModel(
                [("status", ASCENDING), ("section.slug", ASCENDING), ("published_at", DESCENDING)]
            ),
            IndexModel([("status", ASCENDING), ("tags", ASCENDING), ("published_at", DESCENDING)]),
            IndexModel(
                [("status", ASCENDING), ("author_slugs", ASCENDING), ("published_at", DESCENDING)]
            ),
            IndexModel([("status", ASCENDING), ("scheduled_at", ASCENDING)]),
            IndexModel([("updated_at", DESCENDING), ("_id", DESCENDING)]),
        ],
    ),
    IndexSpec(SLUGS, [IndexModel([("article_id", ASCENDING)])]),
    IndexSpec(REVISIONS, [IndexModel([("article_id", ASCENDING), ("revision", DESCENDING)])]),
    IndexSpec(
        SECTIONS,
        [IndexModel([("position", ASCENDING)]), IndexModel([("wordpress_slug", ASCENDING)])],
    ),
    IndexSpec(
        WORDPRESS_POSTS,
        [
            IndexModel([("source", ASCENDING), ("wordpress_id", ASCENDING)]),
            IndexModel([("wordpress_id", ASCENDING)]),
            IndexModel([("path", ASCENDING)]),
            IndexModel([("post_name", ASCENDING)]),
        ],
    ),
    IndexSpec(EDITORS, [IndexModel([("email", ASCENDING)], unique=True)]),
    IndexSpec(
        REFRESH_TOKENS,
        [
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
            IndexModel([("family", ASCENDING)]),
        ],
    ),
    # Newest first, alone or filtered by actor or action (then by time).
    IndexSpec(
        AUDIT,
        [
            IndexModel([("at", DESCENDING), ("_id", DESCENDING)]),
            IndexModel([("actor_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)]),
            IndexModel([("action", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)]),
        ],
    ),
]


class SlugRace(Exception):
    """Another transaction claimed the same slug first; the use case retries with a fresh read."""


@dataclass(frozen=True)
class StaffFilter:
    status: ArticleStatus | None = None
    section: str | None = None
    tag: str | None = None
    # Words the title contains, in any case (the Newsroom's search box).
    title: str | None = None


@dataclass(frozen=True)
class RefreshRecord:
    token_hash: str
    editor_id: str
    family: str
    expires_at: datetime
    used: bool


class ArticleRepository(Protocol):
    async def get(self, article_id: str, session: Session | None = None) -> Article | None: ...
    async def add(self, article: Article, session: Session | None) -> None: ...
    async def save(
        self, article: Article, expected_revision: int, session: Session | None
    ) -> bool: ...
    async def delete(self, article_id: str, session: Session | None) -> None: ...
    async def published_by_slug(self, slug: str) -> Article | None: ...
    async def list_published(
        self,
        *,
        section: str | None,
        tag: str | None,
        after: PublicCursor | None,
        limit: int,
        author: str | None = None,
    ) -> list[Article]: ...
    async def list_staff(
        self, staff_filter: StaffFilter, *, offset: int, limit: int
    ) -> tuple[list[Article], int]: ...
    async def due_scheduled(self, now: datetime, limit: int) -> list[str]: ...
    async def count_in_section(self, section_slug: str) -> int: ...
    async def ids_in_section(self, section_slug: str, session: Session | None) -> list[str]: ...
    # Slugs: every slug an article ever had points at it, so old ones can redirect.
    async def slug_owner(self, slug: str, session: Session | None = None) -> str | None: ...
    async def claim_slug(self, slug: str, article_id: str, session: Session | None) -> bool: ...
    async def release_slugs(self, article_id: str, session: Session | None) -> None: ...
    async def release_slug(self, slug: str, session: Session | None) -> None: ...
    async def add_revision(self, revision: Revision, session: Session | None) -> None: ...
    async def revisions(self, article_id: str) -> list[Revision]: ...


@dataclass(frozen=True)
class ImportRecord:
    """One imported post: which article it became, the fingerprint of what was written, and
    how the old site addressed it (the path of its link, its WordPress slug)."""

    source: str
    wordpress_id: int
    article_id: str
    fingerprint: str
    path: str
    post_name: str


class ImportRepository(Protocol):
    async def get(self, source: str, wordpress_id: int) -> ImportRecord | None: ...
    async def put(self, record: ImportRecord, session: Session | None) -> None: ...
    async def page(self, source: str, after: int, limit: int) -> list[ImportRecord]: ...
    async def by_wordpress_id(self, wordpress_id: int) -> list[ImportRecord]: ...
    async def by_path(self, path: str) -> list[ImportRecord]: ...
    async def by_post_name(self, post_name: str) -> list[ImportRecord]: ...


class SectionRepository(Protocol):
    async def all(self) -> list[Section]: ...
    async def add(self, section: Section, session: Session | None = None) -> bool: ...
    async def set_wordpress_slug(self, slug: str, wordpress_slug: str) -> None: ...
    async def rename(self, slug: str, name: str, session: Session | None) -> bool: ...
    async def set_position(self, slug: str, position: int, session: Session | None) -> None: ...
    async def delete(self, slug: str, session: Session | None = None) -> bool: ...
    async def seed(self, sections: list[Section]) -> None: ...


class EditorRepository(Protocol):
    async def by_email(self, email: str) -> Editor | None: ...
    async def by_id(self, editor_id: str) -> Editor | None: ...
    async def add(self, editor: Editor, session: Session | None = None) -> bool: ...
    async def update(self, editor: Editor, session: Session | None = None) -> None: ...
    async def take_password_link(
        self, link_hash: str, now: datetime, session: Session | None
    ) -> Editor | None: ...
    async def all(self) -> list[Editor]: ...


class AuditRepository(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...
    async def page(
        self, wanted: AuditFilter, after: AuditCursor | None, limit: int
    ) -> list[AuditEntry]: ...


class RefreshTokenRepository(Protocol):
    async def add(self, record: RefreshRecord) -> None: ...
    async def use(self, token_hash: str, now: datetime) -> RefreshRecord | None: ...
    async def revoke_family(self, family: str) -> None: ...
    async def revoke_family_of(self, token_hash: str) -> None: ...
    async def revoke_editor(self, editor_id: str, session: Session | None) -> None: ...


# -- documents ---------------------------------------------------------------------------------


def article_document(article: Article) -> dict[str, Any]:
    return {
        "_id": article.id,
        "slug": article.slug,
        "previous_slugs": list(article.previous_slugs),
        "title": article.title,
        "summary": article.summary,
        "body": article.body,
        "body_html": article.body_html,
        "section": {"slug": article.section.slug, "name": article.section.name},
        "tags": list(article.tags),
        "authors": list(article.authors),
        # Derived, for the author pages' lists (an article saved before they existed gets it
        # at its next save).
        "author_slugs": [author_slug(name) for name in article.authors],
        "hero_image_url": article.hero_image_url,
        "hero_image_alt": article.hero_image_alt,
        "status": article.status.value,
        "comments_open": article.comments_open,
        "created_at": article.created_at,
        "updated_at": article.updated_at,
        "published_at": article.published_at,
        "scheduled_at": article.scheduled_at,
        "revision": article.revision,
    }


def article_from_document(doc: dict[str, Any]) -> Article:
    return Article(
        id=doc["_id"],
        slug=doc["slug"],
        previous_slugs=list(doc.get("previous_slugs", [])),
        title=doc["title"],
        summary=doc.get("summary", ""),
        body=doc["body"],
        body_html=doc["body_html"],
        section=Section(slug=doc["section"]["slug"], name=doc["section"]["name"]),
        tags=list(doc.get("tags", [])),
        authors=list(doc.get("authors", [])),
        hero_image_url=doc.get("hero_image_url"),
        hero_image_alt=doc.get("hero_image_alt"),
        status=ArticleStatus(doc["status"]),
        comments_open=bool(doc.get("comments_open", True)),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        published_at=doc.get("published_at"),
        scheduled_at=doc.get("scheduled_at"),
        revision=int(doc["revision"]),
    )


def _editor_document(editor: Editor) -> dict[str, Any]:
    return {
        "_id": editor.id,
        "email": editor.email,
        "name": editor.name,
        "role": editor.role,
        "password_hash": editor.password_hash,
        "disabled": editor.disabled,
        "created_at": editor.created_at,
        "access_changed_at": editor.access_changed_at,
        "password_link_hash": editor.password_link_hash,
        "password_link_expires_at": editor.password_link_expires_at,
    }


def _editor_from_document(doc: dict[str, Any]) -> Editor:
    return Editor(
        id=doc["_id"],
        email=doc["email"],
        name=doc["name"],
        role=doc["role"],
        password_hash=doc["password_hash"],
        disabled=bool(doc.get("disabled", False)),
        created_at=doc["created_at"],
        access_changed_at=doc.get("access_changed_at"),
        password_link_hash=doc.get("password_link_hash"),
        password_link_expires_at=doc.get("password_link_expires_at"),
    )


def _revision_from_document(doc: dict[str, Any]) -> Revision:
    return Revision(
        article_id=doc["article_id"],
        revision=int(doc["revision"]),
        reason=doc["reason"],
        editor=doc["editor"],
        created_at=doc["created_at"],
        status=ArticleStatus(doc["status"]),
        content=dict(doc["content"]),
    )


# -- MongoDB -----------------------------------------------------------------------------------


class MongoArticleRepository:
    def __init__(self, db: Database) -> None:
        self._articles = db[ARTICLES]
        self._slugs = db[SLUGS]
        self._revisions = db[REVISIONS]

    async def get(self, article_id: str, session: Session | None = None) -> Article | None:
        doc = await self._articles.find_one({"_id": article_id}, session=session)
        return article_from_document(doc) if doc else None

    async def add(self, article: Article, session: Session | None) -> None:
        await self._articles.insert_one(article_document(article), session=session)

    async def save(self, article: Article, expected_revision: int, session: Session | None) -> bool:
        """Optimistic concurrency: the write lands only on the revision the caller read."""
        doc = article_document(article)
        del doc["_id"]
        result = await self._articles.update_one(
            {"_id": article.id, "revision": expected_revision}, {"$set": doc}, session=session
        )
        return bool(result.matched_count == 1)

    async def delete(self, article_id: str, session: Session | None) -> None:
        await self._articles.delete_one({"_id": article_id}, session=session)

    async def published_by_slug(self, slug: str) -> Article | None:
        """The public view: the Markdown source (``body``) is not read, it comes back empty."""
        doc = await self._articles.find_one(
            {"slug": slug, "status": ArticleStatus.PUBLISHED.value}, projection={"body": 0}
        )
        return article_from_document({**doc, "body": ""}) if doc else None

    async def list_published(
        self,
        *,
        section: str | None,
        tag: str | None,
        after: PublicCursor | None,
        limit: int,
        author: str | None = None,
    ) -> list[Article]:
        query: dict[str, Any] = {"status": ArticleStatus.PUBLISHED.value}
        if author is not None:
            query["author_slugs"] = author
        if section is not None:
            query["section.slug"] = section
        if tag is not None:
            query["tags"] = tag
        if after is not None:
            published_at, article_id = after
            query["$or"] = [
                {"published_at": {"$lt": published_at}},
                {"published_at": published_at, "_id": {"$lt": article_id}},
            ]
        cursor = (
            self._articles.find(query, projection={"body": False})
            .sort([("published_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [article_from_document({"body": "", **doc}) async for doc in cursor]

    async def list_staff(
        self, staff_filter: StaffFilter, *, offset: int, limit: int
    ) -> tuple[list[Article], int]:
        query: dict[str, Any] = {}
        if staff_filter.status is not None:
            query["status"] = staff_filter.status.value
        if staff_filter.section is not None:
            query["section.slug"] = staff_filter.section
        if staff_filter.tag is not None:
            query["tags"] = staff_filter.tag
        if staff_filter.title:
            query["title"] = {"$regex": re.escape(staff_filter.title), "$options": "i"}
        total = await self._articles.count_documents(query)
        cursor = (
            self._articles.find(query)
            .sort([("updated_at", DESCENDING), ("_id", DESCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return [article_from_document(doc) async for doc in cursor], total

    async def due_scheduled(self, now: datetime, limit: int) -> list[str]:
        cursor = (
            self._articles.find(
                {"status": ArticleStatus.SCHEDULED.value, "scheduled_at": {"$lte": now}},
                projection={"_id": True},
            )
            .sort("scheduled_at", ASCENDING)
            .limit(limit)
        )
        return [str(doc["_id"]) async for doc in cursor]

    async def count_in_section(self, section_slug: str) -> int:
        return int(await self._articles.count_documents({"section.slug": section_slug}))

    async def ids_in_section(self, section_slug: str, session: Session | None) -> list[str]:
        cursor = self._articles.find({"section.slug": section_slug}, {"_id": 1}, session=session)
        return [str(doc["_id"]) async for doc in cursor]

    async def slug_owner(self, slug: str, session: Session | None = None) -> str | None:
        doc = await self._slugs.find_one({"_id": slug}, session=session)
        return str(doc["article_id"]) if doc else None

    async def claim_slug(self, slug: str, article_id: str, session: Session | None) -> bool:
        owner = await self.slug_owner(slug, session)
        if owner is not None:
            return owner == article_id
        try:
            await self._slugs.insert_one({"_id": slug, "article_id": article_id}, session=session)
        except DuplicateKeyError:
            raise SlugRace(slug) from None
        return True

    async def release_slugs(self, article_id: str, session: Session | None) -> None:
        await self._slugs.delete_many({"article_id": article_id}, session=session)

    async def release_slug(self, slug: str, session: Session | None) -> None:
        await self._slugs.delete_one({"_id": slug}, session=session)

    async def add_revision(self, revision: Revision, session: Session | None) -> None:
        await self._revisions.insert_one(
            {
                "_id": f"{revision.article_id}:{revision.revision}",
                "article_id": revision.article_id,
                "revision": revision.revision,
                "reason": revision.reason,
                "editor": revision.editor,
                "created_at": revision.created_at,
                "status": revision.status.value,
                "content": revision.content,
            },
            session=session,
        )

    async def revisions(self, article_id: str) -> list[Revision]:
        cursor = self._revisions.find({"article_id": article_id}).sort("revision", DESCENDING)
        return [_revision_from_document(doc) async for doc in cursor]


class MongoSectionRepository:
    def __init__(self, db: Database) -> None:
        self._sections = db[SECTIONS]

    async def all(self) -> list[Section]:
        cursor = self._sections.find().sort([("position", ASCENDING), ("_id", ASCENDING)])
        return [
            Section(
                slug=doc["_id"],
                name=doc["name"],
                position=int(doc.get("position", 0)),
                wordpress_slug=doc.get("wordpress_slug"),
            )
            async for doc in cursor
        ]

    async def add(self, section: Section, session: Session | None = None) -> bool:
        try:
            await self._sections.insert_one(
                {
                    "_id": section.slug,
                    "name": section.name,
                    "position": section.position,
                    "wordpress_slug": section.wordpress_slug,
                },
                session=session,
            )
        except DuplicateKeyError:
            return False
        return True

    async def set_wordpress_slug(self, slug: str, wordpress_slug: str) -> None:
        await self._sections.update_one({"_id": slug}, {"$set": {"wordpress_slug": wordpress_slug}})

    async def rename(self, slug: str, name: str, session: Session | None) -> bool:
        result = await self._sections.update_one(
            {"_id": slug}, {"$set": {"name": name}}, session=session
        )
        return bool(result.matched_count == 1)

    async def set_position(self, slug: str, position: int, session: Session | None) -> None:
        await self._sections.update_one(
            {"_id": slug}, {"$set": {"position": position}}, session=session
        )

    async def delete(self, slug: str, session: Session | None = None) -> bool:
        result = await self._sections.delete_one({"_id": slug}, session=session)
        return bool(result.deleted_count == 1)

    async def seed(self, sections: list[Section]) -> None:
        """Only a fresh installation gets the defaults: deleted sections do not come back."""
        if await self._sections.count_documents({}, limit=1):
            return
        for section in sections:
            await self._sections.update_one(
                {"_id": section.slug},
                {"$setOnInsert": {"name": section.name, "position": section.position}},
                upsert=True,
            )


class MongoEditorRepository:
    def __init__(self, db: Database) -> None:
        self._editors = db[EDITORS]

    async def by_email(self, email: str) -> Editor | None:
        doc = await self._editors.find_one({"email": email})
        return _editor_from_document(doc) if doc else None

    async def by_id(self, editor_id: str) -> Editor | None:
        doc = await self._editors.find_one({"_id": editor_id})
        return _editor_from_document(doc) if doc else None

    async def add(self, editor: Editor, session: Session | None = None) -> bool:
        try:
            await self._editors.insert_one(_editor_document(editor), session=session)
        except DuplicateKeyError:
            return False
        return True

    async def update(self, editor: Editor, session: Session | None = None) -> None:
        doc = _editor_document(editor)
        del doc["_id"]
        await self._editors.update_one({"_id": editor.id}, {"$set": doc}, session=session)

    async def take_password_link(
        self, link_hash: str, now: datetime, session: Session | None
    ) -> Editor | None:
        """The account whose unexpired link this is, the link spent in the same write: of two
        uses at once, one finds it."""
        doc = await self._editors.find_one_and_update(
            {"password_link_hash": link_hash, "password_link_expires_at": {"$gt": now}},
            {"$set": {"password_link_hash": None, "password_link_expires_at": None}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return _editor_from_document(doc) if doc else None

    async def changed_at(self, staff_id: str) -> datetime | None:
        """The account's last change that ends earlier tokens (``StaffAccess``): articles owns
        the accounts, so its own check needs no projection and takes effect at once."""
        doc = await self._editors.find_one({"_id": staff_id}, projection={"access_changed_at": 1})
        return doc.get("access_changed_at") if doc else None

    async def all(self) -> list[Editor]:
        cursor = self._editors.find().sort("created_at", ASCENDING)
        return [_editor_from_document(doc) async for doc in cursor]


class MongoRefreshTokenRepository:
    def __init__(self, db: Database) -> None:
        self._tokens = db[REFRESH_TOKENS]

    async def add(self, record: RefreshRecord) -> None:
        await self._tokens.insert_one(
            {
                "_id": record.token_hash,
                "editor_id": record.editor_id,
                "family": record.family,
                "expires_at": record.expires_at,
                "used": False,
            }
        )

    async def use(self, token_hash: str, now: datetime) -> RefreshRecord | None:
        """Mark the token used and return it as it was; a token is good for one refresh."""
        doc = await self._tokens.find_one_and_update(
            {"_id": token_hash, "expires_at": {"$gt": now}},
            {"$set": {"used": True}},
            return_document=ReturnDocument.BEFORE,
        )
        if doc is None:
            return None
        return RefreshRecord(
            token_hash=doc["_id"],
            editor_id=doc["editor_id"],
            family=doc["family"],
            expires_at=doc["expires_at"],
            used=bool(doc["used"]),
        )

    async def revoke_family(self, family: str) -> None:
        await self._tokens.delete_many({"family": family})

    async def revoke_family_of(self, token_hash: str) -> None:
        doc = await self._tokens.find_one({"_id": token_hash}, projection={"family": 1})
        if doc is not None:
            await self.revoke_family(doc["family"])

    async def revoke_editor(self, editor_id: str, session: Session | None) -> None:
        await self._tokens.delete_many({"editor_id": editor_id}, session=session)


def _import_record(doc: dict[str, Any]) -> ImportRecord:
    return ImportRecord(
        source=doc["source"],
        wordpress_id=int(doc["wordpress_id"]),
        article_id=doc["article_id"],
        fingerprint=doc["fingerprint"],
        path=doc["path"],
        post_name=doc["post_name"],
    )


class MongoImportRepository:
    def __init__(self, db: Database) -> None:
        self._posts = db[WORDPRESS_POSTS]

    @staticmethod
    def _id(source: str, wordpress_id: int) -> str:
        # One document per key, by _id: two imports racing on one post cannot both insert it.
        return f"{wordpress_id}@{source}"

    async def get(self, source: str, wordpress_id: int) -> ImportRecord | None:
        doc = await self._posts.find_one({"_id": self._id(source, wordpress_id)})
        return _import_record(doc) if doc else None

    async def put(self, record: ImportRecord, session: Session | None) -> None:
        await self._posts.replace_one(
            {"_id": self._id(record.source, record.wordpress_id)},
            {
                "source": record.source,
                "wordpress_id": record.wordpress_id,
                "article_id": record.article_id,
                "fingerprint": record.fingerprint,
                "path": record.path,
                "post_name": record.post_name,
            },
            upsert=True,
            session=session,
        )

    async def page(self, source: str, after: int, limit: int) -> list[ImportRecord]:
        cursor = (
            self._posts.find({"source": source, "wordpress_id": {"$gt": after}})
            .sort("wordpress_id", ASCENDING)
            .limit(limit)
        )
        return [_import_record(doc) async for doc in cursor]

    async def _find(self, query: dict[str, Any]) -> list[ImportRecord]:
        # Few: one per source site that had the post (usually one).
        return [_import_record(doc) async for doc in self._posts.find(query).limit(10)]

    async def by_wordpress_id(self, wordpress_id: int) -> list[ImportRecord]:
        return await self._find({"wordpress_id": wordpress_id})

    async def by_path(self, path: str) -> list[ImportRecord]:
        return await self._find({"path": path})

    async def by_post_name(self, post_name: str) -> list[ImportRecord]:
        return await self._find({"post_name": post_name})


class MongoAuditRepository:
    def __init__(self, db: Database) -> None:
        self._entries = db[AUDIT]

    async def add(self, entry: AuditEntry) -> None:
        """Keyed by the event id: the same event delivered again leaves one entry."""
        doc = {
            "source": entry.source,
            "actor_id": entry.actor_id,
            "actor_name": entry.actor_name,
            "actor_role": entry.actor_role,
            "action": entry.action,
            "target": entry.target,
            "details": entry.details,
            "client": entry.client,
            "at": entry.at,
        }
        await self._entries.update_one({"_id": entry.id}, {"$setOnInsert": doc}, upsert=True)

    async def page(
        self, wanted: AuditFilter, after: AuditCursor | None, limit: int
    ) -> list[AuditEntry]:
        query: dict[str, Any] = {}
        if wanted.actor is not None:
            query["actor_id"] = wanted.actor
        if wanted.action is not None:
            query["action"] = wanted.action
        at: dict[str, datetime] = {}
        if wanted.since is not None:
            at["$gte"] = wanted.since
        if wanted.until is not None:
            at["$lt"] = wanted.until
        if at:
            query["at"] = at
        if after is not None:
            after_at, after_id = after
            query["$or"] = [
                {"at": {"$lt": after_at}},
                {"at": after_at, "_id": {"$lt": after_id}},
            ]
        cursor = (
            self._entries.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        )
        return [_audit_entry(doc) async for doc in cursor]


def _audit_entry(doc: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        id=doc["_id"],
        source=doc["source"],
        actor_id=doc["actor_id"],
        actor_name=doc["actor_name"],
        actor_role=doc["actor_role"],
        action=doc["action"],
        target=doc["target"],
        details=dict(doc["details"]),
        client=doc["client"],
        at=doc["at"],
    )
