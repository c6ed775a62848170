"""The gateway's edge against a hostile reader, through the real platform (issue 11)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from .conftest import Platform

pytestmark = pytest.mark.e2e


def _gateway_rss_kib(platform: Platform) -> int:
    gateway = next(s for s in platform.factory.started if s.name == "gateway")
    status = Path(f"/proc/{gateway.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1])


def test_distinct_long_unknown_paths_do_not_grow_the_gateway(platform: Platform) -> None:
    filler = "x" * 60_000
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:

        def ask(first: int, count: int) -> None:
            for n in range(first, first + count):
                response = client.get(f"/api/nowhere-{n}/{filler}")
                assert response.status_code == 404, response.text[:200]

        ask(0, 30)  # allocator and connection warmed up
        before = _gateway_rss_kib(platform)
        ask(30, 150)  # 9 MB of distinct paths: all of them were kept
        grown = _gateway_rss_kib(platform) - before
    assert grown < 4_000, f"the gateway grew by {grown} KiB"
