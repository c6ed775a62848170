"""The app factory: ``uvicorn --factory broadsheet_articles.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from broadsheet_articles.api import FAST_ROUTES, PublicReads, editor_router, public_router
from broadsheet_articles.audit_api import audit_router
from broadsheet_articles.auth_api import accounts_router, auth_router
from broadsheet_articles.bootstrap import bootstrap
from broadsheet_articles.import_api import import_router, redirects_router
from broadsheet_articles.settings import Settings
from broadsheet_shared.http.app import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    container = bootstrap(settings)

    app: FastAPI = create_service_app(
        settings,
        title="Broadsheet articles",
        description="Articles, sections, editors and staff tokens; public reads and feeds.",
        container=container,
        # The public reads are matched first: they are the most frequent requests.
        routers=[
            public_router,
            auth_router,
            editor_router,
            accounts_router,
            audit_router,
            import_router,
            redirects_router,
        ],
        max_body_bytes=settings.max_request_bytes,
    )
    app.state.public_reads = PublicReads.build(
        container.articles, container.sections, container.feeds, settings
    )
    app.router.routes[0:0] = FAST_ROUTES
    app.state.readiness_checks = container.runtime.readiness_checks()
    app.state.token_verifier = container.token_verifier
    app.state.staff_access = container.staff_access
    return app
