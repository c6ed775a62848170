"""The service's own picture of articles, kept from article events only."""

from __future__ import annotations

from dataclasses import replace

from broadsheet_comments.domain import Article
from broadsheet_comments.repository import ArticleRepository
from broadsheet_shared.events import ArticleData, ArticleRef, ArticleRevisionRef, ArticleStateData
from broadsheet_shared.mongo import Session
from broadsheet_shared.unit_of_work import UnitOfWork


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

    async def restored(self, state: ArticleStateData, session: Session) -> None:
        """The article's state from the compacted topic (a rebuild): the change events' rules,
        and numbering that goes on after the comments the article already has."""
        await self._apply(state, session, published=state.public)
        await self._articles.resume_root_seq(state.article_id, session)

    async def unpublished(self, ref: ArticleRef, session: Session) -> None:
        current = await self._articles.by_id(ref.article_id, session)
        if current is not None:
            await self._articles.save(replace(current, published=False), session)

    async def deleted(self, ref: ArticleRef, session: Session) -> None:
        await self._articles.remove(ref.article_id, session)

    async def unpublished_at(self, ref: ArticleRevisionRef, session: Session) -> None:
        """``article.unpublished`` v2: hidden at its revision (see ``_withdraw``)."""
        await self._withdraw(ref, session, deleted=False)

    async def deleted_at(self, ref: ArticleRevisionRef, session: Session) -> None:
        """``article.deleted`` v2: a hidden row at its revision, not none, for the same reason;
        without its slugs, which the articles service frees for other articles. A rebuild
        forgets it (its state is a tombstone)."""
        await self._withdraw(ref, session, deleted=True)

    async def _withdraw(self, ref: ArticleRevisionRef, session: Session, *, deleted: bool) -> None:
        """Hidden at ``ref.revision``, so that a change older than it arriving late (a
        publication) changes nothing, and one that arrives first is not undone by a later one
        (a republication)."""
        current = await self._articles.by_id(ref.article_id, session)
        if current is not None and ref.revision < current.revision:
            return  # republished since
        # Known only from this event: only its revision matters until a publication replaces it.
        placeholder = Article(
            article_id=ref.article_id,
            slug=ref.slug,
            title="",
            url_path=ref.url_path,
            section_slug="",
            comments_open=False,
            published=False,
            revision=ref.revision,
        )
        hidden = replace(current or placeholder, published=False, revision=ref.revision)
        if deleted:
            hidden = replace(hidden, slug="", previous_slugs=())
        await self._articles.save(hidden, session)


class RestorableArticles:
    """The projection as a rebuild sees it (:mod:`broadsheet_shared.rebuild`): each article in
    its own transaction, under the same rules as the change events."""

    def __init__(
        self, projection: ArticleProjection, articles: ArticleRepository, uow: UnitOfWork
    ) -> None:
        self._projection = projection
        self._articles = articles
        self._uow = uow

    async def is_empty(self) -> bool:
        return await self._articles.is_empty()

    async def article_ids(self) -> set[str]:
        return await self._articles.ids()

    async def restore(self, state: ArticleStateData) -> None:
        await self._uow.run(lambda tx: self._projection.restored(state, tx.session))

    async def forget(self, article_id: str) -> None:
        await self._uow.run(lambda tx: self._articles.remove(article_id, tx.session))
