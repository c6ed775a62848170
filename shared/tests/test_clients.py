from __future__ import annotations

import pytest
from starlette.requests import Request

from broadsheet_shared.http.clients import (
    LOOPBACK_PROXIES,
    Network,
    TrustedProxies,
    client_address,
    client_key,
)
from broadsheet_shared.http.metrics import method_label
from broadsheet_shared.settings import ServiceSettings

pytestmark = pytest.mark.unit

GATEWAY: list[Network] = LOOPBACK_PROXIES


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


class _ProxySettings(ServiceSettings):
    trusted_proxies: TrustedProxies = []


def test_trusted_proxies_are_networks_and_single_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", '["172.28.0.0/16", "10.1.2.3", "fd00::/8"]')
    trusted = _ProxySettings().trusted_proxies
    for proxy in ("172.28.5.9", "10.1.2.3", "fd00::5"):
        assert client_address(request(proxy, "198.51.100.7"), trusted) == "198.51.100.7"
    for stranger in ("172.29.0.1", "10.1.2.4", "2001:db8::1"):
        assert client_address(request(stranger, "198.51.100.7"), trusted) == stranger


def test_loopback_is_trusted_by_default_in_both_families() -> None:
    assert client_address(request("::1", "198.51.100.7"), GATEWAY) == "198.51.100.7"


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::", "2001:db8:1:2::/64"),
        ("unknown", "unknown"),
    ],
)
def test_a_client_is_an_ipv4_address_or_an_ipv6_64(address: str, key: str) -> None:
    assert client_key(address) == key


def test_made_up_methods_share_one_metrics_label() -> None:
    assert method_label("PATCH") == "PATCH"
    assert method_label("FROBNICATE") == "OTHER"
