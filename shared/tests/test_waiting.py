"""A cancelled wait always ends the task that waits."""

from __future__ import annotations

import asyncio

import pytest

from broadsheet_shared.waiting import wait_until_set

pytestmark = pytest.mark.unit


async def test_it_ends_when_the_event_is_set_or_the_time_is_up() -> None:
    event = asyncio.Event()
    assert await wait_until_set(event, 0.01) is False
    event.set()
    assert await wait_until_set(event, 10) is True


@pytest.mark.parametrize("turns", range(6))
async def test_a_cancellation_as_the_event_is_set_reaches_the_waiting_loop(turns: int) -> None:
    # A loop like the relay's: it stops only by cancellation. The event is set and the task
    # cancelled a few turns of the event loop apart; one of these turns is the moment
    # asyncio.wait_for on Python 3.11 swallows the cancellation, and the loop then runs on.
    event = asyncio.Event()

    async def idle_loop() -> None:
        while True:
            await wait_until_set(event, 10)
            event.clear()

    task = asyncio.create_task(idle_loop())
    await asyncio.sleep(0)
    event.set()
    for _ in range(turns):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
