"""API request and response models."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
)

from broadsheet_articles.domain import ArticleStatus
from broadsheet_shared.auth import Role
from broadsheet_shared.http.html import FORBIDDEN_IN_HTML
from broadsheet_shared.identifiers import SLUG_MAX_LENGTH, SLUG_PATTERN
from broadsheet_shared.timestamps import Timestamp

MAX_TITLE = 300
MAX_SUMMARY = 1000
MAX_BODY = 200_000

# What a page cannot carry (controls but tab and newlines, noncharacters: the reader site drops
# them, so a stored name would not match its page), form feed, which XML (the feeds) forbids too,
# and lone surrogates, which cannot be stored as UTF-8.
_UNPRINTABLE_CHARS = FORBIDDEN_IN_HTML + r"\x0c"
_UNPRINTABLE = re.compile(f"[{_UNPRINTABLE_CHARS}\ud800-\udfff]")
# The same rules as patterns in the schema, so that a schema-valid text is never refused (the
# validators decide). Lone surrogates are left out of the patterns: they are no characters
# (I-JSON, RFC 7493, forbids them) and JSON Schema validators' regex engines cannot name them.
_TEXT_PATTERN = f"^[^{_UNPRINTABLE_CHARS}]*$"
_LINE_PATTERN = f"^[^{_UNPRINTABLE_CHARS}]*[^\\s{_UNPRINTABLE_CHARS}][^{_UNPRINTABLE_CHARS}]*$"


def _printable(value: str) -> str:
    if _UNPRINTABLE.search(value):
        raise ValueError("must not contain control characters or noncharacters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Text = Annotated[
    str, AfterValidator(_printable), Field(json_schema_extra={"pattern": _TEXT_PATTERN})
]
Line = Annotated[
    str,
    AfterValidator(_printable),
    AfterValidator(_not_blank),
    Field(json_schema_extra={"pattern": _LINE_PATTERN}),
]
Title = Annotated[Line, Field(min_length=1, max_length=MAX_TITLE)]
Body = Annotated[Text, Field(min_length=1, max_length=MAX_BODY)]
Summary = Annotated[Text, Field(max_length=MAX_SUMMARY)]
SectionName = Annotated[Line, Field(min_length=1, max_length=100)]
Tag = Annotated[Line, Field(min_length=1, max_length=50)]
AuthorName = Annotated[Line, Field(min_length=1, max_length=100)]
Slug = Annotated[str, Field(min_length=1, max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN)]
HeroUrl = Annotated[AnyHttpUrl, Field(max_length=2000)]
HeroAlt = Annotated[
    Line,
    Field(
        max_length=300,
        description="What the hero image shows, for readers who cannot see it; required "
        "with a hero image.",
    ),
]
Password = Annotated[Text, Field(min_length=12, max_length=256)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# JSON booleans only: pydantic's lax mode would take 0, "yes" or "off", which the schema refuses.
Flag = StrictBool


# -- requests ----------------------------------------------------------------------------------


class ArticleCreate(Strict):
    title: Title
    body: Body
    section: SectionName
    summary: Summary = ""
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    authors: list[AuthorName] | None = Field(default=None, max_length=10)
    hero_image_url: HeroUrl | None = None
    hero_image_alt: HeroAlt | None = None
    comments_open: Flag = True


class ArticleUpdate(Strict):
    """Only the fields present change; ``hero_image_url: null`` removes the image and its alt
    text."""

    title: Title | None = None
    body: Body | None = None
    section: SectionName | None = None
    summary: Summary | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)
    authors: list[AuthorName] | None = Field(default=None, max_length=10)
    hero_image_url: HeroUrl | None = None
    hero_image_alt: HeroAlt | None = None
    comments_open: Flag | None = None
    slug: Slug | None = None


class PublishRequest(Strict):
    at: Timestamp | None = Field(
        default=None, description="Schedule for this time; omitted or past means now."
    )


class SectionCreate(Strict):
    name: SectionName
    slug: Slug | None = None


class SectionUpdate(Strict):
    name: SectionName


class SectionOrder(Strict):
    slugs: list[Slug] = Field(
        min_length=1, max_length=200, description="Every section's slug, once, in the new order"
    )


class RefreshRequest(Strict):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class EditorCreate(Strict):
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    name: AuthorName
    password: Password | None = Field(
        default=None,
        description="Omitted: the person is mailed a one-time link to set their own password",
    )
    role: Role = "editor"


class PasswordSet(Strict):
    token: Annotated[str, Field(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
    password: Password


class EditorUpdate(Strict):
    name: AuthorName | None = None
    role: Role | None = None
    disabled: Flag | None = None
    password: Password | None = None


# -- responses ---------------------------------------------------------------------------------


class SectionOut(BaseModel):
    slug: str
    name: str


class SectionsOut(BaseModel):
    items: list[SectionOut]


class ArticleSummaryOut(BaseModel):
    id: str
    slug: str
    title: str
    summary: str
    section: SectionOut
    tags: list[str]
    authors: list[str]
    author_slugs: list[str] = Field(
        description="Each author's page: /authors/{slug} (in the order of authors)"
    )
    hero_image_url: str | None
    hero_image_alt: str | None = None
    published_at: datetime | None
    url_path: str


class ArticlePublicOut(ArticleSummaryOut):
    body_html: str
    updated_at: datetime
    revision: int
    comments_open: bool


class ArticleListOut(BaseModel):
    items: list[ArticleSummaryOut]
    next_cursor: str | None


class StaffArticleOut(ArticlePublicOut):
    body: str
    status: ArticleStatus
    created_at: datetime
    scheduled_at: datetime | None
    previous_slugs: list[str]


class StaffArticleListOut(BaseModel):
    items: list[StaffArticleOut]
    total: int
    offset: int
    limit: int


class RevisionOut(BaseModel):
    revision: int
    reason: str
    editor: str
    created_at: datetime
    status: ArticleStatus
    title: str
    slug: str
    summary: str
    body: str
    section: str
    tags: list[str]
    authors: list[str]
    hero_image_url: str | None
    hero_image_alt: str | None = None
    comments_open: bool


class RevisionsOut(BaseModel):
    items: list[RevisionOut]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int
    refresh_token: str


class EditorOut(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    disabled: bool
    created_at: datetime


class EditorsOut(BaseModel):
    items: list[EditorOut]


class AuditEntryOut(BaseModel):
    """One staff action: who (actor), what (action, target, details), when (at), from where
    (client, as the recording service saw it). A failed sign-in has no actor id or role."""

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


class AuditOut(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
