"""Staff imports from another site (WordPress: ``broadsheet-import wxr``) and its old links.

An import is an upsert keyed by (source site, WordPress id): the same post sent again with the
same fingerprint writes nothing and emits nothing; a changed one updates its article. Unlike an
editor's change, an import keeps the article's own history: its dates (not "now") and its status
(published at its original date, scheduled, draft), set directly. Everything else is the usual
path: one transaction with the outbox, ``article.published``/``updated``/``unpublished`` as the
public state changes (so the comments and notifications projections learn of imported articles),
a revision per change (reason ``import``), unique slugs (a collision gets ``-2``…).

The articles service owns the old links too: it stored each imported post's link and WordPress
slug, and each section's category nicename, so :class:`OldLinks` answers where an old URL now
lives. The gateway only asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit

from broadsheet_articles.domain import (
    Article,
    ArticleStatus,
    ImportedContent,
    ScheduleInPast,
    Section,
    is_valid_slug,
    old_link_path,
    section_slug,
    slug_candidates,
    url_path,
)
from broadsheet_articles.events import emit_public, emit_unpublished
from broadsheet_articles.repository import ImportRecord, ImportRepository, SectionRepository
from broadsheet_articles.service import ArticleService
from broadsheet_shared.auth import Principal
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.errors import Conflict, InvalidField, NotFound
from broadsheet_shared.events import ArticlePublishedV1, ArticleUpdatedV1
from broadsheet_shared.unit_of_work import Transaction


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ImportArticle:
    source: str  # the old site's base URL: WordPress ids are unique per site only
    wordpress_id: int
    slug: str  # wanted; a collision gets a suffix
    section: str  # a section's slug (from ensure_section)
    content: ImportedContent
    link: str  # the post's URL on the old site
    post_name: str  # its WordPress slug, as the old site had it
    fingerprint: str


@dataclass(frozen=True)
class EnsureSection:
    name: str
    wordpress_slug: str


@dataclass(frozen=True)
class ImportedArticle:
    article: Article
    outcome: Outcome


def _link_path(link: str) -> str:
    path = old_link_path(urlsplit(link).path)
    return "" if path == "/" else path


def _slug_error() -> InvalidField:
    return InvalidField("slug", "A slug is lower-case letters, digits and dashes.", "slug")


class ImportService:
    def __init__(
        self,
        articles: ArticleService,
        imports: ImportRepository,
        sections: SectionRepository,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._articles = articles
        self._imports = imports
        self._sections = sections
        self._clock = clock

    async def ensure_section(self, command: EnsureSection) -> Section:
        """The section for a WordPress category: the one that remembers its nicename, else the
        one of that name (which then remembers it), else a new one. Idempotent."""
        nicename = old_link_path(command.wordpress_slug).lstrip("/")
        existing = await self._sections.all()
        for section in existing:
            if section.wordpress_slug == nicename:
                return section
        folded = command.name.casefold()
        for section in existing:
            if section.name.casefold() == folded:
                await self._sections.set_wordpress_slug(section.slug, nicename)
                return section
        taken = {s.slug for s in existing}
        slug = next((c for c in slug_candidates(section_slug(command.name)) if c not in taken), "")
        section = Section(
            slug=slug,
            name=command.name,
            position=len(existing),
            wordpress_slug=nicename,
        )
        if not slug or not await self._sections.add(section):
            raise Conflict("A section with this slug is being created; try again.")
        return section

    async def import_article(self, command: ImportArticle, editor: Principal) -> ImportedArticle:
        known = await self._imports.get(command.source, command.wordpress_id)
        if known is not None and known.fingerprint == command.fingerprint:
            unchanged = await self._articles.find(known.article_id)
            # An article deleted here since (a draft) is imported again, not reported as kept.
            if unchanged is not None:
                return ImportedArticle(unchanged, Outcome.UNCHANGED)
        if not is_valid_slug(command.slug):
            raise _slug_error()
        content = command.content
        if content.status is ArticleStatus.SCHEDULED and (
            content.scheduled_at is None or content.scheduled_at <= self._clock()
        ):
            raise ScheduleInPast("The scheduled time must be in the future.")
        section = next((s for s in await self._sections.all() if s.slug == command.section), None)
        if section is None:
            raise InvalidField(
                "section", f"Unknown section {command.section!r}.", "unknown_section"
            )
        record = ImportRecord(
            source=command.source,
            wordpress_id=command.wordpress_id,
            article_id=known.article_id if known else "",
            fingerprint=command.fingerprint,
            # A site with ?p=ID permalinks has only its root as a path: no path to match then.
            path=_link_path(command.link),
            post_name=old_link_path(command.post_name).lstrip("/"),
        )

        async def work(tx: Transaction) -> ImportedArticle:
            current = await self._articles.find(record.article_id, tx.session)
            if current is None:
                article_id = self._articles.new_id()
                slug = await self._articles.unique_slug(command.slug, article_id, tx.session)
                article = Article.imported(
                    id=article_id, slug=slug, section=section, content=content
                )
                await self._articles.add(article, tx, reason="import", editor=editor)
                outcome = Outcome.CREATED
                was_public = False
            else:
                article = current
                was_public = article.is_public
                read_revision = article.revision
                slug = None
                if article.slug not in slug_candidates(command.slug):
                    slug = await self._articles.unique_slug(command.slug, article.id, tx.session)
                if article.restore(content, section, slug):
                    await self._articles.store(
                        article, read_revision, tx, reason="import", editor=editor
                    )
                outcome = Outcome.UPDATED
            await self._imports.put(replace(record, article_id=article.id), tx.session)
            if article.is_public:
                event = ArticleUpdatedV1 if was_public else ArticlePublishedV1
                emit_public(tx, article, event)
            elif was_public:
                emit_unpublished(tx, article)
            return ImportedArticle(article, outcome)

        return await self._articles.run(work)

    async def imported(self, source: str, after: int, limit: int) -> list[ImportRecord]:
        return await self._imports.page(source, after, limit)


# -- old links ---------------------------------------------------------------------------------

_FEEDS = frozenset({"/feed", "/feed/atom", "/feed/rss2", "/feed/rss", "/comments/feed"})
_DATED = re.compile(r"^/(\d{4})(?:/(\d{2}))?(?:/(\d{2}))?/([^/]+)$")
SITE_FEED = "/feed.xml"


class OldLinks:
    """Where a URL of the imported site lives now (the reader site's path), or NotFound."""

    def __init__(
        self,
        articles: ArticleService,
        imports: ImportRepository,
        sections: SectionRepository,
    ) -> None:
        self._articles = articles
        self._imports = imports
        self._sections = sections

    async def location(self, raw_path: str, query: str = "") -> str:
        post_id = parse_qs(query).get("p", [""])[0]
        if post_id.isdigit():
            return await self._first_public(await self._imports.by_wordpress_id(int(post_id)))
        path = old_link_path(raw_path)
        if path in _FEEDS:
            return SITE_FEED
        parts = path.strip("/").split("/")
        if parts[0] == "category" and len(parts) > 1:
            return await self._category(parts[1:])
        if parts[0] == "tag" and len(parts) == 2:
            return await self._tag(parts[1])
        exact = await self._imports.by_path(path)
        if exact:
            return await self._first_public(exact)
        return await self._by_post_name(path)

    async def _first_public(self, records: list[ImportRecord], dated: tuple[str, ...] = ()) -> str:
        for record in records:
            article = await self._articles.find(record.article_id)
            if article is None or not article.is_public or article.published_at is None:
                continue
            published = article.published_at
            have = (f"{published.year:04}", f"{published.month:02}", f"{published.day:02}")
            if all(want in ("", got) for want, got in zip(dated, have, strict=False)):
                return url_path(article.slug)
        raise NotFound("No imported article had this address.")

    async def _by_post_name(self, path: str) -> str:
        """``/YYYY/MM/DD/slug``, ``/YYYY/MM/slug``, ``/YYYY/slug``, ``/slug``: WordPress's usual
        structures, matched on the post's WordPress slug and, when given, its date."""
        dated = _DATED.match(path)
        wanted: tuple[str, ...] = ()
        if dated is not None:
            year, month, day, name = dated.groups()
            wanted = (year, month or "", day or "")
        elif path.count("/") == 1 and path != "/":
            name = path[1:]
        else:
            raise NotFound("No imported article had this address.")
        return await self._first_public(await self._imports.by_post_name(name), wanted)

    async def _category(self, parts: list[str]) -> str:
        feed = parts[-1] == "feed"
        nicename = parts[-2] if feed and len(parts) > 1 else parts[-1]
        for section in await self._sections.all():
            if section.wordpress_slug == nicename:
                return f"/sections/{section.slug}" + ("/feed.xml" if feed else "")
        raise NotFound("No imported section had this address.")

    async def _tag(self, nicename: str) -> str:
        # Tags are stored by name, lower case; WordPress's nicename is that name slugified,
        # so spaces became dashes. The tag page exists only when an article carries the tag.
        for tag in dict.fromkeys([nicename.replace("-", " "), nicename]):
            if await self._articles.tag_in_use(tag):
                return f"/tags/{tag}"
        raise NotFound("No published article has this tag.")
