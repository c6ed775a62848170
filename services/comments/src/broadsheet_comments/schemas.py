"""Request and response bodies of the comments API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from broadsheet_comments.domain import MAX_AUTHOR_NAME, MAX_BODY, Status
from broadsheet_comments.rendering import clean_text, plain_name
from broadsheet_shared.addresses import Email
from broadsheet_shared.identifiers import OBJECT_ID_PATTERN


def _blank_to_none(value: Any) -> Any:
    # HTML forms send empty strings for fields left empty.
    if isinstance(value, str) and not value.strip():
        return None
    return value


# What a form sends for a field left empty: the same as leaving it out (_blank_to_none).
Blank = Annotated[str, Field(pattern=r"^\s*$")]


def _visible_body(value: str) -> str:
    body = clean_text(value).strip()
    if not body:
        raise ValueError("body must contain visible text")
    return body


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", str_max_length=20_000)

    author_name: str = Field(min_length=1, max_length=MAX_AUTHOR_NAME)
    author_email: Email | Blank | None = Field(
        default=None, description="Never shown; needed for reply notifications."
    )
    body: str = Field(min_length=1, max_length=MAX_BODY, description="A Markdown subset.")
    parent_id: Annotated[str, Field(pattern=OBJECT_ID_PATTERN)] | Blank | None = None
    notify_replies: bool = False
    website: str | None = Field(
        default=None, max_length=500, description="Honeypot: people leave it empty."
    )

    @field_validator("author_email", "parent_id", "website", mode="before")
    @classmethod
    def _empty_is_missing(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("author_name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        name = plain_name(value)
        if not name:
            raise ValueError("author_name must contain visible text")
        return name

    @field_validator("body")
    @classmethod
    def _body_text(cls, value: str) -> str:
        return _visible_body(value)

    @model_validator(mode="after")
    def _email_for_notifications(self) -> CommentCreate:
        if self.notify_replies and self.author_email is None:
            raise ValueError("author_email is required when notify_replies is true")
        return self


class CommentExport(BaseModel):
    """One comment as its author downloads it: everything stored about it."""

    id: str
    article_title: str
    article_url_path: str
    parent_id: str | None
    author_name: str
    author_email: str | None
    body: str
    status: Status
    created_at: datetime
    edited_at: datetime | None
    client: str | None
    notify_replies: bool


class CommentsExport(BaseModel):
    comments: list[CommentExport]


class CommentEdit(BaseModel):
    model_config = ConfigDict(extra="ignore")

    body: str = Field(min_length=1, max_length=MAX_BODY)

    @field_validator("body")
    @classmethod
    def _body_text(cls, value: str) -> str:
        return _visible_body(value)


class PostedComment(BaseModel):
    id: str
    status: Literal["approved", "pending"]
    created_at: datetime
    edit_token: str
    edit_token_expires_at: datetime


class CommentOut(BaseModel):
    id: str
    parent_id: str | None
    root_id: str = Field(description="The top-level comment of this comment's thread.")
    depth: Annotated[int, Field(ge=0, le=4, description="Display depth, capped at 5 levels.")]
    author_name: str
    body_html: str
    created_at: datetime
    edited: bool
    reply_count: int
    in_reply_to: str | None = Field(
        description="The parent's author when the reader cannot see the parent above this "
        "comment: the depth was capped, or the parent is on the previous page."
    )
    wordpress_id: int | None = Field(
        default=None,
        description="Imported comments: the id on the old WordPress site (its #comment-ID).",
    )
    avatar: str = Field(
        description="The seed of the author's generated avatar: a keyed digest of their "
        "address (HMAC under the service's avatar key, 16 hex digits), never the address or "
        "a plain hash of it."
    )
    votes: int = Field(default=0, ge=0, description="Readers' votes for the comment.")


class VoteCreate(BaseModel):
    """A reader's vote: one per comment for their client address, their ``voter`` cookie and
    (where given) their email address."""

    model_config = ConfigDict(extra="forbid")

    voter: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{16,64}$",
        description="The reader site's opaque voter cookie.",
    )
    email: Email | None = None


class VoteOut(BaseModel):
    votes: int = Field(ge=0, description="The comment's votes now.")
    counted: bool = Field(description="False when this reader had already voted for it.")


class LocatedCommentOut(CommentOut):
    body_markdown: str = Field(description="The text as its author wrote it (to edit it).")
    cpage: str | None = Field(
        description="The cursor of a thread page of `limit` comments that holds the comment "
        "(the reader site's `?cpage=`, the API's `cursor`); null for the first page."
    )


class ArticleOut(BaseModel):
    id: str
    slug: str
    title: str
    url_path: str
    comments_open: bool


class ThreadOut(BaseModel):
    article: ArticleOut
    total: int
    items: list[CommentOut]
    next_cursor: str | None


class CountOut(BaseModel):
    article_slug: str
    count: int


class WordPressCommentOut(BaseModel):
    id: str = Field(
        description="The comment's id: its anchor on the article page is #comment-{id}."
    )
    cpage: str | None = Field(
        description="The cursor of a thread page that begins with the comment (the reader "
        "site's `?cpage=`, the API's `cursor`); null when it is the thread's first comment."
    )


class CountsOut(BaseModel):
    counts: dict[str, int]


class RecentArticle(BaseModel):
    slug: str
    title: str
    url_path: str


class RecentComment(BaseModel):
    id: str
    article: RecentArticle
    author_name: str
    excerpt: str
    created_at: datetime
    url_path: str = Field(description="The comment's anchor on the article page.")


class RecentOut(BaseModel):
    items: list[RecentComment]


class StaffComment(BaseModel):
    id: str
    article_id: str
    parent_id: str | None
    author_name: str
    author_email: str | None
    client: str
    status: Status
    body_markdown: str
    body_html: str
    created_at: datetime
    edited: bool
    moderation_reasons: list[str]


class QueueArticle(BaseModel):
    title: str
    slug: str
    url_path: str


class QueueParent(BaseModel):
    id: str
    author_name: str
    excerpt: str


class QueueComment(StaffComment):
    article: QueueArticle | None = Field(
        description="The article as this service last heard of it; null before its event."
    )
    parent: QueueParent | None = Field(description="The comment this one answers, if a reply.")


QueueOrder = Literal["newest", "oldest"]


class StatusCountOut(BaseModel):
    status: Status
    count: int


class QueueOut(BaseModel):
    items: list[QueueComment]
    next_cursor: str | None


class BulkModeration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[str, Field(pattern=OBJECT_ID_PATTERN)]] = Field(
        min_length=1, max_length=100
    )
    action: Literal["approve", "reject", "spam", "delete"]


class BulkOutcome(BaseModel):
    id: str
    status: Status | None = Field(description="The comment's status now; null when refused.")
    refused: str | None = Field(description="Why this comment was not changed, if it was not.")


class BulkModerationOut(BaseModel):
    items: list[BulkOutcome]


class BanCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: Literal["email", "client"]
    value: str = Field(min_length=1, max_length=320, description="An email or client address.")
    # A JSON integer only (lax mode would take "60" or 60.0, which the schema refuses).
    duration_minutes: StrictInt = Field(default=24 * 60, ge=1, le=366 * 24 * 60)
    reason: str = Field(default="", max_length=500)


class BanOut(BaseModel):
    id: str
    kind: Literal["email", "client"]
    value: str = Field(description="The client address, or the hash of the banned email.")
    until: datetime
    reason: str


class BansOut(BaseModel):
    items: list[BanOut]
