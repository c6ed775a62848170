"""The Newsroom app, mounted by the gateway at ``/newsroom`` (docs/newsroom.md says why a mount
and not a process of its own)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from broadsheet_newsroom.admin import admin_pages
from broadsheet_newsroom.api import editor_pages, session_pages
from broadsheet_newsroom.bootstrap import Container
from broadsheet_newsroom.moderation import moderation_pages
from broadsheet_newsroom.pages import install_errors
from broadsheet_newsroom.subscribers import subscribers_pages

STATIC = Path(__file__).parent / "static"


def create_app(container: Container) -> FastAPI:
    """The app over a container; the host starts and stops it (``container.stop``)."""
    app = FastAPI(title="Broadsheet Newsroom", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.container = container
    app.mount("/static", StaticFiles(directory=STATIC), name="newsroom-static")
    app.include_router(session_pages)
    app.include_router(editor_pages)
    app.include_router(moderation_pages)
    app.include_router(admin_pages)
    app.include_router(subscribers_pages)
    install_errors(app)
    return app
