"""The one clock reading every service stores: UTC, at the millisecond precision BSON keeps.

Truncating on the way in keeps values equal after a round trip through MongoDB, so fakes and the
real database agree and no page shows a six-digit fraction of a second.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
