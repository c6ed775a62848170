"""The articles projection: what the follow endpoint needs of a published article."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pymongo import ASCENDING, IndexModel

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
    live: bool = True


class ArticleRepository(Protocol):
    async def save(self, article: ArticleView, session: Session | None) -> None: ...
    async def mark_gone(self, article_id: str, session: Session | None) -> None: ...
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

    async def mark_gone(self, article_id: str, session: Session | None) -> None:
        await self._articles.update_one(
            {"_id": article_id}, {"$set": {"live": False}}, session=session
        )

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


def _article_from_doc(doc: dict[str, Any]) -> ArticleView:
    return ArticleView(
        article_id=doc["_id"],
        slug=doc["slug"],
        slugs=list(doc["slugs"]),
        title=doc["title"],
        url_path=doc["url_path"],
        live=bool(doc["live"]),
    )
