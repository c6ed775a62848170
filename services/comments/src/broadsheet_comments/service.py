"""Use cases that change comments: posting, the author's edits, moderation and bans.

They take repositories and a unit of work; they never commit. Every state change that other
services care about emits its event inside the same unit of work, so the change and the event
are stored (and later published) together or not at all. Refusals are
:mod:`broadsheet_shared.errors`; the HTTP edge maps them to problem documents.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from broadsheet_comments.avatars import Avatars
from broadsheet_comments.commands import (
    BanAuthor,
    DeleteComment,
    EditComment,
    LiftBan,
    ModerateComment,
    ModerateComments,
    PostComment,
    VoteForComment,
)
from broadsheet_comments.domain import (
    REPLYABLE_STATUSES,
    Article,
    Ban,
    BannedContent,
    Comment,
    InvalidTransition,
    ModerationAction,
    ModerationPolicy,
    Signals,
    body_fingerprint,
    first_time_signal,
    moderate,
)
from broadsheet_comments.events import (
    approved_event,
    deleted_event,
    edited_event,
    posted_event,
    rejected_event,
)
from broadsheet_comments.placement import ThreadWriter, unknown_parent
from broadsheet_comments.queries import UnknownComment, published_article
from broadsheet_comments.rendering import render_body
from broadsheet_comments.repository import (
    ArticleRepository,
    BanRepository,
    CommentRepository,
    IdempotencyKeyTaken,
    IdempotencyRecord,
)
from broadsheet_comments.tokens import EditTokens
from broadsheet_shared.addresses import AddressDigest, mailbox_key, normalize_email
from broadsheet_shared.audit import StaffAction, recorded
from broadsheet_shared.auth import Principal
from broadsheet_shared.clock import Clock, utcnow
from broadsheet_shared.errors import Conflict, Forbidden, InvalidRequest, NotFound
from broadsheet_shared.http.clients import client_key
from broadsheet_shared.ratelimit import RateLimit, RateLimiter, RateLimitResult, raise_if_limited
from broadsheet_shared.unit_of_work import Transaction, UnitOfWork

SOURCE = "comments"

_MODERATED: dict[ModerationAction, StaffAction] = {
    "approve": StaffAction.COMMENT_APPROVED,
    "reject": StaffAction.COMMENT_REJECTED,
    "spam": StaffAction.COMMENT_MARKED_SPAM,
    "delete": StaffAction.COMMENT_DELETED,
}


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
class Voted:
    """The comment's votes after a vote; ``counted`` False when this reader had voted."""

    votes: int
    counted: bool


@dataclass(frozen=True)
class ModerationOutcome:
    """One comment of a bulk action: the comment as it now is, or why it was refused."""

    comment_id: str
    comment: Comment | None
    refused: str | None


@dataclass(frozen=True)
class PostingChecks:
    """What the database says about a new comment before it is judged."""

    ban: Ban | None
    client_hit: RateLimitResult
    email_hit: RateLimitResult | None  # None without an email
    parent: Comment | None  # the stored comment parent_id names, if any
    duplicate: bool
    has_public_history: bool  # only asked when the policy uses the answer


def _fingerprint(command: PostComment) -> str:
    """Equal for the same comment sent again, whoever sends it and wherever."""
    fields = [
        command.author_name,
        command.author_email,
        command.body,
        command.parent_id,
        command.notify_replies,
        command.website,
    ]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


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
        digest: AddressDigest,
        avatars: Avatars,
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
        self._digest = digest
        self._avatars = avatars
        self._clock = clock
        self._threads = ThreadWriter(articles, comments)

    # --- posting -------------------------------------------------------------------------

    async def post(self, command: PostComment) -> Posted:
        article = await published_article(self._articles, command.slug)
        if not article.accepts_comments:
            raise Conflict("Comments are closed on this article.")
        key = None
        if command.idempotency_key:
            key = f"{command.client}:{article.article_id}:{command.idempotency_key}"
        fingerprint = _fingerprint(command)
        if key is not None:
            replay = await self._replay(key, fingerprint)
            if replay is not None:
                return replay

        hashed = self._digest(command.author_email) if command.author_email else None
        now = self._clock()
        body_hash = body_fingerprint(command.body)
        checks = await self._check(article, command, hashed, body_hash, now)
        # Judged in this order whatever answered first: ban, client limit, email limit, parent.
        if checks.ban is not None:
            raise Forbidden("You may not comment at the moment.")
        raise_if_limited(checks.client_hit)
        if checks.email_hit is not None:
            raise_if_limited(checks.email_hit)
        parent = checks.parent
        if command.parent_id is not None and (
            parent is None
            or parent.article_id != article.article_id
            or parent.status not in REPLYABLE_STATUSES
        ):
            raise unknown_parent()
        signals = Signals(
            honeypot=command.website is not None,
            duplicate=checks.duplicate,
            first_time=first_time_signal(hashed, checks.has_public_history),
        )
        try:
            verdict = self._policy.judge(command.author_name, command.body, signals)
        except BannedContent as exc:
            raise InvalidRequest(str(exc)) from None

        comment = await self._threads.new_comment(
            article,
            parent,
            author_name=command.author_name,
            created_at=now,
            author_email=normalize_email(command.author_email) if command.author_email else None,
            author_email_hash=hashed,
            body_markdown=command.body,
            body_html=render_body(command.body),
            body_hash=body_hash,
            status=verdict.status,
            client=command.client,
            notify_replies=command.notify_replies,
            approved_at=now if verdict.status == "approved" else None,
            moderation_reasons=verdict.reasons,
        )

        async def work(tx: Transaction) -> Comment:
            stored = await self._threads.insert(comment, tx)
            if key is not None:
                record = IdempotencyRecord(key, fingerprint, stored.id)
                await self._comments.remember_key(record, tx.session)
            tx.emit(posted_event(article, stored))
            if stored.is_public:
                tx.emit(approved_event(article, stored, self._avatars.seed(stored)))
            return stored

        try:
            stored = await self._uow.run(work)
        except IdempotencyKeyTaken:
            # The same request raced itself: the first one won, answer as it did.
            assert key is not None
            replay = await self._replay(key, fingerprint)
            if replay is None:
                raise Conflict("A request with this Idempotency-Key is in progress.") from None
            return replay
        return self._posted(stored)

    async def _check(
        self,
        article: Article,
        command: PostComment,
        hashed: str | None,
        body_hash: str,
        now: datetime,
    ) -> PostingChecks:
        """The independent reads and counter bumps a post needs, as one concurrent round
        instead of up to six sequential ones."""
        # One client for an IPv6 /64, one mailbox for every name+tag@ of an address.
        client = client_key(command.client)
        mailbox = self._digest(mailbox_key(command.author_email)) if command.author_email else None
        ban_ids = [f"client:{client}"] + ([f"email:{mailbox}"] if mailbox else [])
        ban = asyncio.create_task(self._bans.active(ban_ids, now))
        client_hit = asyncio.create_task(
            self._limiter.hit(f"comments:client:{client}", self._limits.per_client)
        )
        email_hit = None
        if mailbox is not None:
            email_key = f"comments:email:{mailbox}"
            email_hit = asyncio.create_task(self._limiter.hit(email_key, self._limits.per_email))
        parent = None
        if command.parent_id is not None:
            parent = asyncio.create_task(self._comments.get(command.parent_id))
        since = now - self._limits.duplicate_window
        duplicate = asyncio.create_task(
            self._comments.duplicate_since(article.article_id, body_hash, since)
        )
        history = None
        if hashed is not None and self._policy.premoderate_first_time:
            history = asyncio.create_task(self._comments.has_public_from(hashed))
        tasks = [ban, client_hit, email_hit, parent, duplicate, history]
        # Every check finishes before any failure is raised: none is left running.
        await asyncio.gather(*(task for task in tasks if task is not None), return_exceptions=True)
        return PostingChecks(
            ban=ban.result(),
            client_hit=client_hit.result(),
            email_hit=email_hit.result() if email_hit else None,
            parent=parent.result() if parent else None,
            duplicate=duplicate.result(),
            has_public_history=history.result() if history else False,
        )

    def _posted(self, comment: Comment) -> Posted:
        token, expires = self._tokens.issue(comment.id, comment.created_at)
        return Posted(comment, token, expires)

    async def _replay(self, key: str, fingerprint: str) -> Posted | None:
        record = await self._comments.recall_key(key)
        if record is None:
            return None
        if record.fingerprint != fingerprint:
            raise InvalidRequest("This Idempotency-Key was already used for a different comment.")
        comment = await self._comments.get(record.comment_id)
        return self._posted(comment) if comment is not None else None

    async def _on_approved(self, article: Article, comment: Comment, tx: Transaction) -> None:
        """A comment became approved: its parent counts one more reply, and readers and other
        services hear of it when it is in sight."""
        if comment.parent_id is not None:
            await self._comments.add_to_reply_count(comment.parent_id, 1, tx.session)
        if comment.is_public:
            # An approved reply under a hidden comment stays out of sight: no live update, no
            # notification. If its ancestor is approved later it appears on the next page view.
            tx.emit(approved_event(article, comment, self._avatars.seed(comment)))

    # --- the author's own edits ----------------------------------------------------------

    async def _own_comment(
        self, slug: str, comment_id: str, token: str | None
    ) -> tuple[Article, Comment]:
        article = await published_article(self._articles, slug)
        comment = await self._comments.get(comment_id)
        if comment is None or comment.article_id != article.article_id:
            raise NotFound("There is no such comment on this article.")
        if not token or not self._tokens.allows(token, comment.id, self._clock()):
            raise Forbidden("The edit token is missing, invalid or expired.")
        if comment.status in ("deleted", "spam", "rejected"):
            raise Conflict("This comment can no longer be changed.")
        return article, comment

    async def edit(self, command: EditComment) -> Comment:
        article, comment = await self._own_comment(
            command.slug, command.comment_id, command.edit_token
        )
        body = command.body
        try:
            self._policy.check_banned(body)
        except BannedContent as exc:
            raise InvalidRequest(str(exc)) from None
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
            current, stored = await self._threads.save_if_status_unchanged(comment, edited, tx)
            if stored.status != current.status:
                await self._threads.update_subtree_and_counts(current, stored, tx)
            if current.status == "approved":
                tx.emit(edited_event(stored, article.slug, now, held=stored.status != "approved"))
            return stored

        return await self._uow.run(work)

    async def delete_own(self, command: DeleteComment) -> None:
        _, comment = await self._own_comment(command.slug, command.comment_id, command.edit_token)
        await self._transition(comment, "delete", moderator=None)

    # --- votes ---------------------------------------------------------------------------

    def _voters(self, command: VoteForComment) -> list[str]:
        """The identities one vote is counted against, stored as keyed digests (no address
        kept in the clear): the client (an IPv6 /64 is one), the site's voter cookie, and the
        mailbox when an address is given (plus-addressing is one mailbox)."""
        voters = [self._digest(f"client:{client_key(command.client)}")]
        if command.voter:
            voters.append(self._digest(f"cookie:{command.voter}"))
        if command.email:
            voters.append(self._digest(f"mailbox:{mailbox_key(command.email)}"))
        return voters

    async def vote(self, command: VoteForComment) -> Voted:
        """One vote per reader per comment: a second one from any of the reader's identities
        is ignored (``counted`` False), so a repeated request is harmless."""
        article = await published_article(self._articles, command.slug)
        if not article.accepts_comments:
            # A closed conversation is closed to votes too: its order stays as it was left.
            raise Conflict("Comments are closed on this article.")
        voters = self._voters(command)
        now = self._clock()

        async def work(tx: Transaction) -> bool:
            # Read in the transaction that then $incs the comment: a deletion at the same moment
            # writes the comment too, so one of them retries seeing the other, and a deleted
            # comment never keeps a vote.
            comment = await self._comments.get(command.comment_id, tx.session)
            if comment is None or comment.article_id != article.article_id:
                raise UnknownComment
            if not comment.is_public:
                raise UnknownComment  # held, rejected, deleted, or under a hidden comment
            if await self._comments.has_vote(comment.id, voters, tx.session):
                return False
            await self._comments.add_vote(comment.id, voters, now, tx.session)
            return True

        counted = await self._uow.run(work)
        stored = await self._comments.get(command.comment_id)
        return Voted(stored.votes if stored is not None else 0, counted)

    # --- moderation ----------------------------------------------------------------------

    async def moderate(self, command: ModerateComment, moderator: Principal) -> Comment:
        comment = await self._comments.get(command.comment_id)
        if comment is None:
            raise NotFound("There is no such comment.")
        return await self._transition(comment, command.action, moderator)

    async def moderate_many(
        self, command: ModerateComments, moderator: Principal
    ) -> list[ModerationOutcome]:
        """One action on several comments, each decided on its own (its own transaction, its
        own event and audit entry): one refusal does not undo the others."""
        outcomes: list[ModerationOutcome] = []
        for comment_id in dict.fromkeys(command.comment_ids):
            try:
                comment = await self.moderate(
                    ModerateComment(comment_id, command.action), moderator
                )
            except (NotFound, Conflict) as refused:
                outcomes.append(ModerationOutcome(comment_id, None, str(refused)))
            else:
                outcomes.append(ModerationOutcome(comment_id, comment, None))
        return outcomes

    async def _transition(
        self, comment: Comment, action: ModerationAction, moderator: Principal | None
    ) -> Comment:
        """Apply ``action``; a moderator's decision is recorded in the audit log, an author's
        own deletion (``moderator`` None) is not a staff action."""
        now = self._clock()
        try:
            changed = moderate(comment, action, now)
        except InvalidTransition as exc:
            raise Conflict(str(exc)) from None
        if changed == comment:
            return comment
        article = await self._articles.by_id(comment.article_id)

        async def work(tx: Transaction) -> None:
            # Re-read inside the transaction: two moderators clicking at once emit one event.
            current, stored = await self._threads.save_if_status_unchanged(comment, changed, tx)
            await self._threads.update_subtree_and_counts(current, stored, tx)
            if changed.status == "approved":
                if article is None:
                    raise Conflict("The article of this comment is gone.")
                await self._on_approved(article, stored, tx)
            elif changed.status in ("rejected", "spam"):
                tx.emit(rejected_event(changed, article.slug if article else None))
            elif changed.status == "deleted":
                await self._comments.drop_votes(comment.id, tx.session)
                tx.emit(deleted_event(changed, article.slug if article else None))
            if moderator is not None:
                details = {"article_id": comment.article_id}
                entry = recorded(
                    moderator,
                    _MODERATED[action],
                    comment.id,
                    source=SOURCE,
                    at=now,
                    details=details,
                )
                tx.emit(entry)

        await self._uow.run(work)
        return changed

    async def ban(self, command: BanAuthor, moderator: Principal) -> Ban:
        value = command.value
        subject = self._digest(mailbox_key(value)) if command.kind == "email" else client_key(value)
        now = self._clock()
        ban = Ban(command.kind, subject, now + command.duration, command.reason, command.by)
        details = {"until": ban.until.isoformat(), "reason": ban.reason}
        entry = recorded(
            moderator, StaffAction.BAN_CREATED, ban.id, source=SOURCE, at=now, details=details
        )

        async def work(tx: Transaction) -> None:
            await self._bans.put(ban, tx.session)
            tx.emit(entry)

        await self._uow.run(work)
        return ban

    async def bans(self) -> list[Ban]:
        return await self._bans.list_active(self._clock())

    async def lift_ban(self, command: LiftBan, moderator: Principal) -> None:
        entry = recorded(
            moderator, StaffAction.BAN_LIFTED, command.ban_id, source=SOURCE, at=self._clock()
        )

        async def work(tx: Transaction) -> None:
            if not await self._bans.remove(command.ban_id, tx.session):
                raise NotFound("There is no such ban.")
            tx.emit(entry)

        await self._uow.run(work)
