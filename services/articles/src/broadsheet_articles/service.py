"""Article and section use cases. They take repositories and a unit of work; the unit of work
commits, they do not. Refusals are :mod:`broadsheet_shared.errors`; the domain's own
(:class:`~broadsheet_articles.domain.DomainError`) are conflicts already and pass through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import uuid4

from broadsheet_articles.commands import (
    CreateArticle,
    CreateSection,
    EditArticle,
    PublishArticle,
    RenameSection,
    ReorderSections,
)
from broadsheet_articles.cursors import PublicCursor
from broadsheet_articles.domain import (
    Article,
    ArticleStatus,
    Revision,
    Section,
    is_valid_slug,
    resolve_section,
    revision_of,
    section_slug,
    slug_candidates,
    slug_from_title,
)
from broadsheet_articles.repository import (
    ArticleRepository,
    SectionRepository,
    SlugRace,
    StaffFilter,
)
from broadsheet_shared.audit import StaffAction, recorded
from broadsheet_shared.auth import Principal
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.errors import Conflict, InvalidField, NotFound, StaleRevision
from broadsheet_shared.events import (
    ArticleDeletedV1,
    ArticlePublishedV1,
    ArticleUnpublishedV1,
    ArticleUpdatedV1,
)
from broadsheet_shared.mongo import Session
from broadsheet_shared.unit_of_work import Transaction, UnitOfWork

T = TypeVar("T")

SOURCE = "articles"


def record(
    tx: Transaction,
    actor: Principal,
    action: StaffAction,
    target: str,
    at: datetime,
    /,
    **details: str,
) -> None:
    """Add the audit entry of a staff action to the action's own transaction."""
    tx.emit(recorded(actor, action, target, source=SOURCE, at=at, details=details))


# -- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redirect:
    """The answer for a slug the article has left: readers go to its current one."""

    slug: str


def _invalid_slug() -> InvalidField:
    return InvalidField("slug", "A slug is lower-case letters, digits and dashes.", "slug")


async def _section_by_slug(sections: SectionRepository, slug: str) -> Section:
    for section in await sections.all():
        if section.slug == slug:
            return section
    raise NotFound("No such section.")


# -- articles ----------------------------------------------------------------------------------


class ArticleService:
    def __init__(
        self,
        uow: UnitOfWork,
        articles: ArticleRepository,
        sections: SectionRepository,
        *,
        clock: Clock = utcnow,
        bulk_timeout: float | None = None,
    ) -> None:
        self._uow = uow
        self._articles = articles
        self._sections = sections
        self._clock = clock
        # A section rename rewrites every article in it: longer than one request's bound.
        self._bulk_timeout = bulk_timeout

    async def _section(self, wanted: str) -> Section:
        section = resolve_section(await self._sections.all(), wanted)
        if section is None:
            raise InvalidField("section", f"Unknown section {wanted!r}.", "unknown_section")
        return section

    async def _article(self, article_id: str, session: Session | None = None) -> Article:
        article = await self._articles.get(article_id, session)
        if article is None:
            raise NotFound("No such article.")
        return article

    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        # A slug claimed by a concurrent transaction is seen on the next attempt.
        for _ in range(3):
            try:
                return await self._uow.run(work)
            except SlugRace:
                continue
        raise Conflict("The slug is being claimed concurrently; try again.")

    async def unique_slug(self, base: str, article_id: str, session: Session) -> str:
        for candidate in slug_candidates(base):
            if await self._articles.claim_slug(candidate, article_id, session):
                return candidate
        raise Conflict("Too many articles share this slug; choose another title or slug.")

    async def store(
        self,
        article: Article,
        read_revision: int,
        tx: Transaction,
        *,
        reason: str,
        editor: Principal,
    ) -> None:
        if not await self._articles.save(article, read_revision, tx.session):
            raise StaleRevision("The article changed concurrently; reload it and try again.")
        await self._articles.add_revision(
            revision_of(article, reason=reason, editor=editor.name), tx.session
        )

    async def create(self, command: CreateArticle, editor: Principal) -> Article:
        section = await self._section(command.section)
        now = self._clock()
        article_id = self.new_id()

        async def work(tx: Transaction) -> Article:
            slug = await self.unique_slug(slug_from_title(command.title), article_id, tx.session)
            article = Article.draft(
                id=article_id,
                slug=slug,
                title=command.title,
                body=command.body,
                section=section,
                now=now,
                summary=command.summary,
                tags=command.tags,
                authors=command.authors if command.authors is not None else [editor.name],
                hero_image_url=command.hero_image_url,
                hero_image_alt=command.hero_image_alt,
                comments_open=command.comments_open,
            )
            await self.add(article, tx, reason="created", editor=editor)
            record(tx, editor, StaffAction.ARTICLE_CREATED, article.id, now, title=article.title)
            return article

        return await self.run(work)

    async def preview(self, command: CreateArticle, editor: Principal) -> Article:
        """The article as it would be published now, rendered and never stored."""
        section = await self._section(command.section)
        now = self._clock()
        article = Article.draft(
            id=self.new_id(),
            slug=slug_from_title(command.title),
            title=command.title,
            body=command.body,
            section=section,
            now=now,
            summary=command.summary,
            tags=command.tags,
            authors=command.authors if command.authors is not None else [editor.name],
            hero_image_url=command.hero_image_url,
            hero_image_alt=command.hero_image_alt,
            comments_open=command.comments_open,
        )
        article.published_at = now
        return article

    async def get(self, article_id: str) -> Article:
        return await self._article(article_id)

    # -- for imports (broadsheet_articles.imports): the same slugs, revisions and retries ------

    async def find(self, article_id: str, session: Session | None = None) -> Article | None:
        return await self._articles.get(article_id, session) if article_id else None

    @staticmethod
    def new_id() -> str:
        return str(uuid4())

    async def add(
        self, article: Article, tx: Transaction, *, reason: str, editor: Principal
    ) -> None:
        await self._articles.add(article, tx.session)
        await self._articles.add_revision(
            revision_of(article, reason=reason, editor=editor.name), tx.session
        )

    async def tag_in_use(self, tag: str) -> bool:
        return bool(await self._articles.list_published(section=None, tag=tag, after=None, limit=1))

    async def edit(self, command: EditArticle, editor: Principal) -> Article:
        section = await self._section(command.section) if command.section is not None else None
        if command.slug is not None and not is_valid_slug(command.slug):
            raise _invalid_slug()
        now = self._clock()

        async def work(tx: Transaction) -> Article:
            article = await self._article(command.article_id, tx.session)
            expected = command.expected_revision
            if expected is not None and article.revision != expected:
                raise StaleRevision(
                    "The article changed since you read it; reload it and apply your edit again.",
                    current_revision=article.revision,
                )
            read_revision = article.revision
            old_slug = article.slug
            wanted_slug = command.slug
            title = command.changes.title
            if wanted_slug is None and title is not None and not article.slug_is_fixed:
                wanted_slug = slug_from_title(title)
            new_slug = None
            if wanted_slug is not None and wanted_slug != article.slug:
                new_slug = await self.unique_slug(wanted_slug, article.id, tx.session)
            if not article.edit(command.changes, now, section=section, slug=new_slug):
                return article
            if article.slug != old_slug and old_slug not in article.previous_slugs:
                # A draft's old slug was never public: free it for other articles.
                await self._articles.release_slug(old_slug, tx.session)
            await self.store(article, read_revision, tx, reason="edited", editor=editor)
            record(tx, editor, StaffAction.ARTICLE_EDITED, article.id, now, title=article.title)
            if article.is_public:
                tx.emit(ArticleUpdatedV1(subject=article.id, data=article.event_data()))
            return article

        return await self.run(work)

    async def rename_section(self, command: RenameSection, editor: Principal) -> Section:
        """Rename a section and every article in it, in one transaction.

        Articles carry their section's name, and so do their events: each article gets a new
        revision and, when public, an ``article.updated`` so the other services' projections
        follow.
        """
        section = await _section_by_slug(self._sections, command.slug)
        renamed = Section(slug=section.slug, name=command.name, position=section.position)
        now = self._clock()

        async def work(tx: Transaction) -> Section:
            await self._sections.rename(renamed.slug, renamed.name, tx.session)
            record(tx, editor, StaffAction.SECTION_RENAMED, renamed.slug, now, name=renamed.name)
            for article_id in await self._articles.ids_in_section(renamed.slug, tx.session):
                article = await self._articles.get(article_id, tx.session)
                if article is None:
                    continue
                read_revision = article.revision
                if not article.follow_section_rename(renamed, now):
                    continue
                await self.store(
                    article, read_revision, tx, reason="section renamed", editor=editor
                )
                if article.is_public:
                    tx.emit(ArticleUpdatedV1(subject=article.id, data=article.event_data()))
            return renamed

        return await self._uow.run(work, timeout=self._bulk_timeout)

    async def publish(self, command: PublishArticle, editor: Principal) -> Article:
        now = self._clock()

        async def work(tx: Transaction) -> Article:
            article = await self._article(command.article_id, tx.session)
            read_revision = article.revision
            if command.at is None or command.at <= now:
                article.publish(now)
            else:
                article.schedule(command.at, now)
            reason = "published" if article.is_public else "scheduled"
            await self.store(article, read_revision, tx, reason=reason, editor=editor)
            if article.is_public:
                tx.emit(ArticlePublishedV1(subject=article.id, data=article.event_data()))
                record(tx, editor, StaffAction.ARTICLE_PUBLISHED, article.id, now)
            else:
                at = article.scheduled_at.isoformat() if article.scheduled_at else ""
                record(tx, editor, StaffAction.ARTICLE_SCHEDULED, article.id, now, at=at)
            return article

        return await self._uow.run(work)

    async def unpublish(self, article_id: str, editor: Principal) -> Article:
        now = self._clock()

        async def work(tx: Transaction) -> Article:
            article = await self._article(article_id, tx.session)
            read_revision = article.revision
            was_public = article.unpublish(now)
            await self.store(article, read_revision, tx, reason="unpublished", editor=editor)
            record(tx, editor, StaffAction.ARTICLE_UNPUBLISHED, article.id, now)
            if was_public:
                tx.emit(ArticleUnpublishedV1(subject=article.id, data=article.event_ref()))
            return article

        return await self._uow.run(work)

    async def delete(self, article_id: str, editor: Principal) -> None:
        now = self._clock()

        async def work(tx: Transaction) -> None:
            article = await self._article(article_id, tx.session)
            article.ensure_deletable()
            await self._articles.delete(article.id, tx.session)
            await self._articles.release_slugs(article.id, tx.session)
            tx.emit(ArticleDeletedV1(subject=article.id, data=article.event_ref()))
            record(tx, editor, StaffAction.ARTICLE_DELETED, article.id, now, title=article.title)

        await self._uow.run(work)

    async def publish_due(self) -> int:
        """The scheduler's tick: publish every scheduled article whose time has come.

        Each claim re-reads the article in a transaction and writes only if it is still scheduled
        at the revision read, so two schedulers (replicas, or a restart mid-tick) never both
        publish it: the loser conflicts, retries, and finds it published.
        """
        now = self._clock()
        published = 0
        for article_id in await self._articles.due_scheduled(now, limit=100):

            async def work(tx: Transaction, article_id: str = article_id) -> bool:
                article = await self._articles.get(article_id, tx.session)
                if article is None or article.status is not ArticleStatus.SCHEDULED:
                    return False
                if article.scheduled_at is None or article.scheduled_at > now:
                    return False
                read_revision = article.revision
                article.publish(now)
                if not await self._articles.save(article, read_revision, tx.session):
                    return False
                await self._articles.add_revision(
                    revision_of(article, reason="published", editor="scheduler"), tx.session
                )
                tx.emit(ArticlePublishedV1(subject=article.id, data=article.event_data()))
                return True

            if await self._uow.run(work):
                published += 1
        return published

    async def revisions(self, article_id: str) -> list[Revision]:
        await self._article(article_id)
        return await self._articles.revisions(article_id)

    async def _list_filter(
        self, section: str | None, tag: str | None
    ) -> tuple[str | None, str | None] | None:
        """A list request's section (a slug or a name) and tag as stored; None when no section
        has that slug or name, so the list is empty."""
        section_slug_ = None
        if section is not None:
            found = resolve_section(await self._sections.all(), section)
            if found is None:
                return None
            section_slug_ = found.slug
        return section_slug_, tag.strip().lower() if tag is not None else None

    async def list_staff(
        self,
        *,
        status: ArticleStatus | None,
        section: str | None,
        tag: str | None,
        offset: int,
        limit: int,
        title: str | None = None,
    ) -> tuple[list[Article], int]:
        wanted = await self._list_filter(section, tag)
        if wanted is None:
            return [], 0
        staff_filter = StaffFilter(
            status=status, section=wanted[0], tag=wanted[1], title=(title or "").strip() or None
        )
        return await self._articles.list_staff(staff_filter, offset=offset, limit=limit)

    # -- public --------------------------------------------------------------------------------

    async def public_article(self, slug: str) -> Article | Redirect:
        article = await self._articles.published_by_slug(slug)
        if article is not None:
            return article
        owner = await self._articles.slug_owner(slug)
        if owner is not None:
            moved = await self._articles.get(owner)
            if moved is not None and moved.is_public and moved.slug != slug:
                return Redirect(moved.slug)
        raise NotFound("No such article.")

    async def list_public(
        self,
        *,
        section: str | None,
        tag: str | None,
        after: PublicCursor | None,
        limit: int,
        author: str | None = None,
    ) -> list[Article]:
        """``author``: an author's slug (``author_slug``)."""
        wanted = await self._list_filter(section, tag)
        if wanted is None:
            return []
        return await self._articles.list_published(
            section=wanted[0], tag=wanted[1], after=after, limit=limit, author=author
        )


# -- sections ----------------------------------------------------------------------------------


class SectionService:
    def __init__(
        self,
        uow: UnitOfWork,
        sections: SectionRepository,
        articles: ArticleRepository,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._sections = sections
        self._articles = articles
        self._clock = clock

    async def all(self) -> list[Section]:
        return await self._sections.all()

    async def seed(self, names: list[str]) -> None:
        await self._sections.seed(
            [
                Section(slug=section_slug(name), name=name, position=i)
                for i, name in enumerate(names)
            ]
        )

    async def get(self, slug: str) -> Section:
        return await _section_by_slug(self._sections, slug)

    async def create(self, command: CreateSection, admin: Principal) -> Section:
        slug = command.slug or section_slug(command.name)
        if not is_valid_slug(slug):
            raise _invalid_slug()
        existing = await self._sections.all()
        if any(s.name.casefold() == command.name.casefold() for s in existing):
            raise Conflict("A section with this name exists.")
        section = Section(slug=slug, name=command.name, position=len(existing))
        now = self._clock()

        async def work(tx: Transaction) -> Section:
            if not await self._sections.add(section, tx.session):
                raise Conflict("A section with this slug exists.")
            record(tx, admin, StaffAction.SECTION_CREATED, section.slug, now, name=section.name)
            return section

        return await self._uow.run(work)

    async def reorder(self, command: ReorderSections, admin: Principal) -> list[Section]:
        """Put the sections in the order given, which must name each section once: an order
        made from a stale list (a section added or deleted meanwhile) is refused, not guessed
        at. The reader site's navigation lists sections by this position."""
        existing = await self._sections.all()
        if sorted(command.slugs) != sorted(s.slug for s in existing):
            raise Conflict("The sections changed meanwhile; reload them and order them again.")
        now = self._clock()

        async def work(tx: Transaction) -> None:
            for position, slug in enumerate(command.slugs):
                await self._sections.set_position(slug, position, tx.session)
            order = ",".join(command.slugs)
            record(tx, admin, StaffAction.SECTIONS_REORDERED, "sections", now, order=order)

        await self._uow.run(work)
        return await self._sections.all()

    async def delete(self, slug: str, admin: Principal) -> None:
        section = await self.get(slug)
        if await self._articles.count_in_section(slug):
            raise Conflict("The section still has articles; move them first.")
        now = self._clock()

        async def work(tx: Transaction) -> None:
            if await self._sections.delete(slug, tx.session):
                record(tx, admin, StaffAction.SECTION_DELETED, slug, now, name=section.name)

        await self._uow.run(work)
