"""What editors and admins ask the service to do; built by the routes from the request bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from broadsheet_articles.domain import ArticleChanges
from broadsheet_shared.auth import Role


@dataclass(frozen=True)
class CreateArticle:
    title: str
    body: str
    section: str  # a section's slug or name
    summary: str = ""
    tags: list[str] = field(default_factory=list)
    authors: list[str] | None = None  # None: the editor's own name
    hero_image_url: str | None = None
    hero_image_alt: str | None = None
    comments_open: bool = True


@dataclass(frozen=True)
class EditArticle:
    """An editor's PATCH of the article as read at ``expected_revision`` (None: whatever it is
    now); ``None`` fields stay as they are."""

    article_id: str
    expected_revision: int | None
    changes: ArticleChanges = field(default_factory=ArticleChanges)
    section: str | None = None  # a section's slug or name
    slug: str | None = None


@dataclass(frozen=True)
class PublishArticle:
    article_id: str
    at: datetime | None = None  # a future time schedules; None or a past time publishes now


@dataclass(frozen=True)
class CreateSection:
    name: str
    slug: str | None = None  # None: derived from the name


@dataclass(frozen=True)
class RenameSection:
    slug: str
    name: str


@dataclass(frozen=True)
class ReorderSections:
    """Every section's slug, in the order readers' navigation shows them."""

    slugs: list[str]


@dataclass(frozen=True)
class LogIn:
    username: str  # the editor's email address
    password: str
    client: str  # the client's address, counted against its own limit


@dataclass(frozen=True)
class CreateEditor:
    email: str
    name: str
    password: str | None  # None: the person sets it through a link mailed to them
    role: Role = "editor"


@dataclass(frozen=True)
class SetPassword:
    """The owner of a set-password link chooses their password."""

    token: str
    password: str
    client: str


@dataclass(frozen=True)
class UpdateEditor:
    """An admin's change to an account; ``None`` fields stay as they are."""

    editor_id: str
    name: str | None = None
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = None
