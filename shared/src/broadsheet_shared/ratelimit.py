"""Fixed-window rate limits kept in the service's own MongoDB database.

Shared by every replica of a service (unlike an in-process counter) and cheap: one upsert with
``$inc`` per hit. Windows expire through a TTL index.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo import ASCENDING, IndexModel, ReturnDocument

from broadsheet_shared.http.problems import Problem
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


class MongoRateLimiter:
    def __init__(self, db: Database) -> None:
        self._collection = db[RATE_LIMITS]

    async def hit(self, key: str, rule: RateLimit) -> RateLimitResult:
        now = time.time()
        window_start = math.floor(now / rule.window_seconds) * rule.window_seconds
        window_end = window_start + rule.window_seconds
        doc = await self._collection.find_one_and_update(
            {"_id": f"{key}:{window_start}"},
            {
                "$inc": {"count": 1},
                "$setOnInsert": {
                    "expires_at": datetime.fromtimestamp(window_end, UTC) + timedelta(seconds=60)
                },
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        count = int(doc["count"]) if doc else 1
        allowed = count <= rule.limit
        return RateLimitResult(
            allowed=allowed,
            remaining=max(0, rule.limit - count),
            retry_after=0 if allowed else max(1, math.ceil(window_end - now)),
        )


def raise_if_limited(result: RateLimitResult) -> None:
    """429 with Retry-After when the limit is exhausted."""
    if not result.allowed:
        raise Problem(
            429,
            "Too many requests. Please wait a moment and try again.",
            headers={"Retry-After": str(result.retry_after)},
            retry_after=result.retry_after,
        )
