"""Least privilege on every staff route of this service: which roles each one lets through."""

from __future__ import annotations

import pytest

from broadsheet_articles.api import editor_router, public_router
from broadsheet_articles.auth_api import accounts_router, auth_router
from broadsheet_articles.import_api import import_router, redirects_router
from broadsheet_shared.testing import roles_allowed

pytestmark = pytest.mark.unit

EDITORS = frozenset({"admin", "editor"})  # write, schedule, publish, unpublish
ADMINS = frozenset({"admin"})  # staff accounts, sections, the WordPress import

EXPECTED = {
    "GET /api/editor/articles": EDITORS,
    "POST /api/editor/articles": EDITORS,
    "POST /api/editor/articles/preview": EDITORS,
    "GET /api/editor/articles/{article_id}": EDITORS,
    "PATCH /api/editor/articles/{article_id}": EDITORS,
    "DELETE /api/editor/articles/{article_id}": EDITORS,
    "GET /api/editor/articles/{article_id}/revisions": EDITORS,
    "POST /api/editor/articles/{article_id}/publish": EDITORS,
    "POST /api/editor/articles/{article_id}/unpublish": EDITORS,
    "GET /api/editor/sections": EDITORS,
    "POST /api/editor/sections": ADMINS,
    "PUT /api/editor/sections": ADMINS,
    "PATCH /api/editor/sections/{slug}": ADMINS,
    "DELETE /api/editor/sections/{slug}": ADMINS,
    "GET /api/editor/users": ADMINS,
    "POST /api/editor/users": ADMINS,
    "PATCH /api/editor/users/{editor_id}": ADMINS,
    "POST /api/editor/users/{editor_id}/password-link": ADMINS,
    "GET /api/editor/import/articles": ADMINS,
    "PUT /api/editor/import/articles/{wordpress_id}": ADMINS,
    "PUT /api/editor/import/sections/{wordpress_slug}": ADMINS,
}


async def test_each_staff_route_lets_through_exactly_its_roles() -> None:
    routers = (
        public_router,
        auth_router,
        editor_router,
        accounts_router,
        import_router,
        redirects_router,
    )
    # A moderator gets 403 on every route here; a route missing from the table (or public by
    # mistake) fails the comparison too.
    assert await roles_allowed(*routers) == EXPECTED
