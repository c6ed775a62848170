"""Rate limits kept in the service's own MongoDB database, as sliding-window counters.

Shared by every replica of a service (unlike an in-process counter) and cheap: one atomic
update per hit on one document per key. A plain fixed window lets a client spend its limit at
the end of one window and again at the start of the next (twice the rate across the boundary);
the sliding-window counter (as Cloudflare and others use) weighs the previous window's count by
how much of it still lies inside the last ``window_seconds``:

    estimate = previous_count * (1 - elapsed_in_window / window) + current_count

Documents expire through a TTL index.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from broadsheet_shared.errors import RateLimited
from broadsheet_shared.mongo import Database, IndexSpec

RATE_LIMITS = "rate_limits"

RATE_LIMIT_INDEXES = [
    IndexSpec(RATE_LIMITS, [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)])
]


@dataclass(frozen=True)
class RateLimit:
    limit: int
    window_seconds: int


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    remaining: int
    retry_after: int


def _roll_and_count(
    window_start: int, elapsed: float, rule: RateLimit, expires_at: datetime
) -> list[dict[str, Any]]:
    """One pipeline update, atomic on the key's document. Stage 1 moves it to ``window_start``
    if it is in an older window (the count becomes ``previous`` if that was the window just
    before, else 0); stage 2 counts the hit only if the estimate with it stays within the limit,
    so refused hits do not push the client's next chance further away."""
    same = {"$eq": ["$start", window_start]}
    previous_window = {"$eq": ["$start", window_start - rule.window_seconds]}
    estimate = {"$add": [{"$multiply": ["$previous", 1 - elapsed]}, "$count", 1]}
    allowed = {"$lte": [estimate, rule.limit]}
    return [
        {
            "$set": {
                "previous": {
                    "$cond": [same, "$previous", {"$cond": [previous_window, "$count", 0]}]
                },
                "count": {"$cond": [same, "$count", 0]},
                "start": window_start,
                "expires_at": expires_at,
            }
        },
        {
            "$set": {
                "count": {"$cond": [allowed, {"$add": ["$count", 1]}, "$count"]},
                "allowed": allowed,
            }
        },
    ]


class RateLimiter(Protocol):
    async def hit(self, key: str, rule: RateLimit) -> RateLimitResult:
        """Count one hit on ``key`` if ``rule`` allows it, and say whether it did."""
        ...

    async def reset(self, key: str) -> None:
        """Forget ``key``'s hits (e.g. a client's failed sign-ins once it signs in)."""
        ...


class MongoRateLimiter:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._collection = db[RATE_LIMITS]
        self._clock = clock

    async def hit(self, key: str, rule: RateLimit) -> RateLimitResult:
        now = self._clock()
        window = rule.window_seconds
        window_start = math.floor(now / window) * window
        elapsed = (now - window_start) / window
        # Kept while it can still weigh on the next window.
        expires_at = datetime.fromtimestamp(window_start + 2 * window, UTC) + timedelta(seconds=1)
        doc = await self._count(
            key, _roll_and_count(window_start, elapsed, rule, expires_at), expires_at
        )
        count, previous = int(doc["count"]), int(doc["previous"])
        estimate = previous * (1 - elapsed) + count
        if doc["allowed"]:
            return RateLimitResult(True, max(0, math.floor(rule.limit - estimate)), 0)
        return RateLimitResult(False, 0, _retry_after(now, window_start, previous, count, rule))

    async def reset(self, key: str) -> None:
        await self._collection.delete_one({"_id": key})

    async def _count(
        self, key: str, update: list[dict[str, Any]], expires_at: datetime
    ) -> dict[str, Any]:
        # Not an upsert: concurrent first hits of a key would race to insert its document, and
        # secantusd-py answers a losing upsert with DuplicateKeyError or with no document after
        # counting it (MongoDB retries such upserts itself). So: count on an existing document;
        # if there is none, create an empty one (a hit that loses this race just goes on) and
        # count again. Nothing is counted twice.
        for _ in range(3):
            doc = await self._collection.find_one_and_update(
                {"_id": key}, update, return_document=ReturnDocument.AFTER
            )
            if doc is not None:
                return doc
            with contextlib.suppress(DuplicateKeyError):
                await self._collection.insert_one(
                    {"_id": key, "start": 0, "count": 0, "previous": 0, "expires_at": expires_at}
                )
        raise RuntimeError(f"rate limit document {key!r} neither found nor inserted")


def _retry_after(now: float, window_start: int, previous: int, count: int, rule: RateLimit) -> int:
    """Seconds until one more hit would be allowed, if nothing else is counted meanwhile: at
    most one window plus ``window / limit``."""
    window = rule.window_seconds
    room = rule.limit - 1  # the estimate must fall to this for one more hit to fit
    if count <= room and previous > 0:
        # Within this window, as the previous window's weight fades.
        fade_until = window_start + window * (1 - (room - count) / previous)
        return max(1, math.ceil(fade_until - now))
    # This window is full: in the next one its count is what fades.
    fade = window * (1 - room / count) if count > 0 else 0.0
    return max(1, math.ceil(window_start + window + fade - now))


def raise_if_limited(result: RateLimitResult) -> None:
    if not result.allowed:
        raise RateLimited(result.retry_after)
