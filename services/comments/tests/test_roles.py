"""Least privilege on every staff route of this service: which roles each one lets through."""

from __future__ import annotations

import pytest

from broadsheet_comments.api import public_router, staff_router
from broadsheet_comments.import_api import import_router
from broadsheet_shared.testing import roles_allowed

pytestmark = pytest.mark.unit

# Moderation shows commenters' emails and client addresses: never to an editor.
MODERATORS = frozenset({"admin", "moderator"})
STAFF = frozenset({"admin", "editor", "moderator"})  # a count names no one
ADMINS = frozenset({"admin"})  # the WordPress import

EXPECTED = {
    "GET /api/editor/comments": MODERATORS,
    "GET /api/editor/comments/count": STAFF,
    "GET /api/editor/comments/search": MODERATORS,
    "POST /api/editor/comments/{comment_id:comment_id}/approve": MODERATORS,
    "POST /api/editor/comments/{comment_id:comment_id}/reject": MODERATORS,
    "POST /api/editor/comments/{comment_id:comment_id}/spam": MODERATORS,
    "DELETE /api/editor/comments/{comment_id:comment_id}": MODERATORS,
    "POST /api/editor/comments/moderate": MODERATORS,
    "GET /api/editor/comments/bans": MODERATORS,
    "POST /api/editor/comments/bans": MODERATORS,
    "DELETE /api/editor/comments/bans/{ban_id}": MODERATORS,
    "GET /api/editor/import/comments": ADMINS,
    "PUT /api/editor/import/comments/{wordpress_id}": ADMINS,
}


async def test_each_staff_route_lets_through_exactly_its_roles() -> None:
    assert await roles_allowed(public_router, staff_router, import_router) == EXPECTED
