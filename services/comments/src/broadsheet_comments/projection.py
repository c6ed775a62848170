"""The service's own picture of articles, kept from article events only."""

from __future__ import annotations

from dataclasses import replace

from broadsheet_comments.domain import Article
from broadsheet_comments.repository import ArticleRepository
from broadsheet_shared.events import ArticleData, ArticleRef
from broadsheet_shared.mongo import Session


class ArticleProjection:
    def __init__(self, articles: ArticleRepository) -> None:
        self._articles = articles

    async def published(self, data: ArticleData, session: Session) -> None:
        await self._apply(data, session, published=True)

    async def updated(self, data: ArticleData, session: Session) -> None:
        await self._apply(data, session, published=None)

    async def _apply(self, data: ArticleData, session: Session, *, published: bool | None) -> None:
        current = await self._articles.by_id(data.article_id, session)
        if current is not None and data.revision < current.revision:
            return  # an older revision arriving late changes nothing
        previous = set(data.previous_slugs)
        if current is not None:
            previous |= {current.slug, *current.previous_slugs}
        previous.discard(data.slug)
        article = Article(
            article_id=data.article_id,
            slug=data.slug,
            previous_slugs=tuple(sorted(previous)),
            title=data.title,
            url_path=data.url_path,
            section_slug=data.section.slug,
            comments_open=data.comments_open,
            published=published if published is not None else True,
            revision=data.revision,
            root_seq=current.root_seq if current else 0,
        )
        await self._articles.save(article, session)

    async def unpublished(self, ref: ArticleRef, session: Session) -> None:
        current = await self._articles.by_id(ref.article_id, session)
        if current is not None:
            await self._articles.save(replace(current, published=False), session)

    async def deleted(self, ref: ArticleRef, session: Session) -> None:
        await self._articles.remove(ref.article_id, session)
