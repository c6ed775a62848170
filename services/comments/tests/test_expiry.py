"""Client addresses stored with comments expire after the retention, swept on a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from broadsheet_comments.expiry import ClientAddressExpiry
from broadsheet_shared.testing import TestClock

pytestmark = pytest.mark.unit

RETENTION = timedelta(days=30)
START = datetime(2026, 1, 1, tzinfo=UTC)


class Comments:
    """Comments by id: (created_at, client or None once forgotten)."""

    def __init__(self, **created: datetime) -> None:
        self.rows: dict[str, tuple[datetime, str | None]] = {
            cid: (at, "203.0.113.7") for cid, at in created.items()
        }

    async def forget_clients_before(self, cutoff: datetime) -> int:
        due = [cid for cid, (at, client) in self.rows.items() if at < cutoff and client]
        for cid in due:
            self.rows[cid] = (self.rows[cid][0], None)
        return len(due)

    def clients(self) -> dict[str, str | None]:
        return {cid: client for cid, (_, client) in self.rows.items()}


async def test_a_comment_s_client_address_is_forgotten_after_the_retention() -> None:
    clock = TestClock(now=START)
    comments = Comments(old=START, new=START + timedelta(days=10))
    expiry = ClientAddressExpiry(comments, RETENTION, clock=clock)
    assert await expiry.sweep() == 0  # nothing is 30 days old yet
    clock.advance(RETENTION - timedelta(seconds=1))
    assert await expiry.sweep() == 0
    clock.advance(timedelta(seconds=2))
    assert await expiry.sweep() == 1
    assert comments.clients() == {"old": None, "new": "203.0.113.7"}
    assert await expiry.sweep() == 0  # idempotent
    clock.advance(timedelta(days=10))
    await expiry.sweep()
    assert comments.clients() == {"old": None, "new": None}


async def test_the_sweep_runs_every_interval_and_a_failure_ends_the_loop_for_its_supervisor() -> (
    None
):
    clock = TestClock(now=START + RETENTION + timedelta(days=1))
    slept: list[float] = []

    class Stop(Exception):
        pass

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            raise Stop

    comments = Comments(a=START)
    with pytest.raises(Stop):
        await ClientAddressExpiry(comments, RETENTION, clock=clock, sleep=sleep).run(3600)
    assert slept == [3600, 3600, 3600]
    assert comments.clients() == {"a": None}

    class Down(Comments):
        async def forget_clients_before(self, cutoff: datetime) -> int:
            raise ConnectionError("database down")

    with pytest.raises(ConnectionError):  # the supervisor restarts the loop with backoff
        await ClientAddressExpiry(Down(), RETENTION, clock=clock, sleep=sleep).run(3600)
