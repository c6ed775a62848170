"""The resolved-path cache: made-up paths cannot make it grow without bound."""

from __future__ import annotations

from typing import cast

import pytest

from broadsheet_gateway.proxy import (
    RESOLVED_CACHE_ENTRIES,
    RESOLVED_CACHE_PATH_CHARS,
    ProxyService,
)
from broadsheet_gateway.routing import Upstream
from broadsheet_gateway.upstreams import Timeouts, UpstreamClient

pytestmark = pytest.mark.unit


def proxy() -> ProxyService:
    timeouts = Timeouts(connect=1, read=1)
    return ProxyService(
        cast(UpstreamClient, object()),
        {upstream: "http://upstream" for upstream in Upstream},
        timeouts=timeouts,
        slow_timeouts=timeouts,
        get_retries=0,
    )


def test_long_paths_are_resolved_but_never_cached() -> None:
    service = proxy()
    long_known = "/api/articles/" + "a" * 60_000
    long_unknown = "/api/nowhere/" + "b" * 60_000
    assert service.resolve(long_known) is not None
    assert service.resolve(long_unknown) is None
    assert service._resolved == {}
    assert service.resolve("/api/articles/x") is not None
    assert list(service._resolved) == ["/api/articles/x"]


def test_the_cache_holds_a_bounded_number_of_characters() -> None:
    service = proxy()
    for n in range(3 * RESOLVED_CACHE_ENTRIES):
        path = f"/api/unknown/{n}/".ljust(RESOLVED_CACHE_PATH_CHARS, "x")
        assert service.resolve(path) is None
    assert len(service._resolved) <= RESOLVED_CACHE_ENTRIES
    assert sum(map(len, service._resolved)) <= RESOLVED_CACHE_ENTRIES * RESOLVED_CACHE_PATH_CHARS
