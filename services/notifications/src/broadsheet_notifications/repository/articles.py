"""The articles projection: what the follow endpoint needs of a published article."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Protocol

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from broadsheet_shared.mongo import Database, IndexSpec, Session

ARTICLES = "articles"

ARTICLE_INDEXES = [IndexSpec(ARTICLES, [IndexModel([("slugs", ASCENDING)])])]


@dataclass(frozen=True)
class ArticleView:
    article_id: str
    slug: str
    slugs: list[str]  # the current slug first, then the ones it replaced
    title: str
    url_path: str
    revision: int
    live: bool = True


class ArticleRepository(Protocol):
    async def save(self, article: ArticleView, session: Session | None) -> None:
        """Store ``article`` unless a newer revision of it is stored already: events of one
        article arrive in order, but a redelivered or replayed older one must change nothing
        (the comments service's projection keeps the same rule)."""
        ...

    async def mark_gone(self, article_id: str, session: Session | None) -> None: ...
    async def withdraw(self, gone: ArticleView, session: Session | None) -> None:
        """Mark the article not live at ``gone.revision`` unless a newer revision is stored; a
        row that does not exist yet is ``gone`` itself (so a late publication stays out)."""
        ...

    async def live_ids(self) -> set[str]: ...
    async def is_empty(self) -> bool: ...
    async def live_by_slug(self, slug: str) -> ArticleView | None: ...
    async def by_ids(
        self, article_ids: list[str], session: Session | None
    ) -> dict[str, ArticleView]:
        """The projected articles among ``article_ids``, live or not, by id."""
        ...


class MongoArticleRepository:
    def __init__(self, db: Database) -> None:
        self._articles = db[ARTICLES]

    async def save(self, article: ArticleView, session: Session | None) -> None:
        document = {
            "_id": article.article_id,
            "slug": article.slug,
            "slugs": article.slugs,
            "title": article.title,
            "url_path": article.url_path,
            "revision": article.revision,
            "live": article.live,
        }
        # A stored row with a newer revision does not match, so the upsert inserts and meets
        # its _id: nothing changes, as wanted.
        with contextlib.suppress(DuplicateKeyError):
            await self._articles.replace_one(
                _not_newer(article), document, upsert=True, session=session
            )

    async def mark_gone(self, article_id: str, session: Session | None) -> None:
        await self._articles.update_one(
            {"_id": article_id}, {"$set": {"live": False}}, session=session
        )

    async def withdraw(self, gone: ArticleView, session: Session | None) -> None:
        with contextlib.suppress(DuplicateKeyError):  # as in save: a newer row stays
            await self._articles.update_one(
                _not_newer(gone),
                {
                    "$set": {"live": False, "revision": gone.revision},
                    "$setOnInsert": {
                        "slug": gone.slug,
                        "slugs": gone.slugs,
                        "title": gone.title,
                        "url_path": gone.url_path,
                    },
                },
                upsert=True,
                session=session,
            )

    async def live_ids(self) -> set[str]:
        return {
            doc["_id"] async for doc in self._articles.find({"live": True}, projection={"_id": 1})
        }

    async def is_empty(self) -> bool:
        return await self._articles.find_one({}, projection={"_id": 1}) is None

    async def live_by_slug(self, slug: str) -> ArticleView | None:
        doc = await self._articles.find_one({"slugs": slug, "live": True})
        return _article_from_doc(doc) if doc else None

    async def by_ids(
        self, article_ids: list[str], session: Session | None
    ) -> dict[str, ArticleView]:
        if not article_ids:
            return {}
        docs = await self._articles.find({"_id": {"$in": article_ids}}, session=session).to_list()
        return {doc["_id"]: _article_from_doc(doc) for doc in docs}


def _not_newer(article: ArticleView) -> dict[str, Any]:
    """The stored row of ``article`` unless it holds a newer revision."""
    return {
        "_id": article.article_id,
        # Rows written before revisions were kept have none: any revision replaces them.
        "$or": [{"revision": {"$lte": article.revision}}, {"revision": {"$exists": False}}],
    }


def _article_from_doc(doc: dict[str, Any]) -> ArticleView:
    return ArticleView(
        article_id=doc["_id"],
        slug=doc["slug"],
        slugs=list(doc["slugs"]),
        title=doc["title"],
        url_path=doc["url_path"],
        revision=int(doc.get("revision", 0)),
        live=bool(doc["live"]),
    )
