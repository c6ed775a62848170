"""The articles domain: the lifecycle of an article, slugs, sections and revisions. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

import nh3
from markdown_it import MarkdownIt
from slugify import slugify

from broadsheet_shared.auth import Role
from broadsheet_shared.errors import Conflict, InvalidField
from broadsheet_shared.events import ArticleData, ArticleRevisionRef, ArticleStateData, SectionRef
from broadsheet_shared.identifiers import SLUG_MAX_LENGTH, SLUG_PATTERN

_SLUG_RE = re.compile(SLUG_PATTERN)


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"


class DomainError(Conflict):
    """A rule of the article lifecycle refused the change: a conflict with the article's current
    state, which is how clients see it (409 with this message)."""


class InvalidTransition(DomainError):
    pass


class NotDeletable(DomainError):
    pass


class ScheduleInPast(DomainError):
    pass


@dataclass(frozen=True)
class Section:
    slug: str
    name: str
    position: int = 0
    # The category's nicename on the WordPress site it was imported from: /category/NAME/ links.
    wordpress_slug: str | None = None

    def ref(self) -> SectionRef:
        return SectionRef(slug=self.slug, name=self.name)


def section_slug(name: str) -> str:
    return slugify(name, max_length=SLUG_MAX_LENGTH, word_boundary=True) or "section"


def author_slug(name: str) -> str:
    """An author page's address: ``Ada Reporter`` → ``ada-reporter``."""
    return slugify(name, max_length=SLUG_MAX_LENGTH, word_boundary=True) or "author"


def resolve_section(sections: list[Section], wanted: str) -> Section | None:
    """``section`` in requests is a section's slug or its name (case-insensitive)."""
    needle = wanted.strip()
    for section in sections:
        if section.slug == needle:
            return section
    folded = needle.casefold()
    for section in sections:
        if section.name.casefold() == folded or section.slug == section_slug(needle):
            return section
    return None


def slug_from_title(title: str) -> str:
    return slugify(title, max_length=SLUG_MAX_LENGTH, word_boundary=True) or "article"


def is_valid_slug(slug: str) -> bool:
    return len(slug) <= SLUG_MAX_LENGTH and _SLUG_RE.fullmatch(slug) is not None


def slug_candidates(base: str) -> list[str]:
    """``base``, then ``base-2``, ``base-3``…: how a collision is resolved by a suffix."""
    candidates = [base]
    for n in range(2, 52):
        suffix = f"-{n}"
        candidates.append(base[: SLUG_MAX_LENGTH - len(suffix)].rstrip("-") + suffix)
    return candidates


def normalize_tags(tags: list[str]) -> list[str]:
    """Tags are matched case-insensitively, so they are stored trimmed and lower-cased, once."""
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = " ".join(tag.split()).lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(body: str) -> str:
    """Markdown to HTML that is safe to embed: raw HTML is off and nh3 cleans what remains."""
    return nh3.clean(_markdown.render(body), link_rel="noopener noreferrer nofollow")


def old_link_path(path: str) -> str:
    """A path of the old site as redirects match it: percent-decoded (WordPress stores non-ASCII
    slugs encoded, browsers send either case of hex), case-folded (WordPress slugs are lower
    case), without the trailing slash, ``/`` for the root."""
    decoded = unquote(path).casefold().rstrip("/")
    return decoded if decoded.startswith("/") else "/" + decoded


def url_path(slug: str) -> str:
    return f"/articles/{slug}"


@dataclass(frozen=True)
class ArticleChanges:
    """The content an editor's PATCH sets; ``None`` means "leave as it is". The section and the
    slug are not here: the service resolves them first (a name to a section, a slug to a free
    one)."""

    title: str | None = None
    summary: str | None = None
    body: str | None = None
    tags: list[str] | None = None
    authors: list[str] | None = None
    hero_image_url: str | None = None
    hero_image_alt: str | None = None
    clear_hero_image: bool = False  # removes the image and its alt text
    comments_open: bool | None = None


@dataclass(frozen=True)
class ImportedContent:
    """An article as the site it is imported from had it: content, status and dates."""

    title: str
    summary: str
    body: str
    tags: list[str]
    authors: list[str]
    comments_open: bool
    status: ArticleStatus
    published_at: datetime | None
    scheduled_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass
class Article:
    id: str
    slug: str
    title: str
    summary: str
    body: str
    body_html: str
    section: Section
    tags: list[str]
    authors: list[str]
    hero_image_url: str | None
    status: ArticleStatus
    comments_open: bool
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None = None
    scheduled_at: datetime | None = None
    revision: int = 1
    previous_slugs: list[str] = field(default_factory=list)
    hero_image_alt: str | None = None

    @classmethod
    def draft(
        cls,
        *,
        id: str,
        slug: str,
        title: str,
        body: str,
        section: Section,
        now: datetime,
        summary: str = "",
        tags: list[str] | None = None,
        authors: list[str] | None = None,
        hero_image_url: str | None = None,
        hero_image_alt: str | None = None,
        comments_open: bool = True,
    ) -> Article:
        article = cls(
            id=id,
            slug=slug,
            title=title,
            summary=summary,
            body=body,
            body_html=render_markdown(body),
            section=section,
            tags=normalize_tags(tags or []),
            authors=list(authors or []),
            hero_image_url=hero_image_url,
            hero_image_alt=hero_image_alt or None,
            status=ArticleStatus.DRAFT,
            comments_open=comments_open,
            created_at=now,
            updated_at=now,
        )
        article.check_hero_image()
        return article

    @classmethod
    def imported(cls, *, id: str, slug: str, section: Section, content: ImportedContent) -> Article:
        """A new article as an import describes it: its first revision, at its own dates."""
        article = cls.draft(
            id=id,
            slug=slug,
            title=content.title,
            body=content.body,
            section=section,
            now=content.created_at,
        )
        article.restore(content, section, None)
        article.revision = 1
        return article

    # -- rules ---------------------------------------------------------------------------------

    @property
    def is_public(self) -> bool:
        return self.status is ArticleStatus.PUBLISHED

    @property
    def slug_is_fixed(self) -> bool:
        """Once an article has been public, its slug follows the title no more."""
        return self.published_at is not None

    def publish(self, now: datetime) -> None:
        if self.status is ArticleStatus.PUBLISHED:
            raise InvalidTransition("The article is already published.")
        self.status = ArticleStatus.PUBLISHED
        self.scheduled_at = None
        # The first publication time is what readers see; republishing keeps it.
        if self.published_at is None:
            self.published_at = now
        self._touch(now)

    def schedule(self, at: datetime, now: datetime) -> None:
        if at <= now:
            raise ScheduleInPast("The scheduled time must be in the future.")
        if self.status is ArticleStatus.PUBLISHED:
            raise InvalidTransition("The article is already published; unpublish it first.")
        self.status = ArticleStatus.SCHEDULED
        self.scheduled_at = at
        self._touch(now)

    def unpublish(self, now: datetime) -> bool:
        """Take the article off the site (or cancel its schedule). True if it was public."""
        was_public = self.is_public
        if self.status is ArticleStatus.PUBLISHED:
            self.status = ArticleStatus.UNPUBLISHED
        elif self.status is ArticleStatus.SCHEDULED:
            self.status = (
                ArticleStatus.UNPUBLISHED if self.published_at is not None else ArticleStatus.DRAFT
            )
            self.scheduled_at = None
        else:
            raise InvalidTransition(f"A {self.status.value} article cannot be unpublished.")
        self._touch(now)
        return was_public

    def ensure_deletable(self) -> None:
        if self.status is not ArticleStatus.DRAFT:
            raise NotDeletable("Only drafts can be deleted; unpublish this article instead.")

    def edit(
        self,
        changes: ArticleChanges,
        now: datetime,
        *,
        section: Section | None = None,
        slug: str | None = None,
    ) -> bool:
        """Apply an editor's changes; True (and a new revision) when anything changed."""
        before = self.snapshot()
        if changes.title is not None:
            self.title = changes.title
        if changes.summary is not None:
            self.summary = changes.summary
        if changes.body is not None and changes.body != self.body:
            self.body = changes.body
            self.body_html = render_markdown(changes.body)
        if section is not None:
            self.section = section
        if changes.tags is not None:
            self.tags = normalize_tags(changes.tags)
        if changes.authors is not None:
            self.authors = list(changes.authors)
        if changes.clear_hero_image:
            self.hero_image_url = None
            self.hero_image_alt = None
        else:
            if changes.hero_image_url is not None:
                self.hero_image_url = changes.hero_image_url
            if changes.hero_image_alt is not None:
                self.hero_image_alt = changes.hero_image_alt
            if changes.hero_image_url is not None or changes.hero_image_alt is not None:
                # Only a change to the image is held to the rule: an article stored before it
                # (an image without alt text) can still have its title fixed.
                self.check_hero_image()
        if changes.comments_open is not None:
            self.comments_open = changes.comments_open
        if slug is not None:
            self.change_slug(slug)
        if self.snapshot() == before:
            return False
        self._touch(now)
        return True

    def check_hero_image(self) -> None:
        """A hero image needs its alt text: readers who cannot see the image are told what it
        shows (WCAG 1.1.1), and an empty ``alt`` would tell them the picture says nothing."""
        if self.hero_image_url and not self.hero_image_alt:
            raise InvalidField(
                "hero_image_alt",
                "Describe the hero image for readers who cannot see it.",
                "hero_image_alt_required",
            )

    def change_slug(self, new_slug: str) -> str | None:
        """Move to ``new_slug``; returns the old slug when readers may still know it."""
        if new_slug == self.slug:
            return None
        old = self.slug
        self.slug = new_slug
        if new_slug in self.previous_slugs:
            self.previous_slugs.remove(new_slug)
        if self.slug_is_fixed:
            self.previous_slugs.append(old)
            return old
        return None

    def restore(self, content: ImportedContent, section: Section, slug: str | None) -> bool:
        """Become what an import says the article is, its dates and status included (history is
        not "now"); True (and a new revision) when anything changed."""
        before = (self.snapshot(), self.status, self.published_at, self.scheduled_at)
        before_dates = (self.created_at, self.updated_at)
        self.title = content.title
        self.summary = content.summary
        if content.body != self.body:
            self.body = content.body
            self.body_html = render_markdown(content.body)
        self.section = section
        self.tags = normalize_tags(content.tags)
        self.authors = list(content.authors)
        self.comments_open = content.comments_open
        self.status = content.status
        self.published_at = content.published_at
        self.scheduled_at = content.scheduled_at
        if slug is not None:
            self.change_slug(slug)
        if (self.snapshot(), self.status, self.published_at, self.scheduled_at) == before and (
            content.created_at,
            content.updated_at,
        ) == before_dates:
            return False
        self.created_at = content.created_at
        self.updated_at = content.updated_at
        self.revision += 1
        return True

    def follow_section_rename(self, section: Section, now: datetime) -> bool:
        """Carry the section's new name. The content is unchanged, but a new revision keeps the
        ``article.updated`` it causes ordered after earlier ones for every consumer."""
        if section.slug != self.section.slug or section.name == self.section.name:
            return False
        self.section = section
        self._touch(now)
        return True

    def _touch(self, now: datetime) -> None:
        self.updated_at = now
        self.revision += 1

    def snapshot(self) -> dict[str, Any]:
        """The editable content of this revision (what the revision history keeps)."""
        return {
            "slug": self.slug,
            "title": self.title,
            "summary": self.summary,
            "body": self.body,
            "section": self.section.slug,
            "tags": list(self.tags),
            "authors": list(self.authors),
            "hero_image_url": self.hero_image_url,
            "hero_image_alt": self.hero_image_alt,
            "comments_open": self.comments_open,
        }

    # -- events --------------------------------------------------------------------------------

    def event_data(self) -> ArticleData:
        return ArticleData(
            article_id=self.id,
            slug=self.slug,
            previous_slugs=list(self.previous_slugs),
            title=self.title,
            summary=self.summary,
            section=self.section.ref(),
            tags=list(self.tags),
            authors=list(self.authors),
            url_path=url_path(self.slug),
            comments_open=self.comments_open,
            published_at=self.published_at,
            revision=self.revision,
        )

    def state_data(self) -> ArticleStateData:
        return ArticleStateData(**dict(self.event_data()), public=self.is_public)

    def gone_ref(self, revision: int) -> ArticleRevisionRef:
        """The article as an unpublication or a deletion names it, at that change's revision."""
        return ArticleRevisionRef(
            article_id=self.id, slug=self.slug, url_path=url_path(self.slug), revision=revision
        )

    def copy(self) -> Article:
        return replace(
            self,
            tags=list(self.tags),
            authors=list(self.authors),
            previous_slugs=list(self.previous_slugs),
        )


@dataclass(frozen=True)
class Revision:
    article_id: str
    revision: int
    reason: str
    editor: str
    created_at: datetime
    status: ArticleStatus
    content: dict[str, Any]


def revision_of(article: Article, *, reason: str, editor: str) -> Revision:
    return Revision(
        article_id=article.id,
        revision=article.revision,
        reason=reason,
        editor=editor,
        created_at=article.updated_at,
        status=article.status,
        content=article.snapshot(),
    )


# -- editors -------------------------------------------------------------------------------------


@dataclass
class Editor:
    id: str
    email: str
    name: str
    role: Role
    password_hash: str
    disabled: bool
    created_at: datetime
    # The last change that ended the account's earlier tokens (disabled, role, password).
    access_changed_at: datetime | None = None
    # The pending set-password link: the SHA-256 of its one-time token, and when it expires.
    password_link_hash: str | None = None
    password_link_expires_at: datetime | None = None


# -- the audit log -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    """One staff action as the service that owns it recorded it; ``id`` is the event's id."""

    id: str
    source: str
    actor_id: str | None
    actor_name: str
    actor_role: Role | None
    action: str
    target: str
    details: dict[str, str]
    client: str
    at: datetime


@dataclass(frozen=True)
class AuditFilter:
    """Which entries an admin asks for: ``since <= at < until``; None fields do not filter."""

    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
