from __future__ import annotations

from datetime import timedelta

import pytest

from broadsheet_newsroom.session import SessionStore
from broadsheet_shared.auth import Principal
from broadsheet_shared.testing import TestClock

pytestmark = pytest.mark.unit

ED = Principal("ed-1", "editor", "Ed Itor")


def store(clock: TestClock, max_sessions: int = 10) -> SessionStore:
    return SessionStore(
        idle=timedelta(minutes=30),
        lifetime=timedelta(hours=12),
        max_sessions=max_sessions,
        clock=clock,
    )


def test_a_session_ends_after_the_idle_timeout_and_use_keeps_it_alive() -> None:
    clock = TestClock()
    sessions = store(clock)
    session = sessions.start(ED, "access", 900, "refresh")
    clock.advance(minutes=29)
    assert sessions.get(session.id) is session  # used: the idle clock starts again
    clock.advance(minutes=29)
    assert sessions.get(session.id) is session
    clock.advance(minutes=31)
    assert sessions.get(session.id) is None
    clock.advance(minutes=-31)
    assert sessions.get(session.id) is None  # forgotten, not merely hidden


def test_a_session_ends_at_its_absolute_lifetime_however_busy() -> None:
    clock = TestClock()
    sessions = store(clock)
    session = sessions.start(ED, "access", 900, "refresh")
    for _ in range(12 * 3):  # used every 20 minutes, up to 12 hours after sign-in
        clock.advance(minutes=20)
        assert sessions.get(session.id) is session
    clock.advance(minutes=1)
    assert sessions.get(session.id) is None


def test_ids_are_unguessable_and_unknown_or_ended_ids_name_nothing() -> None:
    sessions = store(TestClock())
    first = sessions.start(ED, "a", 900, "r")
    second = sessions.start(ED, "a", 900, "r")
    assert first.id != second.id
    assert len(first.id) >= 40
    assert first.csrf != second.csrf
    assert sessions.get(None) is None
    assert sessions.get("forged") is None
    sessions.end(first.id)
    assert sessions.get(first.id) is None
    assert sessions.get(second.id) is second


def test_the_oldest_session_goes_when_the_store_is_full() -> None:
    sessions = store(TestClock(), max_sessions=2)
    first, second, third = (sessions.start(ED, "a", 900, "r") for _ in range(3))
    assert sessions.get(first.id) is None
    assert sessions.get(second.id) is second
    assert sessions.get(third.id) is third


def test_the_csrf_token_must_match_exactly() -> None:
    session = store(TestClock()).start(ED, "a", 900, "r")
    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches(None)
    assert not session.csrf_matches("")
    assert not session.csrf_matches(session.csrf[:-1])
