"""The gateway app: ``uvicorn --factory broadsheet_gateway.main:create_app``."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from broadsheet_gateway.api import crawlers, docs, install_page_errors, site
from broadsheet_gateway.bootstrap import bootstrap
from broadsheet_gateway.compression import Compression
from broadsheet_gateway.edge import SecurityHeadersMiddleware, cors_options
from broadsheet_gateway.fastpath import ApiFastPath
from broadsheet_gateway.old_links import OldLinks
from broadsheet_gateway.page_cache import CachedPages
from broadsheet_gateway.settings import Settings
from broadsheet_newsroom.main import create_app as create_newsroom
from broadsheet_newsroom.settings import Settings as NewsroomSettings
from broadsheet_shared.http.app import create_service_app


def create_app(
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    newsroom_settings: NewsroomSettings | None = None,
) -> FastAPI:
    settings = settings or Settings()
    container = bootstrap(settings, transport=transport, newsroom_settings=newsroom_settings)

    # Readiness checks nothing: the live feed is an extra (without Kafka the site and the API
    # still work; the SSE stream says "ready" only once the feed is connected).
    app = create_service_app(
        settings,
        title="Broadsheet",
        description="The public entrance: the reader site and every service's public API.",
        container=container,
        routers=[site, crawlers, docs],
        max_body_bytes=settings.max_body_bytes,
        # The public port: metrics have their own listener (GATEWAY_METRICS_PORT).
        metrics_route=False,
    )
    # FastAPI's own /openapi.json and /docs would describe the gateway alone; ours merge in the
    # services' documents.
    app.router.routes = [
        r
        for r in app.router.routes
        if getattr(getattr(r, "endpoint", None), "__module__", "") != "fastapi.applications"
    ]
    app.mount("/static", container.assets, name="static")
    app.mount("/newsroom", create_newsroom(container.newsroom), name="newsroom")
    install_page_errors(app)
    app.router.default = OldLinks(app.router.default, container.site)

    app.add_middleware(SecurityHeadersMiddleware)
    cors = cors_options(settings.cors_allow_origins)
    if cors is not None:
        app.add_middleware(CORSMiddleware, **cors)
    # Added last, so outermost: API calls and feed aliases skip the stack above (fastpath.py).
    app.add_middleware(ApiFastPath, container=container, cors_options=cors)
    # Pages, static files, feeds and the API's JSON alike.
    app.add_middleware(Compression)
    # Outermost: a kept article page is answered before anything else (it is kept compressed).
    app.add_middleware(CachedPages, cache=container.pages, service=settings.service_name)
    return app
