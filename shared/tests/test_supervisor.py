"""The supervisor: a background loop that raises or returns is started again after a growing
backoff, the service is not ready while it waits, and every restart is counted."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from fastapi import FastAPI

from broadsheet_shared.http.app import health_router
from broadsheet_shared.supervisor import TASK_RESTARTS, Supervisor

pytestmark = pytest.mark.unit


class Clock:
    """Stands in for asyncio.sleep: records each backoff and lets the test release it."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self.release = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await self.release.wait()
        self.release.clear()


def restarts(service: str, task: str) -> float:
    value = TASK_RESTARTS.labels(service, task)._value.get()
    return float(value)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_failing_task_is_restarted_with_backoff_and_not_ready_meanwhile() -> None:
    clock = Clock()
    supervisor = Supervisor("svc-a", initial_backoff=0.5, max_backoff=2.0, sleep=clock.sleep)
    runs = 0
    healthy = asyncio.Event()

    async def dies_three_times() -> None:
        nonlocal runs
        runs += 1
        if runs <= 3:
            raise RuntimeError("dead-letter publish failed")
        healthy.set()
        await asyncio.Event().wait()  # runs until cancelled

    supervisor.spawn("consumer", dies_three_times)
    try:
        for attempt in range(3):
            await settle()
            assert supervisor.down == {"consumer"}
            assert not await supervisor.ready()
            assert restarts("svc-a", "consumer") == attempt
            clock.release.set()
        await asyncio.wait_for(healthy.wait(), 1)
        assert await supervisor.ready()
        assert clock.slept == [0.5, 1.0, 2.0]  # doubling, capped at max_backoff
        assert restarts("svc-a", "consumer") == 3
        assert runs == 4
    finally:
        await supervisor.stop()


async def test_a_task_that_returns_is_restarted_too() -> None:
    clock = Clock()
    supervisor = Supervisor("svc-b", sleep=clock.sleep)
    runs = 0

    async def returns() -> None:
        nonlocal runs
        runs += 1

    supervisor.spawn("scheduler", returns)
    try:
        await settle()
        assert supervisor.down == {"scheduler"}
        clock.release.set()
        await settle()
        assert runs == 2
        assert restarts("svc-b", "scheduler") == 1
    finally:
        await supervisor.stop()


async def test_stop_cancels_a_running_task_without_counting_a_restart() -> None:
    supervisor = Supervisor("svc-c")
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    supervisor.spawn("relay", forever)
    await settle()
    await supervisor.stop()
    assert cancelled.is_set()
    assert restarts("svc-c", "relay") == 0
    assert await supervisor.ready()


async def test_readyz_answers_503_while_a_task_is_down() -> None:
    clock = Clock()
    supervisor = Supervisor("svc-d", sleep=clock.sleep)

    async def dies() -> None:
        raise RuntimeError("boom")

    app = FastAPI()
    app.include_router(health_router(lambda: {"tasks": supervisor.ready}))
    supervisor.spawn("delivery-worker", dies)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://svc"
        ) as client:
            await settle()
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["checks"] == {"tasks": "down"}
    finally:
        await supervisor.stop()
    assert await supervisor.ready()


async def test_a_loop_that_ends_as_it_is_stopped_is_not_restarted() -> None:
    # A loop may return instead of raising when cancelled: the relay returns once asked to
    # stop, and Python 3.11's wait_for can swallow a cancellation that meets a finished wait.
    supervisor = Supervisor("svc-e", initial_backoff=0.01)
    runs = 0

    async def swallows_cancellation() -> None:
        nonlocal runs
        runs += 1
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()

    supervisor.spawn("relay", swallows_cancellation)
    await settle()
    await asyncio.wait_for(supervisor.stop(), 2)
    assert runs == 1
    assert restarts("svc-e", "relay") == 0
