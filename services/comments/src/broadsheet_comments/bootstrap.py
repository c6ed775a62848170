"""The composition root: settings in, a wired container out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from broadsheet_comments.avatars import Avatars
from broadsheet_comments.consumers import build_router
from broadsheet_comments.domain import ModerationPolicy
from broadsheet_comments.expiry import ClientAddressExpiry
from broadsheet_comments.imports import ImportService
from broadsheet_comments.mydata import ReaderData
from broadsheet_comments.projection import ArticleProjection
from broadsheet_comments.queries import CommentQueries
from broadsheet_comments.repository import (
    INDEXES,
    MongoArticleRepository,
    MongoBanRepository,
    MongoCommentRepository,
    MongoImportRepository,
)
from broadsheet_comments.service import CommentsService, Limits
from broadsheet_comments.settings import Settings
from broadsheet_comments.tokens import EditTokens
from broadsheet_shared.addresses import AddressDigest
from broadsheet_shared.auth import TokenVerifier
from broadsheet_shared.grants import DataGrants
from broadsheet_shared.inbox import MongoInbox
from broadsheet_shared.kafka.router import EventRouter
from broadsheet_shared.ratelimit import MongoRateLimiter, RateLimit
from broadsheet_shared.runtime import ServiceRuntime
from broadsheet_shared.staff_access import MongoStaffAccess


@dataclass
class Container:
    settings: Settings
    runtime: ServiceRuntime
    articles: MongoArticleRepository
    comments: MongoCommentRepository
    bans: MongoBanRepository
    service: CommentsService
    imports: ImportService
    reader_data: ReaderData
    queries: CommentQueries
    projection: ArticleProjection
    router: EventRouter
    token_verifier: TokenVerifier
    staff_access: MongoStaffAccess
    avatars: Avatars
    expiry: ClientAddressExpiry

    async def start(self) -> None:
        await self.runtime.start(self.router)
        if self.settings.run_workers:
            interval = self.settings.client_address_sweep_interval_seconds
            self.runtime.add_task("client-address-expiry", lambda: self.expiry.run(interval))

    async def stop(self) -> None:
        await self.runtime.stop()


def policy_from(settings: Settings) -> ModerationPolicy:
    return ModerationPolicy(
        max_links=settings.max_links,
        suspect_words=tuple(settings.suspect_words),
        banned_words=tuple(settings.banned_words),
        premoderate_first_time=settings.premoderate_first_time,
    )


def bootstrap(settings: Settings) -> Container:
    digest = AddressDigest(settings.address_digest_key.get_secret_value().encode())
    avatars = Avatars(settings.avatar_key.get_secret_value().encode())
    runtime = ServiceRuntime(settings, indexes=INDEXES)
    articles = MongoArticleRepository(runtime.db)
    comments = MongoCommentRepository(runtime.db)
    bans = MongoBanRepository(runtime.db)
    window = settings.rate_limit_window_seconds
    service = CommentsService(
        articles=articles,
        comments=comments,
        bans=bans,
        uow=runtime.uow,
        limiter=MongoRateLimiter(runtime.db),
        policy=policy_from(settings),
        tokens=EditTokens(
            settings.signing_secret.get_secret_value(),
            timedelta(seconds=settings.edit_window_seconds),
        ),
        limits=Limits(
            per_client=RateLimit(settings.rate_limit_per_client, window),
            per_email=RateLimit(settings.rate_limit_per_email, window),
            duplicate_window=timedelta(seconds=settings.duplicate_window_seconds),
        ),
        digest=digest,
        avatars=avatars,
    )
    projection = ArticleProjection(articles)
    staff_access = MongoStaffAccess(runtime.db)
    reader_data = ReaderData(
        articles, comments, runtime.uow, DataGrants(settings.data_grant_key.get_secret_value())
    )
    return Container(
        settings=settings,
        runtime=runtime,
        articles=articles,
        comments=comments,
        bans=bans,
        service=service,
        imports=ImportService(
            articles=articles,
            comments=comments,
            imports=MongoImportRepository(runtime.db),
            uow=runtime.uow,
            digest=digest,
        ),
        reader_data=reader_data,
        queries=CommentQueries(articles=articles, comments=comments, digest=digest),
        projection=projection,
        router=build_router(
            projection, MongoInbox(runtime.mongo, runtime.db), staff_access, reader_data
        ),
        token_verifier=TokenVerifier(
            settings.jwt_public_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        ),
        staff_access=staff_access,
        avatars=avatars,
        expiry=ClientAddressExpiry(
            comments, timedelta(seconds=settings.client_address_retention_seconds)
        ),
    )
