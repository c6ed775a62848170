"""The ASGI app: ``uvicorn --factory broadsheet_comments.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from broadsheet_comments.api import public_router, staff_router
from broadsheet_comments.bootstrap import bootstrap
from broadsheet_comments.import_api import import_router
from broadsheet_comments.settings import Settings
from broadsheet_shared.http.app import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    container = bootstrap(settings)

    app: FastAPI = create_service_app(
        settings,
        title="Broadsheet comments",
        description="Threaded comments on published articles, moderation and counts.",
        container=container,
        routers=[public_router, staff_router, import_router],
        max_body_bytes=settings.max_request_bytes,
    )
    app.state.service = container.service
    app.state.imports = container.imports
    app.state.queries = container.queries
    app.state.avatars = container.avatars
    app.state.reader_data = container.reader_data
    app.state.readiness_checks = container.runtime.readiness_checks()
    app.state.token_verifier = container.token_verifier
    app.state.staff_access = container.staff_access
    return app
