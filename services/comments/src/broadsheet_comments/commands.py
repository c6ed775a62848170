"""What readers and staff ask the service to do; built by the routes from the request bodies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from broadsheet_comments.domain import BanKind, ModerationAction


@dataclass(frozen=True)
class PostComment:
    slug: str
    author_name: str
    author_email: str | None
    body: str
    parent_id: str | None
    notify_replies: bool
    # The honeypot field: people leave it empty, bots fill it in.
    website: str | None
    client: str
    # The client's retry key: the same key (per client and article) posts one comment.
    idempotency_key: str | None = None


@dataclass(frozen=True)
class EditComment:
    slug: str
    comment_id: str
    edit_token: str | None
    body: str


@dataclass(frozen=True)
class DeleteComment:
    slug: str
    comment_id: str
    edit_token: str | None


@dataclass(frozen=True)
class ModerateComment:
    comment_id: str
    action: ModerationAction


@dataclass(frozen=True)
class ModerateComments:
    """One action on several comments at once (the queue's "select several")."""

    comment_ids: tuple[str, ...]
    action: ModerationAction


@dataclass(frozen=True)
class BanAuthor:
    kind: BanKind
    value: str  # an email address or a client address
    duration: timedelta
    reason: str
    by: str  # the staff member's subject


@dataclass(frozen=True)
class LiftBan:
    ban_id: str


@dataclass(frozen=True)
class ImportComment:
    """A comment of another site's history (``broadsheet-import``), keyed by (source, WordPress
    id): staff bring it, so no rate limit, anti-spam, closed-comments or premoderation rule
    applies; its date and status are kept."""

    source: str
    wordpress_id: int
    article_id: str
    parent_id: str | None  # this service's id of the (already imported) parent
    author_name: str
    author_email: str | None
    body: str
    status: Literal["approved", "pending"]
    created_at: datetime
    fingerprint: str


@dataclass(frozen=True)
class VoteForComment:
    """A reader's vote for a public comment. The reader is known by their client address,
    the site's opaque ``voter`` cookie and, where they give one, their email address: one vote
    per comment for each of them."""

    slug: str
    comment_id: str
    client: str
    voter: str | None = None
    email: str | None = None
