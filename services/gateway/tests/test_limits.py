import pytest

from broadsheet_gateway.limits import FixedWindowLimiter, json_depth_exceeds

pytestmark = pytest.mark.unit


def test_json_depth() -> None:
    assert not json_depth_exceeds(b'{"a": [1, {"b": 2}]}', 3)
    assert json_depth_exceeds(b'{"a": [1, {"b": [2]}]}', 3)
    # Brackets inside strings do not count, escaped quotes do not end strings.
    assert not json_depth_exceeds(b'{"a": "[[[[[\\"[[[["}', 1)
    assert json_depth_exceeds(b"[" * 10_000, 20)


def test_fixed_window_limiter() -> None:
    now = [1000.0]
    limiter = FixedWindowLimiter(2, 60, lambda: now[0])
    first = limiter.hit("a")
    assert first.allowed
    assert first.remaining == 1
    assert limiter.hit("a").allowed
    third = limiter.hit("a")
    assert not third.allowed
    assert third.retry_after == 20  # window 960..1020
    assert limiter.hit("b").allowed
    now[0] = 1021.0
    assert limiter.hit("a").allowed
