"""The comments domain: articles as this service sees them, comments, threads and moderation.

Pure rules, no I/O. Statuses: ``approved`` (public, counted, notified), ``pending`` (held for a
moderator), ``spam`` and ``rejected`` (never shown), ``deleted`` (removed by its author or staff).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from bson import ObjectId

Status = Literal["approved", "pending", "spam", "rejected", "deleted"]
PUBLIC_STATUSES: tuple[Status, ...] = ("approved",)
# A reply may answer a comment the replier can see, or their own comment still held for review.
REPLYABLE_STATUSES: tuple[Status, ...] = ("approved", "pending")
Sort = Literal["oldest", "newest"]

MAX_AUTHOR_NAME = 80
MAX_BODY = 5000
EXCERPT_CHARS = 200
# WordPress' default "thread_comments_depth": five levels shown, deeper replies flattened.
MAX_DISPLAY_DEPTH = 4


class CommentsError(Exception):
    """A domain rule refused the command; the service maps it to a problem status."""


class BannedContent(CommentsError):
    pass


class InvalidTransition(CommentsError):
    pass


def utcnow() -> datetime:
    # BSON datetimes keep milliseconds: truncating here keeps fakes and Mongo in agreement.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


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
    comment_count: int = 0
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
    notify_replies: bool = False
    edited_at: datetime | None = None
    approved_at: datetime | None = None
    reply_count: int = 0
    parent_author_name: str | None = None
    moderation_reasons: tuple[str, ...] = ()
    # Display number of the thread this comment belongs to: a top-level comment gets the next
    # number of its article when posted, a reply carries its root's.
    root_seq: int | None = None
    # The materialized sort path (see thread_path): sorting by it gives thread order, oldest
    # first; path_newest puts the newest top-level comment first (replies still oldest first).
    path: str | None = None
    path_newest: str | None = None
    # How many ancestors are not approved: a comment is public only when it is approved and
    # nothing above it is hidden (a rejected comment takes its replies out of the thread).
    hidden_by: int = 0

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


def normalize_email(email: str) -> str:
    return email.strip().lower()


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


# --- threads ----------------------------------------------------------------------------------

# A path is fixed-width base-36 components: the root's display number, then one child
# sequence number per level. Fixed widths make string order equal thread order (depth first,
# oldest first) and make a subtree one prefix range: [path, path + SUBTREE_END).
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
ROOT_WIDTH = 7  # 36**7 - 1 ≈ 78 billion top-level comments per article
CHILD_WIDTH = 5  # 36**5 - 1 ≈ 60 million replies to one comment
ROOT_MAX = 36**ROOT_WIDTH - 1
CHILD_MAX = 36**CHILD_WIDTH - 1
SUBTREE_END = "~"  # sorts after every digit
_PATH = re.compile(r"^[0-9a-z]{7}(?:[0-9a-z]{5})*$")


def _base36(value: int, width: int) -> str:
    if not 0 <= value < 36**width:
        raise ValueError(f"{value} does not fit {width} base-36 digits")
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        digits.append(_DIGITS[digit])
    return "".join(reversed(digits))


def root_path(root_seq: int) -> str:
    return _base36(root_seq, ROOT_WIDTH)


def child_path(parent_path: str, child_seq: int) -> str:
    return parent_path + _base36(child_seq, CHILD_WIDTH)


def newest_path(path: str) -> str:
    """The same path with the root component inverted: newest top-level comment first."""
    return _base36(ROOT_MAX - int(path[:ROOT_WIDTH], 36), ROOT_WIDTH) + path[ROOT_WIDTH:]


def is_path(value: str) -> bool:
    return bool(_PATH.match(value))


def root_value(path: str) -> int:
    """The root component of a path (or of a newest path) as a number."""
    return int(path[:ROOT_WIDTH], 36)


def ancestor_prefixes(path: str) -> list[str]:
    """The paths of the ancestors and of the comment itself, deepest first."""
    prefixes = []
    end = len(path)
    while end >= ROOT_WIDTH:
        prefixes.append(path[:end])
        end -= CHILD_WIDTH
    return prefixes


def placed(comment: Comment, path: str, hidden_by: int) -> Comment:
    return replace(
        comment,
        root_seq=root_value(path),
        path=path,
        path_newest=newest_path(path),
        hidden_by=hidden_by,
    )
