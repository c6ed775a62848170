"""The ASGI app factory: ``uvicorn --factory broadsheet_notifications.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from broadsheet_notifications.api import router
from broadsheet_notifications.bootstrap import bootstrap
from broadsheet_notifications.settings import Settings
from broadsheet_notifications.smtp import Mailer
from broadsheet_shared.auth import TokenVerifier
from broadsheet_shared.http.app import create_service_app


def create_app(settings: Settings | None = None, *, mailer: Mailer | None = None) -> FastAPI:
    settings = settings or Settings()
    container = bootstrap(settings, mailer=mailer)

    app = create_service_app(
        settings,
        title="Broadsheet notifications",
        description="Reply and follow subscriptions, double opt-in, email delivery.",
        container=container,
        routers=[router],
        max_body_bytes=16_384,
    )
    app.state.readiness_checks = container.runtime.readiness_checks()
    app.state.token_verifier = TokenVerifier(
        settings.jwt_public_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    app.state.staff_access = container.staff_access
    return app
