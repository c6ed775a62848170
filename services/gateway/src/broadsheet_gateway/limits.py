"""What is too much: JSON nested too deep, and too many posts from one client."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from broadsheet_shared.ratelimit import RateLimitResult


def json_depth_exceeds(body: bytes, max_depth: int) -> bool:
    """Whether JSON nesting goes deeper than ``max_depth``, without parsing the document.

    Counting brackets outside strings is enough: a document that is invalid anyway is the
    upstream's to reject, and this never builds the deep structure that would hurt us.
    """
    depth = 0
    in_string = False
    escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


@dataclass
class FixedWindowLimiter:
    """Per-client fixed windows, kept in this process.

    The gateway has no database; each replica limits on its own and the services keep their
    shared, database-backed limits behind it. Synchronous (unlike the services'
    ``RateLimiter``): it sits on the ``/api`` fast path and never waits for anything.
    """

    limit: int
    window_seconds: int
    clock: Callable[[], float]
    _counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    def hit(self, key: str) -> RateLimitResult:
        now = self.clock()
        window = int(now // self.window_seconds)
        seen_window, count = self._counts.get(key, (window, 0))
        count = count + 1 if seen_window == window else 1
        self._counts[key] = (window, count)
        if len(self._counts) > 100_000:
            self._forget_before(window)
        if count <= self.limit:
            return RateLimitResult(True, self.limit - count, 0)
        window_end = (window + 1) * self.window_seconds
        return RateLimitResult(False, 0, max(1, math.ceil(window_end - now)))

    def _forget_before(self, window: int) -> None:
        self._counts = {k: v for k, v in self._counts.items() if v[0] >= window}
