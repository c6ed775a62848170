"""Waiting for an event with a time limit, in the loops a service runs in the background.

Not ``asyncio.wait_for``: on Python 3.11 it swallows a cancellation that arrives just as the
wait it wraps ends (python/cpython#86296, fixed in 3.12). A loop that waits that way and is
cancelled at that moment carries on for good: a test that cancelled a relay in its idle wait
hung until pytest-timeout ended it. ``asyncio.timeout`` waits in the task itself, so a
cancellation always reaches the caller.
"""

from __future__ import annotations

import asyncio
import contextlib


async def wait_until_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; True if it is set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()
