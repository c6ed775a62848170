from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from broadsheet_articles.audit import AuditLog
from broadsheet_articles.consumers import build_router
from broadsheet_articles.domain import AuditFilter
from broadsheet_shared.audit import StaffAction, recorded, sign_in_failed
from broadsheet_shared.auth import Principal
from broadsheet_shared.errors import InvalidRequest
from broadsheet_shared.events import StaffActionRecordedV1

from .conftest import FakeAuditEntries

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADA = Principal("a1", "admin", "Ada", client="198.51.100.7")
MO = Principal("m1", "moderator", "Mo", client="203.0.113.9")


def entry(actor: Principal, action: StaffAction, minutes: int) -> StaffActionRecordedV1:
    at = T0 + timedelta(minutes=minutes)
    return recorded(actor, action, "target", source="comments", at=at)


async def test_the_consumer_keeps_each_entry_once_whatever_the_redeliveries() -> None:
    entries = FakeAuditEntries()
    router = build_router(AuditLog(entries))
    event = entry(MO, StaffAction.COMMENT_APPROVED, 0)
    await router.dispatch(event)
    await router.dispatch(event)
    [kept] = entries.entries.values()
    assert (kept.id, kept.source, kept.actor_id, kept.action, kept.client, kept.at) == (
        str(event.id),
        "comments",
        "m1",
        "comment.approved",
        "203.0.113.9",
        T0,
    )


async def test_the_log_is_newest_first_filtered_and_paged() -> None:
    log = AuditLog(FakeAuditEntries())
    events = [
        entry(ADA, StaffAction.ARTICLE_PUBLISHED, 0),
        entry(MO, StaffAction.COMMENT_APPROVED, 1),
        sign_in_failed("who@example.org", "192.0.2.1", at=T0 + timedelta(minutes=2)),
        entry(ADA, StaffAction.ARTICLE_UNPUBLISHED, 3),
        entry(MO, StaffAction.COMMENT_APPROVED, 4),
    ]
    for event in events:
        await log.record(event)
    ids = [str(e.id) for e in events][::-1]

    first, cursor = await log.page(AuditFilter(), None, 2)
    assert [e.id for e in first] == ids[:2]
    assert cursor is not None
    second, cursor = await log.page(AuditFilter(), cursor, 2)
    assert [e.id for e in second] == ids[2:4]
    last, cursor = await log.page(AuditFilter(), cursor, 2)
    assert ([e.id for e in last], cursor) == (ids[4:], None)

    by_actor, _ = await log.page(AuditFilter(actor="m1"), None, 10)
    assert [e.id for e in by_actor] == [ids[0], ids[3]]
    by_action, _ = await log.page(AuditFilter(action="staff.sign_in_failed"), None, 10)
    assert [(e.actor_id, e.actor_name) for e in by_action] == [(None, "who@example.org")]
    window = AuditFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    in_window, _ = await log.page(window, None, 10)
    assert [e.id for e in in_window] == [ids[2], ids[3]]


async def test_a_cursor_of_another_shape_is_refused_as_a_bad_request() -> None:
    with pytest.raises(InvalidRequest):
        await AuditLog(FakeAuditEntries()).page(AuditFilter(), "1.not-an-event-id", 10)
