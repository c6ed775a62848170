from __future__ import annotations

import pytest
from starlette.requests import Request

from broadsheet_shared.http.clients import client_address

pytestmark = pytest.mark.unit

GATEWAY = ["127.0.0.1"]


def request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "client": (peer, 5000), "headers": headers})


def test_untrusted_peer_is_the_client_whatever_it_claims() -> None:
    assert client_address(request("203.0.113.9", "198.51.100.1"), GATEWAY) == "203.0.113.9"


def test_trusted_proxy_passes_on_the_hop_it_appended() -> None:
    # The client sent "1.2.3.4" itself; the gateway appended the real peer last.
    assert client_address(request("127.0.0.1", "1.2.3.4, 198.51.100.7"), GATEWAY) == (
        "198.51.100.7"
    )


@pytest.mark.parametrize("forwarded", [None, "", "not-an-ip", "1.2.3.4, "])
def test_missing_or_malformed_hop_falls_back_to_the_peer(forwarded: str | None) -> None:
    assert client_address(request("127.0.0.1", forwarded), GATEWAY) == "127.0.0.1"
