"""The composition root: settings in, a wired container out."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

import structlog

from broadsheet_articles.audit import AuditLog
from broadsheet_articles.auth import AuthService, LoginLimits, password_hasher
from broadsheet_articles.consumers import build_router
from broadsheet_articles.feeds import Feeds
from broadsheet_articles.imports import ImportService, OldLinks
from broadsheet_articles.repository import (
    INDEXES,
    MongoArticleRepository,
    MongoAuditRepository,
    MongoEditorRepository,
    MongoImportRepository,
    MongoRefreshTokenRepository,
    MongoSectionRepository,
)
from broadsheet_articles.service import ArticleService, SectionService
from broadsheet_articles.settings import Settings
from broadsheet_articles.sitemaps import Sitemaps
from broadsheet_shared.auth import TokenIssuer, TokenVerifier
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.ratelimit import MongoRateLimiter, RateLimit
from broadsheet_shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


@dataclass
class Container:
    settings: Settings
    runtime: ServiceRuntime
    articles: ArticleService
    sections: SectionService
    feeds: Feeds
    sitemaps: Sitemaps
    auth: AuthService
    audit: AuditLog
    imports: ImportService
    old_links: OldLinks
    token_verifier: TokenVerifier
    staff_access: MongoEditorRepository
    router: EventRouter

    async def start(self) -> None:
        await self.runtime.start(self.router)
        await self.sections.seed(self.settings.default_sections)
        await self.auth.ensure_admin(
            self.settings.editor_email,
            self.settings.editor_password.get_secret_value(),
            self.settings.editor_name,
        )
        if self.settings.run_workers:
            self.runtime.add_task("scheduler", self.run_scheduler)

    async def stop(self) -> None:
        await self.runtime.stop()

    async def run_scheduler(self) -> None:
        """Publish due articles every tick; the claim itself makes it safe to run anywhere."""
        while True:
            try:
                await self.articles.publish_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must outlive database hiccups
                log.warning("scheduler tick failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.sleep(self.settings.scheduler_interval_seconds)


def bootstrap(settings: Settings) -> Container:
    runtime = ServiceRuntime(settings, indexes=INDEXES)
    article_repository = MongoArticleRepository(runtime.db)
    section_repository = MongoSectionRepository(runtime.db)
    articles = ArticleService(
        runtime.uow,
        article_repository,
        section_repository,
        bulk_timeout=settings.bulk_change_timeout_ms / 1000,
    )
    sections = SectionService(runtime.uow, section_repository, article_repository)
    audit = AuditLog(MongoAuditRepository(runtime.db))
    import_repository = MongoImportRepository(runtime.db)
    issuer = TokenIssuer(
        settings.jwt_private_key.get_secret_value(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(minutes=settings.access_token_minutes),
    )
    window = settings.login_window_seconds
    editors = MongoEditorRepository(runtime.db)
    auth = AuthService(
        editors,
        MongoRefreshTokenRepository(runtime.db),
        runtime.uow,
        hasher=password_hasher(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        ),
        issuer=issuer,
        limiter=MongoRateLimiter(runtime.db),
        limits=LoginLimits(
            per_account_client=RateLimit(settings.login_attempts_per_account_client, window),
            per_client=RateLimit(settings.login_attempts_per_client, window),
            slow_after_failures=RateLimit(settings.login_slow_after_failures, window),
            slowdown_seconds=settings.login_slowdown_seconds,
        ),
        refresh_ttl=timedelta(days=settings.refresh_token_days),
        password_link_ttl=timedelta(hours=settings.password_link_hours),
    )
    return Container(
        settings=settings,
        runtime=runtime,
        articles=articles,
        sections=sections,
        feeds=Feeds(articles, sections, size=settings.feed_size, base_url=settings.public_base_url),
        sitemaps=Sitemaps(
            articles,
            sections,
            base_url=settings.public_base_url,
            cache_seconds=settings.public_cache_seconds,
        ),
        auth=auth,
        audit=audit,
        imports=ImportService(articles, import_repository, section_repository),
        old_links=OldLinks(articles, import_repository, section_repository),
        token_verifier=TokenVerifier(
            settings.jwt_public_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        ),
        staff_access=editors,
        router=build_router(audit),
    )
