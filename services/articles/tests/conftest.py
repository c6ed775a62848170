"""In-memory repositories of the articles service, and the worlds its unit tests run in (the
shared ports' fakes come from :mod:`broadsheet_shared.testing`)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from broadsheet_articles.auth import AuthService, LoginLimits, password_hasher
from broadsheet_articles.cursors import AuditCursor, PublicCursor
from broadsheet_articles.domain import (
    Article,
    ArticleStatus,
    AuditEntry,
    AuditFilter,
    Editor,
    Revision,
    Section,
    author_slug,
)
from broadsheet_articles.imports import ImportService, OldLinks
from broadsheet_articles.repository import ImportRecord, RefreshRecord, StaffFilter
from broadsheet_articles.service import ArticleService, SectionService
from broadsheet_shared.auth import Principal, TokenIssuer, TokenVerifier
from broadsheet_shared.clock import utcnow
from broadsheet_shared.devkeys import DEV_JWT_PRIVATE_KEY, DEV_JWT_PUBLIC_KEY
from broadsheet_shared.events import IntegrationEvent, StaffActionRecordedV1
from broadsheet_shared.ratelimit import RateLimit
from broadsheet_shared.testing import (
    FakeImportRecords,
    FakeRateLimiter,
    FakeUnitOfWork,
    TestClock,
)

BULK_TIMEOUT = 8.0  # seconds: the articles service's budget for a bulk change

SECTIONS = [
    Section("world", "World", 0),
    Section("foreign-affairs", "Foreign Affairs", 1),
    Section("politics", "Politics", 2),
]


class FakeArticles:
    def __init__(self) -> None:
        self.articles: dict[str, Article] = {}
        self.slugs: dict[str, str] = {}
        self.revision_log: list[Revision] = []

    async def get(self, article_id: str, session: Any = None) -> Article | None:
        found = self.articles.get(article_id)
        return found.copy() if found else None

    async def add(self, article: Article, session: Any) -> None:
        self.articles[article.id] = article.copy()

    async def save(self, article: Article, expected_revision: int, session: Any) -> bool:
        current = self.articles.get(article.id)
        if current is None or current.revision != expected_revision:
            return False
        self.articles[article.id] = article.copy()
        return True

    async def delete(self, article_id: str, session: Any) -> None:
        self.articles.pop(article_id, None)

    async def published_by_slug(self, slug: str) -> Article | None:
        for article in self.articles.values():
            if article.slug == slug and article.status is ArticleStatus.PUBLISHED:
                return article.copy()
        return None

    async def list_published(
        self,
        *,
        section: str | None,
        tag: str | None,
        after: PublicCursor | None,
        limit: int,
        author: str | None = None,
    ) -> list[Article]:
        items = [
            a
            for a in self.articles.values()
            if a.status is ArticleStatus.PUBLISHED
            and (section is None or a.section.slug == section)
            and (tag is None or tag in a.tags)
            and (author is None or author in [author_slug(n) for n in a.authors])
        ]
        items.sort(key=lambda a: (a.published_at, a.id), reverse=True)
        if after is not None:
            items = [a for a in items if (a.published_at, a.id) < after]
        return [a.copy() for a in items[:limit]]

    async def list_staff(
        self, staff_filter: StaffFilter, *, offset: int, limit: int
    ) -> tuple[list[Article], int]:
        items = [
            a
            for a in self.articles.values()
            if (staff_filter.status is None or a.status is staff_filter.status)
            and (staff_filter.section is None or a.section.slug == staff_filter.section)
            and (staff_filter.tag is None or staff_filter.tag in a.tags)
            and (not staff_filter.title or staff_filter.title.lower() in a.title.lower())
        ]
        items.sort(key=lambda a: (a.updated_at, a.id), reverse=True)
        return items[offset : offset + limit], len(items)

    async def due_scheduled(self, now: datetime, limit: int) -> list[str]:
        return [
            a.id
            for a in self.articles.values()
            if a.status is ArticleStatus.SCHEDULED and a.scheduled_at and a.scheduled_at <= now
        ][:limit]

    async def count_in_section(self, section_slug: str) -> int:
        return sum(1 for a in self.articles.values() if a.section.slug == section_slug)

    async def ids_in_section(self, section_slug: str, session: Any) -> list[str]:
        return [a.id for a in self.articles.values() if a.section.slug == section_slug]

    async def slug_owner(self, slug: str, session: Any = None) -> str | None:
        return self.slugs.get(slug)

    async def claim_slug(self, slug: str, article_id: str, session: Any) -> bool:
        owner = self.slugs.setdefault(slug, article_id)
        return owner == article_id

    async def release_slugs(self, article_id: str, session: Any) -> None:
        self.slugs = {s: a for s, a in self.slugs.items() if a != article_id}

    async def release_slug(self, slug: str, session: Any) -> None:
        self.slugs.pop(slug, None)

    async def add_revision(self, revision: Revision, session: Any) -> None:
        self.revision_log.append(revision)

    async def revisions(self, article_id: str) -> list[Revision]:
        found = [r for r in self.revision_log if r.article_id == article_id]
        return sorted(found, key=lambda r: r.revision, reverse=True)


class FakeSections:
    def __init__(self, sections: list[Section] | None = None) -> None:
        self.sections = {s.slug: s for s in (sections or [])}

    async def all(self) -> list[Section]:
        return sorted(self.sections.values(), key=lambda s: (s.position, s.slug))

    async def add(self, section: Section, session: Any = None) -> bool:
        if section.slug in self.sections:
            return False
        self.sections[section.slug] = section
        return True

    async def rename(self, slug: str, name: str, session: Any) -> bool:
        if slug not in self.sections:
            return False
        self.sections[slug] = replace(self.sections[slug], name=name)
        return True

    async def set_position(self, slug: str, position: int, session: Any) -> None:
        self.sections[slug] = replace(self.sections[slug], position=position)

    async def delete(self, slug: str, session: Any = None) -> bool:
        return self.sections.pop(slug, None) is not None

    async def set_wordpress_slug(self, slug: str, wordpress_slug: str) -> None:
        self.sections[slug] = replace(self.sections[slug], wordpress_slug=wordpress_slug)

    async def seed(self, sections: list[Section]) -> None:
        if not self.sections:
            for section in sections:
                self.sections[section.slug] = section


class FakeImports(FakeImportRecords[ImportRecord]):
    def _where(self, **wanted: object) -> list[ImportRecord]:
        return [
            r for r in self.records.values() if all(getattr(r, k) == v for k, v in wanted.items())
        ]

    async def by_wordpress_id(self, wordpress_id: int) -> list[ImportRecord]:
        return self._where(wordpress_id=wordpress_id)

    async def by_path(self, path: str) -> list[ImportRecord]:
        return self._where(path=path)

    async def by_post_name(self, post_name: str) -> list[ImportRecord]:
        return self._where(post_name=post_name)


class FakeEditors:
    def __init__(self) -> None:
        self.editors: dict[str, Editor] = {}

    async def by_email(self, email: str) -> Editor | None:
        found = [e for e in self.editors.values() if e.email == email]
        return copy.copy(found[0]) if found else None

    async def by_id(self, editor_id: str) -> Editor | None:
        found = self.editors.get(editor_id)
        return copy.copy(found) if found else None

    async def add(self, editor: Editor, session: Any = None) -> bool:
        if await self.by_email(editor.email):
            return False
        self.editors[editor.id] = copy.copy(editor)
        return True

    async def update(self, editor: Editor, session: Any = None) -> None:
        self.editors[editor.id] = copy.copy(editor)

    async def take_password_link(
        self, link_hash: str, now: datetime, session: Any
    ) -> Editor | None:
        for editor in self.editors.values():
            expires = editor.password_link_expires_at
            if editor.password_link_hash == link_hash and expires is not None and expires > now:
                editor.password_link_hash = editor.password_link_expires_at = None
                return copy.copy(editor)
        return None

    async def changed_at(self, staff_id: str) -> datetime | None:
        found = self.editors.get(staff_id)
        return found.access_changed_at if found else None

    async def all(self) -> list[Editor]:
        return list(self.editors.values())


class FakeRefreshTokens:
    def __init__(self) -> None:
        self.tokens: dict[str, RefreshRecord] = {}

    async def add(self, record: RefreshRecord) -> None:
        self.tokens[record.token_hash] = record

    async def use(self, token_hash: str, now: datetime) -> RefreshRecord | None:
        record = self.tokens.get(token_hash)
        if record is None or record.expires_at <= now:
            return None
        self.tokens[token_hash] = replace(record, used=True)
        return record

    async def revoke_family(self, family: str) -> None:
        self.tokens = {h: r for h, r in self.tokens.items() if r.family != family}

    async def revoke_family_of(self, token_hash: str) -> None:
        record = self.tokens.get(token_hash)
        if record is not None:
            await self.revoke_family(record.family)

    async def revoke_editor(self, editor_id: str, session: Any) -> None:
        self.tokens = {h: r for h, r in self.tokens.items() if r.editor_id != editor_id}


class FakeAuditEntries:
    def __init__(self) -> None:
        self.entries: dict[str, AuditEntry] = {}

    async def add(self, entry: AuditEntry) -> None:
        self.entries.setdefault(entry.id, entry)

    async def page(
        self, wanted: AuditFilter, after: AuditCursor | None, limit: int
    ) -> list[AuditEntry]:
        found = [
            e
            for e in self.entries.values()
            if wanted.actor in (None, e.actor_id)
            and wanted.action in (None, e.action)
            and (wanted.since is None or e.at >= wanted.since)
            and (wanted.until is None or e.at < wanted.until)
            and (after is None or (e.at, e.id) < after)
        ]
        return sorted(found, key=lambda e: (e.at, e.id), reverse=True)[:limit]


@dataclass
class World:
    articles: FakeArticles
    sections: FakeSections
    uow: FakeUnitOfWork
    clock: TestClock
    service: ArticleService
    section_service: SectionService
    imports: FakeImports
    import_service: ImportService
    old_links: OldLinks

    def article_events(self) -> list[IntegrationEvent]:
        """The events emitted for other services, without the audit log's entries."""
        return [e for e in self.uow.events if not isinstance(e, StaffActionRecordedV1)]

    def audit(self) -> list[StaffActionRecordedV1]:
        return self.uow.of_type(StaffActionRecordedV1)


@pytest.fixture
def world() -> World:
    articles = FakeArticles()
    sections = FakeSections(SECTIONS)
    imports = FakeImports()
    uow = FakeUnitOfWork(articles, sections, imports)
    clock = TestClock()
    service = ArticleService(uow, articles, sections, clock=clock, bulk_timeout=BULK_TIMEOUT)
    return World(
        articles=articles,
        sections=sections,
        uow=uow,
        clock=clock,
        service=service,
        section_service=SectionService(uow, sections, articles, clock=clock),
        imports=imports,
        import_service=ImportService(service, imports, sections, clock=clock),
        old_links=OldLinks(service, imports, sections),
    )


@pytest.fixture
def editor() -> Principal:
    return Principal(subject="e1", role="editor", name="Ada Editor")


@dataclass
class AuthWorld:
    editors: FakeEditors
    tokens: FakeRefreshTokens
    limiter: FakeRateLimiter
    uow: FakeUnitOfWork
    clock: TestClock
    service: AuthService
    verifier: TokenVerifier
    sleeps: list[float]


@pytest.fixture(scope="session")
def fast_hasher() -> Any:
    # OWASP's floor: the cheapest parameters the settings allow, to keep unit tests quick.
    return password_hasher(19456, 2, 1)


@pytest.fixture
def auth_world(fast_hasher: Any) -> AuthWorld:
    editors, tokens, limiter = FakeEditors(), FakeRefreshTokens(), FakeRateLimiter()
    uow = FakeUnitOfWork(editors, tokens)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    clock = TestClock(now=utcnow())  # tokens are verified against the real time
    issuer = TokenIssuer(
        DEV_JWT_PRIVATE_KEY,
        issuer="broadsheet-articles",
        audience="broadsheet",
        ttl=timedelta(minutes=15),
    )
    service = AuthService(
        editors,
        tokens,
        uow,
        hasher=fast_hasher,
        issuer=issuer,
        limiter=limiter,
        limits=LoginLimits(
            per_account_client=RateLimit(3, 300),
            per_client=RateLimit(5, 300),
            slow_after_failures=RateLimit(4, 300),
            slowdown_seconds=1.5,
        ),
        refresh_ttl=timedelta(days=14),
        password_link_ttl=timedelta(hours=48),
        clock=clock,
        sleep=sleep,
    )
    verifier = TokenVerifier(
        DEV_JWT_PUBLIC_KEY, issuer="broadsheet-articles", audience="broadsheet"
    )
    return AuthWorld(editors, tokens, limiter, uow, clock, service, verifier, sleeps)
