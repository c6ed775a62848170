"""Use cases. They take repositories and a unit of work; the unit of work commits, they do not."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import uuid4

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from broadsheet_articles.domain import (
    Article,
    ArticleChanges,
    ArticleStatus,
    DomainError,
    Editor,
    InvalidTransition,
    NotDeletable,
    Revision,
    Section,
    is_valid_slug,
    normalize_email,
    resolve_section,
    revision_of,
    section_slug,
    slug_candidates,
    slug_from_title,
)
from broadsheet_articles.repository import (
    ArticleRepository,
    EditorRepository,
    PublicCursor,
    RefreshRecord,
    RefreshTokenRepository,
    SectionRepository,
    SlugRace,
    StaffFilter,
)
from broadsheet_shared.auth import Principal, Role, TokenIssuer
from broadsheet_shared.events import (
    ArticleDeletedV1,
    ArticlePublishedV1,
    ArticleUnpublishedV1,
    ArticleUpdatedV1,
    IntegrationEvent,
)
from broadsheet_shared.http.problems import Problem
from broadsheet_shared.mongo import Session
from broadsheet_shared.ratelimit import RateLimit, RateLimitResult, raise_if_limited

T = TypeVar("T")
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Tx(Protocol):
    @property
    def session(self) -> Session: ...
    def emit(self, event: IntegrationEvent) -> None: ...


class UnitOfWork(Protocol):
    async def run(self, work: Callable[[Any], Awaitable[T]]) -> T: ...


class RateLimiter(Protocol):
    async def hit(self, key: str, rule: RateLimit) -> RateLimitResult: ...


def field_error(field_name: str, msg: str, type_: str) -> Problem:
    """A 422 shaped like FastAPI's own validation errors, for rules only the service knows."""
    return Problem(
        422,
        "The request is not valid.",
        errors=[{"loc": ["body", field_name], "msg": msg, "type": type_}],
    )


def _not_found() -> Problem:
    return Problem(404, "No such article.")


def _conflict(exc: DomainError) -> Problem:
    return Problem(409, str(exc))


# -- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateArticle:
    title: str
    body: str
    section: str
    summary: str = ""
    tags: list[str] = field(default_factory=list)
    authors: list[str] | None = None
    hero_image_url: str | None = None
    comments_open: bool = True


@dataclass(frozen=True)
class EditArticle:
    title: str | None = None
    body: str | None = None
    section: str | None = None
    summary: str | None = None
    tags: list[str] | None = None
    authors: list[str] | None = None
    hero_image_url: str | None = None
    clear_hero_image: bool = False
    comments_open: bool | None = None
    slug: str | None = None


@dataclass(frozen=True)
class Redirect:
    slug: str


# -- articles ----------------------------------------------------------------------------------


class ArticleService:
    def __init__(
        self,
        uow: UnitOfWork,
        articles: ArticleRepository,
        sections: SectionRepository,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._articles = articles
        self._sections = sections
        self._clock = clock

    async def _section(self, wanted: str) -> Section:
        section = resolve_section(await self._sections.all(), wanted)
        if section is None:
            raise field_error("section", f"Unknown section {wanted!r}.", "unknown_section")
        return section

    async def _run(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        # A slug claimed by a concurrent transaction is seen on the next attempt.
        for _ in range(3):
            try:
                return await self._uow.run(work)
            except SlugRace:
                continue
        raise Problem(409, "The slug is being claimed concurrently; try again.")

    async def _unique_slug(self, base: str, article_id: str, session: Session) -> str:
        for candidate in slug_candidates(base):
            if await self._articles.claim_slug(candidate, article_id, session):
                return candidate
        raise Problem(409, "Too many articles share this slug; choose another title or slug.")

    async def create(self, command: CreateArticle, editor: Principal) -> Article:
        section = await self._section(command.section)
        now = self._clock()
        article_id = str(uuid4())

        async def work(tx: Tx) -> Article:
            slug = await self._unique_slug(slug_from_title(command.title), article_id, tx.session)
            article = Article.draft(
                id=article_id,
                slug=slug,
                title=command.title,
                body=command.body,
                section=section,
                now=now,
                summary=command.summary,
                tags=command.tags,
                authors=command.authors if command.authors is not None else [editor.name],
                hero_image_url=command.hero_image_url,
                comments_open=command.comments_open,
            )
            await self._articles.add(article, tx.session)
            await self._articles.add_revision(
                revision_of(article, reason="created", editor=editor.name), tx.session
            )
            return article

        return await self._run(work)

    async def get(self, article_id: str) -> Article:
        article = await self._articles.get(article_id)
        if article is None:
            raise _not_found()
        return article

    async def edit(
        self,
        article_id: str,
        command: EditArticle,
        expected_revision: int | None,
        editor: Principal,
    ) -> Article:
        section = await self._section(command.section) if command.section is not None else None
        if command.slug is not None and not is_valid_slug(command.slug):
            raise field_error("slug", "A slug is lower-case letters, digits and dashes.", "slug")
        now = self._clock()

        async def work(tx: Tx) -> Article:
            article = await self._articles.get(article_id, tx.session)
            if article is None:
                raise _not_found()
            if expected_revision is not None and article.revision != expected_revision:
                raise Problem(
                    412,
                    "The article changed since you read it; reload it and apply your edit again.",
                    current_revision=article.revision,
                )
            read_revision = article.revision
            old_slug = article.slug
            wanted_slug = command.slug
            if wanted_slug is None and command.title is not None and not article.slug_is_fixed:
                wanted_slug = slug_from_title(command.title)
            new_slug = None
            if wanted_slug is not None and wanted_slug != article.slug:
                new_slug = await self._unique_slug(wanted_slug, article.id, tx.session)
            changes = ArticleChanges(
                title=command.title,
                summary=command.summary,
                body=command.body,
                section=section,
                tags=command.tags,
                authors=command.authors,
                hero_image_url=command.hero_image_url,
                clear_hero_image=command.clear_hero_image,
                comments_open=command.comments_open,
                slug=new_slug,
            )
            if not article.edit(changes, now):
                return article
            if article.slug != old_slug and old_slug not in article.previous_slugs:
                # A draft's old slug was never public: free it for other articles.
                await self._articles.release_slug(old_slug, tx.session)
            await self._save(article, read_revision, tx, reason="edited", editor=editor)
            if article.is_public:
                tx.emit(ArticleUpdatedV1(subject=article.id, data=article.event_data()))
            return article

        return await self._run(work)

    async def rename_section(self, slug: str, name: str, editor: Principal) -> Section:
        """Rename a section and every article in it, in one transaction.

        Articles carry their section's name, and so do their events: each article gets a new
        revision and, when public, an ``article.updated`` so the other services' projections
        follow.
        """
        section = next((s for s in await self._sections.all() if s.slug == slug), None)
        if section is None:
            raise Problem(404, "No such section.")
        renamed = Section(slug=section.slug, name=name, position=section.position)
        now = self._clock()

        async def work(tx: Tx) -> Section:
            await self._sections.rename(slug, name, tx.session)
            for article_id in await self._articles.ids_in_section(slug, tx.session):
                article = await self._articles.get(article_id, tx.session)
                if article is None:
                    continue
                read_revision = article.revision
                if not article.follow_section_rename(renamed, now):
                    continue
                await self._save(
                    article, read_revision, tx, reason="section renamed", editor=editor
                )
                if article.is_public:
                    tx.emit(ArticleUpdatedV1(subject=article.id, data=article.event_data()))
            return renamed

        return await self._uow.run(work)

    async def _save(
        self, article: Article, read_revision: int, tx: Tx, *, reason: str, editor: Principal
    ) -> None:
        if not await self._articles.save(article, read_revision, tx.session):
            raise Problem(412, "The article changed concurrently; reload it and try again.")
        await self._articles.add_revision(
            revision_of(article, reason=reason, editor=editor.name), tx.session
        )

    async def publish(self, article_id: str, at: datetime | None, editor: Principal) -> Article:
        now = self._clock()

        async def work(tx: Tx) -> Article:
            article = await self._articles.get(article_id, tx.session)
            if article is None:
                raise _not_found()
            read_revision = article.revision
            try:
                if at is None or at <= now:
                    article.publish(now)
                else:
                    article.schedule(at, now)
            except DomainError as exc:
                raise _conflict(exc) from None
            reason = "published" if article.is_public else "scheduled"
            await self._save(article, read_revision, tx, reason=reason, editor=editor)
            if article.is_public:
                tx.emit(ArticlePublishedV1(subject=article.id, data=article.event_data()))
            return article

        return await self._uow.run(work)

    async def unpublish(self, article_id: str, editor: Principal) -> Article:
        now = self._clock()

        async def work(tx: Tx) -> Article:
            article = await self._articles.get(article_id, tx.session)
            if article is None:
                raise _not_found()
            read_revision = article.revision
            try:
                was_public = article.unpublish(now)
            except InvalidTransition as exc:
                raise _conflict(exc) from None
            await self._save(article, read_revision, tx, reason="unpublished", editor=editor)
            if was_public:
                tx.emit(ArticleUnpublishedV1(subject=article.id, data=article.event_ref()))
            return article

        return await self._uow.run(work)

    async def delete(self, article_id: str) -> None:
        async def work(tx: Tx) -> None:
            article = await self._articles.get(article_id, tx.session)
            if article is None:
                raise _not_found()
            try:
                article.ensure_deletable()
            except NotDeletable as exc:
                raise _conflict(exc) from None
            await self._articles.delete(article.id, tx.session)
            await self._articles.release_slugs(article.id, tx.session)
            tx.emit(ArticleDeletedV1(subject=article.id, data=article.event_ref()))

        await self._uow.run(work)

    async def publish_due(self) -> int:
        """The scheduler's tick: publish every scheduled article whose time has come.

        Each claim re-reads the article in a transaction and writes only if it is still scheduled
        at the revision read, so two schedulers (replicas, or a restart mid-tick) never both
        publish it: the loser conflicts, retries, and finds it published.
        """
        now = self._clock()
        published = 0
        for article_id in await self._articles.due_scheduled(now, limit=100):

            async def work(tx: Tx, article_id: str = article_id) -> bool:
                article = await self._articles.get(article_id, tx.session)
                if article is None or article.status is not ArticleStatus.SCHEDULED:
                    return False
                if article.scheduled_at is None or article.scheduled_at > now:
                    return False
                read_revision = article.revision
                article.publish(now)
                if not await self._articles.save(article, read_revision, tx.session):
                    return False
                await self._articles.add_revision(
                    revision_of(article, reason="published", editor="scheduler"), tx.session
                )
                tx.emit(ArticlePublishedV1(subject=article.id, data=article.event_data()))
                return True

            if await self._uow.run(work):
                published += 1
        return published

    async def revisions(self, article_id: str) -> list[Revision]:
        await self.get(article_id)
        return await self._articles.revisions(article_id)

    async def list_staff(
        self,
        *,
        status: ArticleStatus | None,
        section: str | None,
        tag: str | None,
        offset: int,
        limit: int,
    ) -> tuple[list[Article], int]:
        section_slug_ = None
        if section is not None:
            found = resolve_section(await self._sections.all(), section)
            if found is None:
                return [], 0
            section_slug_ = found.slug
        tag_ = tag.strip().lower() if tag is not None else None
        return await self._articles.list_staff(
            StaffFilter(status=status, section=section_slug_, tag=tag_), offset=offset, limit=limit
        )

    # -- public --------------------------------------------------------------------------------

    async def public_article(self, slug: str) -> Article | Redirect:
        article = await self._articles.published_by_slug(slug)
        if article is not None:
            return article
        owner = await self._articles.slug_owner(slug)
        if owner is not None:
            moved = await self._articles.get(owner)
            if moved is not None and moved.is_public and moved.slug != slug:
                return Redirect(moved.slug)
        raise _not_found()

    async def list_public(
        self, *, section: str | None, tag: str | None, after: PublicCursor | None, limit: int
    ) -> list[Article]:
        section_slug_ = None
        if section is not None:
            found = resolve_section(await self._sections.all(), section)
            if found is None:
                return []
            section_slug_ = found.slug
        tag_ = tag.strip().lower() if tag is not None else None
        return await self._articles.list_published(
            section=section_slug_, tag=tag_, after=after, limit=limit
        )


# -- sections ----------------------------------------------------------------------------------


class SectionService:
    def __init__(self, sections: SectionRepository, articles: ArticleRepository) -> None:
        self._sections = sections
        self._articles = articles

    async def all(self) -> list[Section]:
        return await self._sections.all()

    async def seed(self, names: list[str]) -> None:
        await self._sections.seed(
            [
                Section(slug=section_slug(name), name=name, position=i)
                for i, name in enumerate(names)
            ]
        )

    async def get(self, slug: str) -> Section:
        for section in await self._sections.all():
            if section.slug == slug:
                return section
        raise Problem(404, "No such section.")

    async def create(self, name: str, slug: str | None) -> Section:
        slug = slug or section_slug(name)
        if not is_valid_slug(slug):
            raise field_error("slug", "A slug is lower-case letters, digits and dashes.", "slug")
        existing = await self._sections.all()
        if any(s.name.casefold() == name.casefold() for s in existing):
            raise Problem(409, "A section with this name exists.")
        section = Section(slug=slug, name=name, position=len(existing))
        if not await self._sections.add(section):
            raise Problem(409, "A section with this slug exists.")
        return section

    async def delete(self, slug: str) -> None:
        await self.get(slug)
        if await self._articles.count_in_section(slug):
            raise Problem(409, "The section still has articles; move them first.")
        await self._sections.delete(slug)


# -- editors and tokens ------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class LoginLimits:
    per_account: RateLimit
    per_client: RateLimit


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHash:
    return PasswordHash(
        (Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism),)
    )


_BAD_CREDENTIALS = "Incorrect email or password."


class AuthService:
    def __init__(
        self,
        editors: EditorRepository,
        refresh_tokens: RefreshTokenRepository,
        *,
        hasher: PasswordHash,
        issuer: TokenIssuer,
        limiter: RateLimiter,
        limits: LoginLimits,
        refresh_ttl: timedelta,
        clock: Clock = utcnow,
    ) -> None:
        self._editors = editors
        self._refresh_tokens = refresh_tokens
        self._hasher = hasher
        self._issuer = issuer
        self._limiter = limiter
        self._limits = limits
        self._refresh_ttl = refresh_ttl
        self._clock = clock
        self._dummy_hash: str | None = None

    async def _hash(self, password: str) -> str:
        # Argon2 is deliberately slow: keep it off the event loop.
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, password: str, password_hash: str) -> bool:
        return await asyncio.to_thread(self._hasher.verify, password, password_hash)

    async def ensure_admin(self, email: str, password: str, name: str) -> None:
        """Create the first admin unless the account exists (idempotent, safe across replicas)."""
        email = normalize_email(email)
        if await self._editors.by_email(email) is not None:
            return
        await self._editors.add(
            Editor(
                id=str(uuid4()),
                email=email,
                name=name,
                role="admin",
                password_hash=await self._hash(password),
                disabled=False,
                created_at=self._clock(),
            )
        )

    async def login(self, username: str, password: str, client: str) -> TokenPair:
        email = normalize_email(username)
        account = await self._limiter.hit(f"login:account:{email}", self._limits.per_account)
        by_client = await self._limiter.hit(f"login:client:{client}", self._limits.per_client)
        raise_if_limited(account)
        raise_if_limited(by_client)
        editor = await self._editors.by_email(email)
        if editor is None:
            # Same work as for a real account, so timing does not tell which part was wrong.
            if self._dummy_hash is None:
                self._dummy_hash = await self._hash(secrets.token_hex(16))
            await self._verify(password, self._dummy_hash)
            raise Problem(401, _BAD_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
        if not await self._verify(password, editor.password_hash) or editor.disabled:
            raise Problem(401, _BAD_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
        return await self._issue(editor, family=uuid4().hex)

    async def refresh(self, refresh_token: str) -> TokenPair:
        invalid = Problem(401, "The refresh token is invalid or expired.")
        record = await self._refresh_tokens.use(hash_refresh_token(refresh_token), self._clock())
        if record is None:
            raise invalid
        if record.used:
            # A rotated token came back: someone holds a copy. End the whole chain.
            await self._refresh_tokens.revoke_family(record.family)
            raise invalid
        editor = await self._editors.by_id(record.editor_id)
        if editor is None or editor.disabled:
            raise invalid
        return await self._issue(editor, family=record.family)

    async def _issue(self, editor: Editor, *, family: str) -> TokenPair:
        now = self._clock()
        refresh_token = secrets.token_urlsafe(32)
        await self._refresh_tokens.add(
            RefreshRecord(
                token_hash=hash_refresh_token(refresh_token),
                editor_id=editor.id,
                family=family,
                expires_at=now + self._refresh_ttl,
                used=False,
            )
        )
        role: Role = "admin" if editor.role == "admin" else "editor"
        access = self._issuer.issue(
            Principal(subject=editor.id, role=role, name=editor.name), now=now
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh_token,
            expires_in=int(self._issuer.ttl.total_seconds()),
        )

    async def editors(self) -> list[Editor]:
        return await self._editors.all()

    async def create_editor(self, *, email: str, name: str, password: str, role: Role) -> Editor:
        editor = Editor(
            id=str(uuid4()),
            email=normalize_email(email),
            name=name,
            role=role,
            password_hash=await self._hash(password),
            disabled=False,
            created_at=self._clock(),
        )
        if not await self._editors.add(editor):
            raise Problem(409, "An editor with this email exists.")
        return editor

    async def update_editor(
        self,
        editor_id: str,
        *,
        acting: Principal,
        name: str | None = None,
        role: Role | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> Editor:
        editor = await self._editors.by_id(editor_id)
        if editor is None:
            raise Problem(404, "No such editor.")
        if editor.id == acting.subject and (disabled or role == "editor"):
            raise Problem(409, "Admins cannot disable or demote themselves.")
        if name is not None:
            editor.name = name
        if role is not None:
            editor.role = role
        if disabled is not None:
            editor.disabled = disabled
        if password is not None:
            editor.password_hash = await self._hash(password)
        await self._editors.update(editor)
        if editor.disabled or password is not None:
            await self._refresh_tokens.revoke_editor(editor.id)
        return editor
