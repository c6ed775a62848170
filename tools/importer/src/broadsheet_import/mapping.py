"""WordPress items → what Broadsheet should hold: pure functions, no I/O, one post at a time.

The rules (docs/import.md explains each choice):

- Only ``post`` items become articles; pages, attachments, menu items, reusable blocks,
  navigation and every other type are counted and skipped. Attachments' URLs need no mapping:
  content that points at an image keeps its URL.
- Status: ``publish`` → published at its original date, ``future`` → scheduled (a date already
  passed → draft, reported: WordPress had not published it either), ``draft``/``pending`` →
  draft, ``private``/``trash`` (and ``auto-draft``, ``inherit``…) → skipped. A password-protected
  post is imported as a draft and reported: Broadsheet has no passwords on articles.
- Dates are GMT; when WordPress wrote ``0000-00-00 00:00:00`` (drafts) or nothing (old
  exporters), the local date is taken as UTC, since an export does not carry the site's zone.
- Slug: ``post_name`` (percent-decoded, then made a Broadsheet slug), else derived from the title.
- Authors become bylines (the display name from ``<wp:author>``, else the login): staff accounts
  are for people who sign in, and an archive's writers mostly never will.
- The first category is the section (WordPress's ``Uncategorized`` when there is none); the other
  categories and the tags become tags.
- Comments: approved → approved, ``0`` → pending (the moderation queue), spam and trash skipped,
  pingbacks, trackbacks and other types skipped. Threads are kept at any depth; a reply whose
  parent is not imported hangs from the nearest imported ancestor (or the article).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import unquote

from slugify import slugify

from broadsheet_import.content import html_to_markdown, html_to_text
from broadsheet_import.wxr import WxrAuthor, WxrCategory, WxrComment, WxrItem, WxrTag

DEFAULT_SECTION = "Uncategorized"  # WordPress's own default category
# The articles service's limits (broadsheet_articles.schemas, domain).
MAX_TITLE = 300
MAX_SUMMARY = 1000
MAX_BODY = 200_000
MAX_TAGS = 20
MAX_TAG = 50
MAX_AUTHOR = 100
SLUG_MAX_LENGTH = 120
# The comments service's author name limit.
MAX_COMMENT_AUTHOR = 80

ArticleStatus = Literal["draft", "scheduled", "published"]
CommentStatus = Literal["approved", "pending"]


@dataclass(frozen=True)
class SectionRef:
    """A WordPress category used as a section: its name, and its nicename for old links."""

    name: str
    wordpress_slug: str


@dataclass(frozen=True)
class ArticleDraft:
    """One post as the article to create or update, keyed by its WordPress id."""

    wordpress_id: int
    title: str
    slug: str
    summary: str
    body: str
    section: SectionRef
    tags: tuple[str, ...]
    authors: tuple[str, ...]
    status: ArticleStatus
    published_at: datetime | None
    scheduled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    comments_open: bool
    wordpress_link: str
    wordpress_post_name: str

    def fingerprint(self) -> str:
        """A digest of every field: equal digests mean a re-run has nothing to change."""
        return _digest(asdict(self))


@dataclass(frozen=True)
class CommentDraft:
    """One comment, keyed by its WordPress id; ``parent_wordpress_id`` is already re-homed."""

    wordpress_id: int
    parent_wordpress_id: int | None
    author_name: str
    author_email: str
    author_url: str
    created_at: datetime
    body: str
    status: CommentStatus

    def fingerprint(self) -> str:
        return _digest(asdict(self))


@dataclass(frozen=True)
class PostPlan:
    """What to do with one item: an article (or a skip reason), its comments in import order
    (every parent before its replies), the comments skipped by reason, and what to report."""

    wordpress_id: int
    title: str
    article: ArticleDraft | None = None
    skipped: str | None = None
    failed: str | None = None
    reports: tuple[str, ...] = ()
    comments: tuple[CommentDraft, ...] = ()
    skipped_comments: Counter[str] = field(default_factory=Counter)
    failed_comments: tuple[tuple[int, str], ...] = ()


def _digest(value: object) -> str:
    encoded = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def parse_wordpress_date(text: str) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` as UTC; ``None`` for WordPress's zero date or anything unreadable."""
    text = text.strip()
    if not text or text.startswith("0000-00-00"):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def gmt_date(gmt: str, local: str) -> datetime | None:
    """The GMT date, else the local one taken as UTC (the export does not say the site's zone)."""
    return parse_wordpress_date(gmt) or parse_wordpress_date(local)


def make_slug(post_name: str, title: str, wordpress_id: int) -> str:
    """A Broadsheet slug (``[a-z0-9-]``, ≤ 120): from ``post_name`` (WordPress stores non-ASCII
    ones percent-encoded), else from the title, else ``post-<id>``."""
    for source in (unquote(post_name), title):
        slug = slugify(source, max_length=SLUG_MAX_LENGTH, word_boundary=True)
        if slug:
            return str(slug)
    return f"post-{wordpress_id}"


def normalize_tags(names: list[str]) -> list[str]:
    """Trimmed, lower-cased, each at most 50 characters, duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for name in names:
        cleaned = " ".join(name.split()).lower()[:MAX_TAG].strip()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class Planner:
    """Turns the stream's records into plans; it remembers the channel's authors and categories
    (WordPress writes them before the items) to name bylines and sections. Declared tags are not
    needed: an item's tag carries its name."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.authors: dict[str, WxrAuthor] = {}
        self.categories: dict[str, WxrCategory] = {}

    def remember(self, record: WxrAuthor | WxrCategory | WxrTag) -> None:
        if isinstance(record, WxrAuthor):
            self.authors[record.login] = record
        elif isinstance(record, WxrCategory):
            self.categories[record.nicename] = record

    def plan(self, item: WxrItem) -> PostPlan:
        """The plan for one item; a post that cannot be imported still accounts for its comments."""
        title = html_to_text(item.title)
        skipped = _skip_reason(item)
        if skipped is None and not item.post_id:
            return self._without_article(item, title, failed="no WordPress post id")
        if skipped is not None:
            return self._without_article(item, title, skipped=skipped)
        created = gmt_date(item.post_date_gmt, item.post_date)
        if created is None:
            return self._without_article(item, title, failed="no readable post date")
        reports: list[str] = []
        converted = html_to_markdown(item.content)
        reports += [f"shortcode [{name}]" for name in converted.shortcodes]
        reports += [f"removed unsafe {what}" for what in converted.dropped]
        if not converted.markdown:
            reports.append("no content")
        if len(converted.markdown) > MAX_BODY:
            return self._without_article(item, title, failed="content over 200,000 characters")
        if not title:
            reports.append("no title: named Untitled")
        elif len(title) > MAX_TITLE:
            reports.append("title shortened")
        status, published_at, scheduled_at = self._status(item, created, reports)
        section, tags = self._terms(item)
        if len(tags) > MAX_TAGS:
            reports.append(f"{len(tags) - MAX_TAGS} tags over the limit of {MAX_TAGS} left out")
        summary = html_to_text(item.excerpt)
        if len(summary) > MAX_SUMMARY:
            reports.append("excerpt shortened")
        article = ArticleDraft(
            wordpress_id=item.post_id,
            title=_truncate(title, MAX_TITLE) or "Untitled",
            slug=make_slug(item.post_name, title, item.post_id),
            summary=_truncate(summary, MAX_SUMMARY),
            body=converted.markdown,
            section=section,
            tags=tuple(tags[:MAX_TAGS]),
            authors=self._authors(item),
            status=status,
            published_at=published_at,
            scheduled_at=scheduled_at,
            created_at=created,
            updated_at=gmt_date(item.post_modified_gmt, item.post_modified) or created,
            comments_open=item.comment_status != "closed",
            wordpress_link=item.link,
            wordpress_post_name=unquote(item.post_name),
        )
        comments, skipped_comments, failed_comments = plan_comments(item.comments)
        return PostPlan(
            wordpress_id=item.post_id,
            title=article.title,
            article=article,
            reports=tuple(reports),
            comments=tuple(comments),
            skipped_comments=skipped_comments,
            failed_comments=tuple(failed_comments),
        )

    def _without_article(
        self, item: WxrItem, title: str, *, skipped: str | None = None, failed: str | None = None
    ) -> PostPlan:
        reason = "post not imported"
        if item.post_type != "post" and skipped:
            reason = f"on a {item.post_type}"
        return PostPlan(
            wordpress_id=item.post_id,
            title=title,
            skipped=skipped,
            failed=failed,
            skipped_comments=Counter({reason: len(item.comments)}) if item.comments else Counter(),
        )

    def _status(
        self, item: WxrItem, created: datetime, reports: list[str]
    ) -> tuple[ArticleStatus, datetime | None, datetime | None]:
        status: ArticleStatus = "draft"
        published_at = scheduled_at = None
        if item.status == "publish":
            status, published_at = "published", created
        elif item.status == "future":
            if created > self.now:
                status, scheduled_at = "scheduled", created
            else:
                reports.append("scheduled date already passed: imported as a draft")
        if item.post_password:
            if status != "draft":
                status, published_at, scheduled_at = "draft", None, None
            reports.append("password-protected: imported as a draft")
        return status, published_at, scheduled_at

    def _terms(self, item: WxrItem) -> tuple[SectionRef, list[str]]:
        categories = [t for t in item.terms if t.domain == "category"]
        section = SectionRef(name=DEFAULT_SECTION, wordpress_slug="uncategorized")
        if categories:
            first = categories[0]
            declared = self.categories.get(first.nicename)
            name = declared.name if declared and declared.name else first.name
            section = SectionRef(name=html_to_text(name), wordpress_slug=unquote(first.nicename))
        names = [html_to_text(t.name) for t in categories[1:]]
        # WXR 1.0 wrote tags as domain="tag" (WordPress's importer maps it the same way).
        names += [html_to_text(t.name) for t in item.terms if t.domain in {"post_tag", "tag"}]
        return section, normalize_tags(names)

    def _authors(self, item: WxrItem) -> tuple[str, ...]:
        author = self.authors.get(item.creator)
        name = html_to_text(author.display_name if author and author.display_name else "")
        name = name or html_to_text(item.creator)
        return (_truncate(name, MAX_AUTHOR),) if name else ()


def _skip_reason(item: WxrItem) -> str | None:
    if item.post_type != "post":
        return f"type {item.post_type}"
    if item.status in {"publish", "future", "draft", "pending"}:
        return None
    return f"status {item.status or 'missing'}"


def _comment_skip_reason(comment: WxrComment) -> str | None:
    if comment.type in {"pingback", "trackback"}:
        return comment.type
    if comment.type not in {"", "comment"}:
        return f"type {comment.type}"
    if comment.approved in {"spam", "trash", "post-trashed"}:
        return "spam" if comment.approved == "spam" else "trash"
    if comment.approved not in {"1", "0"}:
        return f"status {comment.approved or 'missing'}"
    return None


def plan_comments(
    comments: tuple[WxrComment, ...],
) -> tuple[list[CommentDraft], Counter[str], list[tuple[int, str]]]:
    """The comments to import in an order where each parent comes before its replies (the file
    may list a reply first), with replies to a skipped comment re-homed to the nearest imported
    ancestor; plus the skipped ones counted by reason and the ones that cannot be read."""
    skipped: Counter[str] = Counter()
    failed: list[tuple[int, str]] = []
    by_id = {c.comment_id: c for c in comments if c.comment_id}
    kept: dict[int, WxrComment] = {}
    bodies: dict[int, str] = {}
    dates: dict[int, datetime] = {}
    for comment in comments:
        reason = _comment_skip_reason(comment)
        if reason is not None:
            skipped[reason] += 1
            continue
        body = html_to_markdown(comment.content).markdown
        created = gmt_date(comment.date_gmt, comment.date)
        if not comment.comment_id:
            failed.append((0, "no WordPress comment id"))
        elif created is None:
            failed.append((comment.comment_id, "no readable comment date"))
        elif not body:
            failed.append((comment.comment_id, "no text"))
        else:
            kept[comment.comment_id] = comment
            bodies[comment.comment_id] = body
            dates[comment.comment_id] = created

    def imported_parent(comment: WxrComment) -> int | None:
        seen = {comment.comment_id}
        parent = comment.parent
        while parent and parent not in seen:
            if parent in kept:
                return parent
            seen.add(parent)
            parent = by_id[parent].parent if parent in by_id else 0
        return None

    parents = {cid: imported_parent(c) for cid, c in kept.items()}
    chronological = sorted(kept, key=lambda i: (dates[i], i))
    children: dict[int | None, list[int]] = {}
    for cid in chronological:
        children.setdefault(parents[cid], []).append(cid)
    ordered: list[CommentDraft] = []
    visited: set[int] = set()
    roots = [None, *chronological]  # after the real roots, whatever a parent cycle cut off
    for root in roots:
        if root is not None and root in visited:
            continue
        if root is not None:
            parents[root] = None  # a cycle in the file (A replies to B replies to A): break it
            stack = [root]
        else:
            stack = list(reversed(children.get(None, [])))
        while stack:  # depth-first, iterative: a thread may be thousands deep
            cid = stack.pop()
            if cid in visited:
                continue
            visited.add(cid)
            ordered.append(_comment_draft(kept[cid], parents[cid], bodies[cid], dates[cid]))
            stack.extend(reversed(children.get(cid, [])))
    return ordered, skipped, failed


def _comment_draft(
    comment: WxrComment, parent: int | None, body: str, created: datetime
) -> CommentDraft:
    name = _truncate(html_to_text(comment.author), MAX_COMMENT_AUTHOR) or "Anonymous"
    return CommentDraft(
        wordpress_id=comment.comment_id,
        parent_wordpress_id=parent,
        author_name=name,
        author_email=comment.author_email.strip(),
        author_url=comment.author_url.strip(),
        created_at=created,
        body=body,
        status="approved" if comment.approved == "1" else "pending",
    )
