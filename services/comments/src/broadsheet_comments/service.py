"""Use cases of the comments service. They take repositories and a unit of work; they never commit.

Every state change that other services care about emits its event inside the same unit of work,
so the change and the event are stored (and later published) together or not at all.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from broadsheet_comments.domain import (
    MAX_DISPLAY_DEPTH,
    ROOT_MAX,
    SUBTREE_END,
    Article,
    BannedContent,
    Comment,
    InvalidTransition,
    ModerationAction,
    ModerationPolicy,
    Signals,
    Sort,
    Status,
    body_fingerprint,
    child_path,
    first_time_signal,
    is_path,
    moderate,
    new_comment_id,
    newest_path,
    normalize_email,
    placed,
    root_path,
    utcnow,
)
from broadsheet_comments.rendering import render_body
from broadsheet_comments.repository import (
    ArticleRepository,
    Ban,
    BanKind,
    BanRepository,
    CommentRepository,
    IdempotencyKeyTaken,
    IdempotencyRecord,
)
from broadsheet_comments.schemas import CommentCreate
from broadsheet_comments.tokens import EditTokens
from broadsheet_shared.auth import Principal
from broadsheet_shared.events import (
    ArticleData,
    ArticleRef,
    CommentApprovedData,
    CommentApprovedV1,
    CommentDeletedData,
    CommentDeletedV1,
    CommentEditedData,
    CommentEditedV1,
    CommentPostedData,
    CommentPostedV1,
    CommentRejectedData,
    CommentRejectedV1,
    email_hash,
)
from broadsheet_shared.events.comments import CommentStatus
from broadsheet_shared.http.problems import Problem
from broadsheet_shared.mongo import Session
from broadsheet_shared.ratelimit import RateLimit, RateLimitResult, raise_if_limited
from broadsheet_shared.unit_of_work import Transaction

T = TypeVar("T")


class UnitOfWork(Protocol):
    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T: ...


class RateLimiter(Protocol):
    async def hit(self, key: str, rule: RateLimit) -> RateLimitResult: ...


Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Limits:
    per_client: RateLimit
    per_email: RateLimit
    duplicate_window: timedelta


@dataclass(frozen=True)
class Posted:
    comment: Comment
    edit_token: str
    edit_token_expires_at: datetime

    @property
    def public_status(self) -> str:
        # Spam is answered like any held comment: a bot learns nothing from the reply.
        return "approved" if self.comment.status == "approved" else "pending"


@dataclass(frozen=True)
class ThreadItem:
    comment: Comment
    # The parent's author, where the reader cannot see whom this comment answers: the display
    # depth was capped, or the page starts below the parent (it was on the previous page).
    in_reply_to: str | None


@dataclass(frozen=True)
class ThreadPage:
    article: Article
    total: int
    items: list[ThreadItem]
    next_cursor: str | None


@dataclass(frozen=True)
class RecentEntry:
    comment: Comment
    article: Article


_SORT_KEY = re.compile(r"^\d{14}:[0-9a-f]{24}$")


def encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not _SORT_KEY.match(raw):
        raise Problem(422, "The cursor is not valid.")
    return raw


_THREAD_CURSOR = re.compile(r"^(?:p:([0-9a-z~]{7,4000})|c:([0-9A-Za-z_-]{1,64})|seq:(\d{1,15}))$")
# The longest cursor a client may send back (the API's and the reader site's parameter limit).
MAX_CURSOR_CHARS = 200


@dataclass(frozen=True)
class AfterComment:
    """A cursor naming the last comment shown, for keys too long to travel in a URL."""

    comment_id: str


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def encode_thread_cursor(key: str, comment_id: str) -> str:
    """Opaque to clients: the sort key (path or newest path) of the last comment shown, or,
    when that key is too long for a URL parameter (a reply some 30 levels deep), the comment's
    id, which costs one read by _id to turn back into its key."""
    by_key = _b64(f"p:{key}")
    return by_key if len(by_key) <= MAX_CURSOR_CHARS else _b64(f"c:{comment_id}")


def decode_thread_cursor(cursor: str | None, sort: Sort) -> str | AfterComment | None:
    """The sort key after which the page starts (or the comment whose key it is).

    Cursors from before sort paths (``seq:N``, the last top-level comment shown) still work:
    they continue after that comment's whole thread. Older (sort_key) cursors answer 422.
    """
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    matched = _THREAD_CURSOR.match(raw)
    if matched is None:
        raise Problem(422, "The cursor is not valid.")
    key, comment_id, seq = matched.groups()
    if key is not None:
        if not is_path(key.rstrip(SUBTREE_END)):
            raise Problem(422, "The cursor is not valid.")
        return str(key)
    if comment_id is not None:
        return AfterComment(comment_id)
    root_seq = int(seq)
    if not 0 < root_seq <= ROOT_MAX:
        raise Problem(422, "The cursor is not valid.")
    path = root_path(root_seq)
    return (path if sort == "oldest" else newest_path(path)) + SUBTREE_END


async def _nothing() -> None:
    return None


def _not_found() -> Problem:
    return Problem(404, "There is no published article with this slug.")


class CommentsService:
    def __init__(
        self,
        *,
        articles: ArticleRepository,
        comments: CommentRepository,
        bans: BanRepository,
        uow: UnitOfWork,
        limiter: RateLimiter,
        policy: ModerationPolicy,
        tokens: EditTokens,
        limits: Limits,
        clock: Clock = utcnow,
    ) -> None:
        self._articles = articles
        self._comments = comments
        self._bans = bans
        self._uow = uow
        self._limiter = limiter
        self._policy = policy
        self._tokens = tokens
        self._limits = limits
        self._clock = clock

    # --- reading -------------------------------------------------------------------------

    async def published_article(self, slug: str) -> Article:
        article = await self._articles.by_slug(slug)
        if article is None or not article.published:
            raise _not_found()
        return article

    async def thread(self, slug: str, *, sort: Sort, cursor: str | None, limit: int) -> ThreadPage:
        """A page: at most ``limit`` public comments in thread order (each top-level comment,
        then its replies depth first). A page may start or end inside a thread."""
        article = await self.published_article(slug)
        after = decode_thread_cursor(cursor, sort)
        if isinstance(after, AfterComment):
            after = await self._key_of(after.comment_id, article, sort)
        found, total = await asyncio.gather(
            self._comments.thread_page(
                article.article_id, sort, after, limit + 1, article.root_seq
            ),
            self._articles.counts([article]),
        )
        next_cursor = None
        if len(found) > limit:
            found = found[:limit]
            last = found[-1]
            key = last.path if sort == "oldest" else last.path_newest
            next_cursor = encode_thread_cursor(key or "", last.id)
        shown = {comment.id for comment in found}
        items = [
            ThreadItem(
                comment,
                comment.parent_author_name
                if comment.parent_id is not None
                and (comment.depth > MAX_DISPLAY_DEPTH or comment.parent_id not in shown)
                else None,
            )
            for comment in found
        ]
        return ThreadPage(article, total.get(article.article_id, 0), items, next_cursor)

    async def _key_of(self, comment_id: str, article: Article, sort: Sort) -> str:
        comment = await self._comments.get(comment_id)
        key = None
        if comment is not None and comment.article_id == article.article_id:
            key = comment.path if sort == "oldest" else comment.path_newest
        if key is None:
            raise Problem(422, "The cursor is not valid.")
        return key

    async def count(self, slug: str) -> tuple[Article, int]:
        article = await self.published_article(slug)
        counts = await self._articles.counts([article])
        return article, counts.get(article.article_id, 0)

    async def counts(self, slugs: Sequence[str]) -> dict[str, int]:
        found: dict[str, Article] = {}
        for slug in dict.fromkeys(slugs):
            article = await self._articles.by_slug(slug)
            if article is not None and article.published:
                found[slug] = article
        counts = await self._articles.counts(list(found.values()))
        return {
            slug: counts.get(found[slug].article_id, 0) if slug in found else 0
            for slug in dict.fromkeys(slugs)
        }

    async def recent(self, limit: int) -> list[RecentEntry]:
        # Read a little more than asked: comments of unpublished articles, and replies under a
        # hidden comment, are skipped.
        comments = [c for c in await self._comments.recent_public(limit * 2) if c.is_public]
        articles = await self._articles.by_ids([comment.article_id for comment in comments])
        entries = [
            RecentEntry(comment, articles[comment.article_id])
            for comment in comments
            if comment.article_id in articles and articles[comment.article_id].published
        ]
        return entries[:limit]

    # --- posting -------------------------------------------------------------------------

    async def post(
        self,
        slug: str,
        command: CommentCreate,
        *,
        client: str,
        idempotency_key: str | None = None,
    ) -> Posted:
        article = await self.published_article(slug)
        if not article.comments_open:
            raise Problem(409, "Comments are closed on this article.")
        key = f"{client}:{article.article_id}:{idempotency_key}" if idempotency_key else None
        fingerprint = hashlib.sha256(command.model_dump_json().encode()).hexdigest()
        if key is not None:
            replay = await self._replay(key, fingerprint)
            if replay is not None:
                return replay

        hashed = email_hash(command.author_email) if command.author_email else None
        now = self._clock()
        body_hash = body_fingerprint(command.body)
        # The checks are independent reads and counter bumps: one concurrent round instead of up
        # to six sequential ones. Their outcomes are then judged in the order they always were
        # (ban, client limit, email limit, parent), so the answer does not change.
        ban_ids = [f"client:{client}"] + ([f"email:{hashed}"] if hashed else [])
        asks_first_time = hashed is not None and self._policy.premoderate_first_time
        outcomes = await asyncio.gather(
            self._bans.active(ban_ids, now),
            self._limiter.hit(f"comments:client:{client}", self._limits.per_client),
            self._limiter.hit(f"comments:email:{hashed}", self._limits.per_email)
            if hashed is not None
            else _nothing(),
            self._parent(article, command.parent_id),
            self._comments.duplicate_since(
                article.article_id, body_hash, now - self._limits.duplicate_window
            ),
            # Only asked when the policy uses the answer.
            self._comments.has_public_from(hashed) if asks_first_time and hashed else _nothing(),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Problem):
                raise outcome
        banned, client_hit, email_hit, parent, duplicate, has_public = outcomes
        if banned is not None:
            raise Problem(403, "You may not comment at the moment.")
        for hit in (client_hit, email_hit):
            if isinstance(hit, RateLimitResult):
                raise_if_limited(hit)
        for outcome in outcomes:
            if isinstance(outcome, Problem):
                raise outcome
        assert parent is None or isinstance(parent, Comment)
        signals = Signals(
            honeypot=command.website is not None,
            duplicate=bool(duplicate),
            first_time=first_time_signal(hashed, bool(has_public)),
        )
        try:
            verdict = self._policy.judge(command.author_name, command.body, signals)
        except BannedContent as exc:
            raise Problem(422, str(exc)) from None

        comment_id = new_comment_id()
        comment = Comment(
            id=comment_id,
            article_id=article.article_id,
            parent_id=parent.id if parent else None,
            root_id=parent.root_id if parent else comment_id,
            depth=parent.depth + 1 if parent else 0,
            author_name=command.author_name,
            author_email=normalize_email(command.author_email) if command.author_email else None,
            author_email_hash=hashed,
            body_markdown=command.body,
            body_html=render_body(command.body),
            body_hash=body_hash,
            status=verdict.status,
            created_at=now,
            client=client,
            notify_replies=command.notify_replies,
            approved_at=now if verdict.status == "approved" else None,
            parent_author_name=parent.author_name if parent else None,
            moderation_reasons=verdict.reasons,
            root_seq=parent.root_seq if parent else None,
        )
        # Sequence numbers are taken before the transaction, each by one atomic $inc: posters
        # on one article never share a document inside their transactions. A number lost to
        # a failed post is only a gap in the order.
        if parent is None:
            seq = await self._articles.next_root_seq(article.article_id)
            if seq is None:
                raise _not_found()
            path = root_path(seq)
        else:
            if parent.path is None:
                raise Problem(409, "This thread is being upgraded; please retry in a moment.")
            path = child_path(parent.path, await self._comments.next_child_seq(parent.id))
            await self._comments.outline(placed(comment, path, 0))

        async def work(tx: Transaction) -> Comment:
            hidden_by = 0
            if parent is not None:
                # Read (and touch) the parent inside the transaction: a moderator hiding it
                # at the same moment conflicts with this post, so the reply is hidden too.
                current = await self._comments.lock_parent(parent.id, tx.session)
                if current is None:
                    raise Problem(422, "parent_id does not name a comment of this article.")
                hidden_by = current.hidden_by + (1 if current.hides_replies else 0)
            stored = placed(comment, path, hidden_by)
            await self._comments.add(stored, tx.session)
            if key is not None:
                record = IdempotencyRecord(key, fingerprint, stored.id)
                await self._comments.remember_key(record, tx.session)
            tx.emit(posted_event(article, stored))
            if stored.status == "approved":
                if stored.is_public:
                    await self._articles.add_to_count(article.article_id, 1, tx.session)
                await self._became_public(article, stored, tx)
            return stored

        try:
            comment = await self._uow.run(work)
        except IdempotencyKeyTaken:
            # The same request raced itself: the first one won, answer as it did.
            assert key is not None
            replay = await self._replay(key, fingerprint)
            if replay is None:
                raise Problem(409, "A request with this Idempotency-Key is in progress.") from None
            return replay
        token, expires = self._tokens.issue(comment.id, comment.created_at)
        return Posted(comment, token, expires)

    async def _replay(self, key: str, fingerprint: str) -> Posted | None:
        record = await self._comments.recall_key(key)
        if record is None:
            return None
        if record.fingerprint != fingerprint:
            raise Problem(422, "This Idempotency-Key was already used for a different comment.")
        comment = await self._comments.get(record.comment_id)
        if comment is None:
            return None
        token, expires = self._tokens.issue(comment.id, comment.created_at)
        return Posted(comment, token, expires)

    async def _parent(self, article: Article, parent_id: str | None) -> Comment | None:
        if parent_id is None:
            return None
        parent = await self._comments.get(parent_id)
        if (
            parent is None
            or parent.article_id != article.article_id
            or parent.status not in ("approved", "pending")
        ):
            raise Problem(
                422,
                "parent_id does not name a comment of this article.",
                errors=[{"loc": ["body", "parent_id"], "msg": "unknown comment", "type": "value"}],
            )
        return parent

    async def _became_public(self, article: Article, comment: Comment, tx: Transaction) -> None:
        if comment.parent_id is not None:
            await self._comments.add_to_reply_count(comment.parent_id, 1, tx.session)
        if comment.is_public:
            # An approved reply under a hidden comment stays out of sight: no live update, no
            # notification. If its ancestor is approved later it appears on the next page view.
            tx.emit(approved_event(article, comment))

    async def _restate(self, current: Comment, changed: Comment, tx: Transaction) -> None:
        """Counts and the replies' visibility after ``current`` became ``changed``.

        A comment that stops being approved hides its whole subtree (one path-prefix range:
        every reply's hidden_by goes up by one) and the public replies in it stop counting;
        approving it again reverses both. Runs in the transaction that changes the status,
        which re-read ``current``, so a retried or redelivered command adjusts nothing twice.
        """
        in_view = current.hidden_by == 0  # nothing above the comment is hidden
        delta = 0
        if current.path is not None and current.hides_replies != changed.hides_replies:
            if changed.hides_replies:
                if in_view:
                    delta -= await self._comments.public_descendants(current, tx.session)
                await self._comments.shift_subtree(current, 1, tx.session)
            else:
                await self._comments.shift_subtree(current, -1, tx.session)
                if in_view:
                    delta += await self._comments.public_descendants(current, tx.session)
        if current.status == "approved" and changed.status != "approved":
            delta -= 1 if in_view else 0
            if current.parent_id is not None:
                await self._comments.add_to_reply_count(current.parent_id, -1, tx.session)
        if changed.status == "approved" and current.status != "approved":
            delta += 1 if in_view else 0
        if delta:
            await self._articles.add_to_count(current.article_id, delta, tx.session)

    # --- the author's own edits ----------------------------------------------------------

    async def _own_comment(self, slug: str, comment_id: str, token: str | None) -> Comment:
        article = await self.published_article(slug)
        comment = await self._comments.get(comment_id)
        if comment is None or comment.article_id != article.article_id:
            raise Problem(404, "There is no such comment on this article.")
        if not token or not self._tokens.allows(token, comment.id, self._clock()):
            raise Problem(403, "The edit token is missing, invalid or expired.")
        if comment.status in ("deleted", "spam", "rejected"):
            raise Problem(409, "This comment can no longer be changed.")
        return comment

    async def edit(self, slug: str, comment_id: str, token: str | None, body: str) -> Comment:
        comment = await self._own_comment(slug, comment_id, token)
        try:
            self._policy.check_banned(body)
        except BannedContent as exc:
            raise Problem(422, str(exc)) from None
        now = self._clock()
        edited = replace(
            comment,
            body_markdown=body,
            body_html=render_body(body),
            body_hash=body_fingerprint(body),
            edited_at=now,
        )
        hold = self._policy.hold_reasons(comment.author_name, body)
        if comment.status == "approved" and hold:
            # An edit must not smuggle links or suspect words past moderation: it goes back
            # to the queue, and out of the thread and the counts until approved again.
            edited = replace(edited, status="pending", moderation_reasons=hold)

        async def work(tx: Transaction) -> Comment:
            current, stored = await self._store_over(comment, edited, tx)
            if stored.status != current.status:
                await self._restate(current, stored, tx)
            if current.status == "approved":
                held = stored.status != "approved"
                tx.emit(
                    CommentEditedV1(
                        subject=stored.id,
                        data=CommentEditedData(
                            comment_id=stored.id,
                            article_id=stored.article_id,
                            # A held edit's text is not public: consumers get no copy of it.
                            excerpt="" if held else stored.excerpt,
                            body_html="" if held else stored.body_html,
                            edited_at=now,
                        ),
                    )
                )
            return stored

        return await self._uow.run(work)

    async def delete_own(self, slug: str, comment_id: str, token: str | None) -> None:
        comment = await self._own_comment(slug, comment_id, token)
        await self._transition(comment, "delete")

    # --- moderation ----------------------------------------------------------------------

    async def moderate(self, comment_id: str, action: ModerationAction) -> Comment:
        comment = await self._comments.get(comment_id)
        if comment is None:
            raise Problem(404, "There is no such comment.")
        return await self._transition(comment, action)

    async def _store_over(
        self, seen: Comment, new: Comment, tx: Transaction
    ) -> tuple[Comment, Comment]:
        """Saves ``new`` over the stored comment if its status is still the one ``seen`` had;
        returns (stored before, stored now). ``hidden_by`` stays as stored: only ancestors
        change it."""
        current = await self._comments.get(seen.id, tx.session)
        if current is None or current.status != seen.status:
            raise Problem(409, "The comment was changed meanwhile; reload and retry.")
        stored = replace(new, hidden_by=current.hidden_by)
        await self._comments.save(stored, tx.session)
        return current, stored

    async def _transition(self, comment: Comment, action: ModerationAction) -> Comment:
        try:
            changed = moderate(comment, action, self._clock())
        except InvalidTransition as exc:
            raise Problem(409, str(exc)) from None
        if changed == comment:
            return comment
        article = await self._articles.by_id(comment.article_id)

        async def work(tx: Transaction) -> None:
            # Re-read inside the transaction: two moderators clicking at once emit one event.
            current, stored = await self._store_over(comment, changed, tx)
            await self._restate(current, stored, tx)
            if changed.status == "approved":
                if article is None:
                    raise Problem(409, "The article of this comment is gone.")
                await self._became_public(article, stored, tx)
            elif changed.status in ("rejected", "spam"):
                tx.emit(
                    CommentRejectedV1(
                        subject=changed.id,
                        data=CommentRejectedData(
                            comment_id=changed.id,
                            article_id=changed.article_id,
                            parent_id=changed.parent_id,
                            reason="spam" if changed.status == "spam" else "rejected",
                        ),
                    )
                )
            elif changed.status == "deleted":
                tx.emit(
                    CommentDeletedV1(
                        subject=changed.id,
                        data=CommentDeletedData(
                            comment_id=changed.id, article_id=changed.article_id
                        ),
                    )
                )

        await self._uow.run(work)
        return changed

    async def queue(
        self, status: Status, cursor: str | None, limit: int
    ) -> tuple[list[Comment], str | None]:
        after = decode_cursor(cursor)
        found = await self._comments.by_status(status, after, limit + 1)
        next_cursor = encode_cursor(found[limit - 1].sort_key) if len(found) > limit else None
        return found[:limit], next_cursor

    async def ban(
        self, kind: BanKind, value: str, duration: timedelta, reason: str, by: Principal
    ) -> Ban:
        subject = email_hash(value) if kind == "email" else value.strip()
        ban = Ban(kind, subject, self._clock() + duration, reason, by.subject)
        await self._bans.put(ban)
        return ban

    async def bans(self) -> list[Ban]:
        return await self._bans.list_active(self._clock())

    async def unban(self, ban_id: str) -> None:
        if not await self._bans.remove(ban_id):
            raise Problem(404, "There is no such ban.")


# --- events ----------------------------------------------------------------------------------


def _posted_status(status: Status) -> CommentStatus:
    if status == "approved" or status == "spam":
        return status
    return "pending"


def posted_event(article: Article, comment: Comment) -> CommentPostedV1:
    return CommentPostedV1(
        subject=comment.id,
        data=CommentPostedData(
            comment_id=comment.id,
            article_id=article.article_id,
            article_slug=article.slug,
            parent_id=comment.parent_id,
            author_name=comment.author_name,
            status=_posted_status(comment.status),
            created_at=comment.created_at,
            notify_replies=comment.notify_replies,
            # The address travels only to the service that emails replies, and only if asked.
            author_email=comment.author_email if comment.notify_replies else None,
            author_email_hash=comment.author_email_hash,
        ),
    )


def approved_event(article: Article, comment: Comment) -> CommentApprovedV1:
    return CommentApprovedV1(
        subject=comment.id,
        data=CommentApprovedData(
            comment_id=comment.id,
            article_id=article.article_id,
            article_slug=article.slug,
            article_title=article.title,
            article_url_path=article.url_path,
            parent_id=comment.parent_id,
            parent_author_name=comment.parent_author_name,
            author_name=comment.author_name,
            author_email_hash=comment.author_email_hash,
            excerpt=comment.excerpt,
            body_html=comment.body_html,
            depth=comment.display_depth,
            created_at=comment.created_at,
            approved_at=comment.approved_at or comment.created_at,
        ),
    )


# --- the article projection ------------------------------------------------------------------


class ArticleProjection:
    """Keeps the service's own picture of articles, from article events only."""

    def __init__(self, articles: ArticleRepository) -> None:
        self._articles = articles

    async def published(self, data: ArticleData, session: Session) -> None:
        await self._apply(data, session, published=True)

    async def updated(self, data: ArticleData, session: Session) -> None:
        await self._apply(data, session, published=None)

    async def _apply(self, data: ArticleData, session: Session, *, published: bool | None) -> None:
        current = await self._articles.by_id(data.article_id, session)
        if current is not None and data.revision < current.revision:
            return  # an older revision arriving late changes nothing
        previous = set(data.previous_slugs)
        if current is not None:
            previous |= {current.slug, *current.previous_slugs}
        previous.discard(data.slug)
        article = Article(
            article_id=data.article_id,
            slug=data.slug,
            previous_slugs=tuple(sorted(previous)),
            title=data.title,
            url_path=data.url_path,
            section_slug=data.section.slug,
            comments_open=data.comments_open,
            published=published if published is not None else True,
            revision=data.revision,
            comment_count=current.comment_count if current else 0,
            root_seq=current.root_seq if current else 0,
        )
        await self._articles.save(article, session)

    async def unpublished(self, ref: ArticleRef, session: Session) -> None:
        current = await self._articles.by_id(ref.article_id, session)
        if current is not None:
            await self._articles.save(replace(current, published=False), session)

    async def deleted(self, ref: ArticleRef, session: Session) -> None:
        await self._articles.remove(ref.article_id, session)
