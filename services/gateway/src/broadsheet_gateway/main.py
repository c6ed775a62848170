"""The gateway app: ``uvicorn --factory broadsheet_gateway.main:create_app``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles

from broadsheet_gateway.api import PROXY_METHODS, docs, error_page, proxy, site
from broadsheet_gateway.bootstrap import STATIC, Container, bootstrap
from broadsheet_gateway.edge import SecurityHeadersMiddleware
from broadsheet_gateway.fastpath import ApiFastPath
from broadsheet_gateway.service import PageError, Redirect
from broadsheet_gateway.settings import Settings
from broadsheet_shared.auth import TokenVerifier
from broadsheet_shared.http.app import create_service_app


def create_app(
    settings: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or Settings()
    container = bootstrap(settings, transport=transport)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task: asyncio.Task[None] | None = None
        # Modules, settings and templates live as long as the process: keeping them out of the
        # cyclic collector's generations shortens the pauses that would land in page p99.
        gc.collect()
        gc.freeze()
        if container.live_feed is not None:
            task = asyncio.create_task(container.live_feed.run(), name="live-feed")
        try:
            yield
        finally:
            if container.live_feed is not None:
                await container.live_feed.stop()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await container.client.aclose()

    app = create_service_app(
        settings,
        title="Broadsheet",
        description="The public entrance: the reader site and every service's public API.",
        lifespan=lifespan,
        routers=[site, docs],
        max_body_bytes=settings.max_body_bytes,
    )
    # FastAPI's own /openapi.json and /docs would describe the gateway alone; ours merge in the
    # services' documents.
    app.router.routes = [
        r
        for r in app.router.routes
        if getattr(getattr(r, "endpoint", None), "__module__", "") != "fastapi.applications"
    ]
    app.add_route("/api/{path:path}", proxy, methods=PROXY_METHODS, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.container = container
    app.state.token_verifier = TokenVerifier(
        settings.jwt_public_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    app.state.readiness_checks = readiness_checks(container)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> HTMLResponse:
        return error_page(request, exc)

    @app.exception_handler(Redirect)
    async def _redirect(_: Request, exc: Redirect) -> HTMLResponse:
        return HTMLResponse("", status_code=exc.status, headers={"Location": exc.location})

    app.add_middleware(SecurityHeadersMiddleware)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Edit-Token", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Location"],
            max_age=600,
        )
    # Added last, so outermost: the /api/ pass-through skips the stack above (fastpath.py).
    app.add_middleware(ApiFastPath, container=container, cors=bool(settings.cors_allow_origins))
    return app


def readiness_checks(container: Container) -> dict[str, object]:
    # The live feed is an extra: without Kafka the site and the API still work, so it does not
    # make the gateway unready (the SSE stream says "ready" only once the feed is connected).
    return {}
