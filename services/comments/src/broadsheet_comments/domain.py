"""The comments domain: articles as this service sees them, comments and moderation.

Pure rules, no I/O (thread order lives in :mod:`broadsheet_comments.threads`). Statuses:
``approved`` (public, counted, notified), ``pending`` (held for a moderator), ``spam`` and
``rejected`` (never shown), ``deleted`` (removed by its author or staff).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from bson import ObjectId

from broadsheet_comments.threads import newest_path, root_value

Status = Literal["approved", "pending", "spam", "rejected", "deleted"]
PUBLIC_STATUSES: tuple[Status, ...] = ("approved",)
# A reply may answer a comment the replier can see, or their own comment still held for review.
REPLYABLE_STATUSES: tuple[Status, ...] = ("approved", "pending")

MAX_AUTHOR_NAME = 80
MAX_BODY = 5000
EXCERPT_CHARS = 200
# WordPress' default "thread_comments_depth": five levels shown, deeper replies flattened.
MAX_DISPLAY_DEPTH = 4


BanKind = Literal["email", "client"]


@dataclass(frozen=True)
class Ban:
    """Staff barred an email address or a client from commenting until ``until``."""

    kind: BanKind
    value: str  # the email hash for email bans, the client address for client bans
    until: datetime
    reason: str
    created_by: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.value}"


class BannedContent(Exception):
    """The text holds a banned word: the comment is refused, not held."""


class InvalidTransition(Exception):
    """The moderation action cannot apply to the comment's current status."""


def new_comment_id() -> str:
    # ObjectIds grow with time, so ties on created_at still sort in posting order.
    return str(ObjectId())


@dataclass(frozen=True)
class Article:
    """The projection of an article, built only from article events."""

    article_id: str
    slug: str
    title: str
    url_path: str
    section_slug: str
    comments_open: bool
    published: bool
    revision: int
    previous_slugs: tuple[str, ...] = ()
    # The last display sequence number handed to a top-level comment (see Comment.root_seq).
    root_seq: int = 0

    @property
    def accepts_comments(self) -> bool:
        return self.published and self.comments_open


@dataclass(frozen=True)
class Comment:
    id: str
    article_id: str
    parent_id: str | None
    root_id: str
    depth: int  # the real depth in the tree; 0 for a top-level comment
    author_name: str
    author_email: str | None
    author_email_hash: str | None
    body_markdown: str
    body_html: str
    body_hash: str
    status: Status
    created_at: datetime
    client: str
    # The materialized sort path (see threads): sorting by it gives thread order, oldest first.
    path: str
    notify_replies: bool = False
    edited_at: datetime | None = None
    approved_at: datetime | None = None
    reply_count: int = 0
    parent_author_name: str | None = None
    moderation_reasons: tuple[str, ...] = ()
    # How many ancestors are not approved: a comment is public only when it is approved and
    # nothing above it is hidden (a rejected comment takes its replies out of the thread).
    hidden_by: int = 0
    # The comment's id on the WordPress site it was imported from: its old #comment-ID anchor.
    wordpress_id: int | None = None
    # Readers' votes (one per reader: votes are counted by $inc only, gone when it is deleted).
    votes: int = 0

    @property
    def root_seq(self) -> int:
        """Display number of the thread: its top-level comment's number on the article."""
        return root_value(self.path)

    @property
    def path_newest(self) -> str:
        """The sort key of ``sort=newest``: newest top-level comment first, replies in order."""
        return newest_path(self.path)

    @property
    def sort_key(self) -> str:
        """Orders top-level comments by time; the id breaks ties and makes the key unique."""
        return f"{int(self.created_at.timestamp() * 1000):014d}:{self.id}"

    @property
    def display_depth(self) -> int:
        return min(self.depth, MAX_DISPLAY_DEPTH)

    @property
    def in_reply_to(self) -> str | None:
        """The parent's name where the display depth hides who is being answered."""
        return self.parent_author_name if self.depth > MAX_DISPLAY_DEPTH else None

    @property
    def is_public(self) -> bool:
        """Shown and counted: approved, under no hidden ancestor."""
        return self.status in PUBLIC_STATUSES and self.hidden_by == 0

    @property
    def hides_replies(self) -> bool:
        return self.status not in PUBLIC_STATUSES

    @property
    def reply_hidden_by(self) -> int:
        """``hidden_by`` of a reply to this comment: its own, plus one if this one is hidden."""
        return self.hidden_by + (1 if self.hides_replies else 0)

    @property
    def excerpt(self) -> str:
        return excerpt(self.body_markdown)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rstrip() + "…"


def body_fingerprint(body: str) -> str:
    """Equal for bodies that differ only in case and whitespace (duplicate detection)."""
    normal = " ".join(unicodedata.normalize("NFKC", body).casefold().split())
    return hashlib.sha256(normal.encode()).hexdigest()


# --- moderation -----------------------------------------------------------------------------

_MARKDOWN_LINK = re.compile(r"\]\([^)]*\)")
_BARE_LINK = re.compile(r"(?i)\b(?:https?://|ftp://|www\.)|<a\s")
_WORD = re.compile(r"\w+", re.UNICODE)


def count_links(text: str) -> int:
    """Markdown links plus bare URLs (and raw anchors, which spammers paste anyway)."""
    markdown_links = len(_MARKDOWN_LINK.findall(text))
    return markdown_links + len(_BARE_LINK.findall(_MARKDOWN_LINK.sub("]", text)))


def _words(text: str) -> set[str]:
    return {word.casefold() for word in _WORD.findall(text)}


def _contains_any(text: str, words: Iterable[str]) -> str | None:
    found = _words(text)
    lowered = text.casefold()
    for word in words:
        needle = word.casefold().strip()
        if not needle:
            continue
        # Single words match whole words ("ass" is not in "class"); phrases match as text.
        if (" " in needle and needle in lowered) or needle in found:
            return word
    return None


@dataclass(frozen=True)
class Signals:
    """Facts about a new comment that only the database knows."""

    duplicate: bool = False
    first_time: bool = False
    honeypot: bool = False


def first_time_signal(email_hash: str | None, has_approved_history: bool) -> bool:
    """Whether ``premoderate_first_time`` treats the comment as a first comment.

    A comment without an email is always first-time: there is no address whose approved
    history could vouch for it, so while the policy is on it is held for review.
    """
    return email_hash is None or not has_approved_history


@dataclass(frozen=True)
class Verdict:
    status: Status
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModerationPolicy:
    """Approve by default; hold when a signal fires; refuse banned words outright."""

    max_links: int = 2
    suspect_words: tuple[str, ...] = ()
    banned_words: tuple[str, ...] = ()
    premoderate_first_time: bool = False

    def check_banned(self, *texts: str) -> None:
        for text in texts:
            word = _contains_any(text, self.banned_words)
            if word is not None:
                raise BannedContent("The comment contains a word that is not allowed.")

    def hold_reasons(self, author_name: str, body: str) -> tuple[str, ...]:
        reasons: list[str] = []
        if count_links(body) > self.max_links:
            reasons.append("links")
        if _contains_any(f"{author_name}\n{body}", self.suspect_words) is not None:
            reasons.append("suspect_word")
        return tuple(reasons)

    def judge(self, author_name: str, body: str, signals: Signals) -> Verdict:
        # A bot that filled the honeypot learns nothing: no 4xx, just silence.
        if signals.honeypot:
            return Verdict("spam", ("honeypot",))
        self.check_banned(author_name, body)
        reasons = list(self.hold_reasons(author_name, body))
        if signals.duplicate:
            reasons.append("duplicate")
        if signals.first_time and self.premoderate_first_time:
            reasons.append("first_time")
        return Verdict("pending" if reasons else "approved", tuple(reasons))


# --- state changes ----------------------------------------------------------------------------

ModerationAction = Literal["approve", "reject", "spam", "delete"]

_TARGET: dict[ModerationAction, Status] = {
    "approve": "approved",
    "reject": "rejected",
    "spam": "spam",
    "delete": "deleted",
}


def moderate(comment: Comment, action: ModerationAction, now: datetime) -> Comment:
    """The comment after ``action``; the same comment when the action changes nothing."""
    target = _TARGET[action]
    if comment.status == "deleted":
        if action == "delete":
            return comment
        raise InvalidTransition("The comment was deleted.")
    if comment.status == target:
        return comment
    changed = replace(comment, status=target)
    if target == "approved":
        changed = replace(changed, approved_at=now)
    if target == "deleted":
        # A deleted comment keeps nothing personal.
        changed = replace(changed, author_email=None, notify_replies=False)
    return changed
