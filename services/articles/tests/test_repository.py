"""Repositories on the real database, as the fakes promise: the audit log (one entry per event,
newest first, filters and keyset pages), set-password links (spent once, not after expiry) and
section positions."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from broadsheet_articles.domain import AuditEntry, AuditFilter, Editor, Section
from broadsheet_articles.repository import (
    AUDIT,
    INDEXES,
    MongoAuditRepository,
    MongoEditorRepository,
    MongoSectionRepository,
)
from broadsheet_shared.mongo import ensure_indexes

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest_asyncio.fixture(loop_scope="session")
async def db(infra: Any) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    database = client[f"t{secrets.token_hex(4)}_articles_repo"]
    await ensure_indexes(database, INDEXES)
    yield database
    await client.drop_database(database.name)
    await client.close()


def entry(actor: str | None, action: str, minutes: int) -> AuditEntry:
    return AuditEntry(
        id=str(uuid4()),
        source="articles",
        actor_id=actor,
        actor_name=actor or "who@example.org",
        actor_role="admin" if actor else None,
        action=action,
        target="t",
        details={"k": "v"},
        client="192.0.2.1",
        at=T0 + timedelta(minutes=minutes),
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_the_audit_log_keeps_an_event_once_and_pages_newest_first(db: Any) -> None:
    audit = MongoAuditRepository(db)
    entries = [
        entry("a1", "article.published", 0),
        entry(None, "staff.sign_in_failed", 1),
        entry("a1", "article.unpublished", 1),  # the same time: the id orders them
        entry("m1", "comment.approved", 2),
    ]
    for e in entries:
        await audit.add(e)
    await audit.add(entries[0])  # delivered again
    assert await db[AUDIT].count_documents({}) == 4

    newest = sorted(entries, key=lambda e: (e.at, e.id), reverse=True)
    first = await audit.page(AuditFilter(), None, 2)
    assert first == newest[:2]
    rest = await audit.page(AuditFilter(), (first[-1].at, first[-1].id), 10)
    assert rest == newest[2:]
    assert [e.id for e in await audit.page(AuditFilter(actor="a1"), None, 10)] == [
        e.id for e in newest if e.actor_id == "a1"
    ]
    failed = await audit.page(AuditFilter(action="staff.sign_in_failed"), None, 10)
    assert failed == [entries[1]]
    window = AuditFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2))
    assert {e.id for e in await audit.page(window, None, 10)} == {entries[1].id, entries[2].id}


@pytest.mark.asyncio(loop_scope="session")
async def test_a_set_password_link_is_taken_once_and_not_after_it_expires(db: Any) -> None:
    editors = MongoEditorRepository(db)
    editor = Editor(
        id=str(uuid4()),
        email=f"{secrets.token_hex(3)}@example.org",
        name="Nell",
        role="moderator",
        password_hash="x",
        disabled=False,
        created_at=T0,
        password_link_hash="h1",
        password_link_expires_at=T0 + timedelta(hours=48),
    )
    await editors.add(editor)
    assert await editors.take_password_link("h1", T0 + timedelta(hours=49), None) is None
    taken = await editors.take_password_link("h1", T0 + timedelta(hours=1), None)
    assert taken is not None
    assert (taken.id, taken.password_link_hash, taken.password_link_expires_at) == (
        editor.id,
        None,
        None,
    )
    assert await editors.take_password_link("h1", T0 + timedelta(hours=1), None) is None


@pytest.mark.asyncio(loop_scope="session")
async def test_sections_are_listed_by_their_position(db: Any) -> None:
    sections = MongoSectionRepository(db)
    for i, name in enumerate(("World", "Opinion", "Sport")):
        await sections.add(Section(slug=name.lower(), name=name, position=i))
    for position, slug in enumerate(("sport", "world", "opinion")):
        await sections.set_position(slug, position, None)
    assert [s.slug for s in await sections.all()] == ["sport", "world", "opinion"]
