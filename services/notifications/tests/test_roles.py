"""Least privilege on every staff route of this service: which roles each one lets through."""

from __future__ import annotations

import pytest

from broadsheet_notifications.api import router
from broadsheet_shared.testing import roles_allowed

pytestmark = pytest.mark.unit

# The delivery ledger holds readers' addresses; suppressing one is a moderator's call.
MODERATORS = frozenset({"admin", "moderator"})
STAFF = frozenset({"admin", "editor", "moderator"})  # a count names no one

EXPECTED = {
    "GET /api/editor/notifications/deliveries": MODERATORS,
    "GET /api/editor/notifications/deliveries/count": STAFF,
    "POST /api/editor/notifications/deliveries/{delivery_id}/retry": MODERATORS,
    "POST /api/editor/notifications/suppressions": MODERATORS,
}


async def test_each_staff_route_lets_through_exactly_its_roles() -> None:
    assert await roles_allowed(router) == EXPECTED
