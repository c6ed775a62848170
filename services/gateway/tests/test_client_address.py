from ipaddress import ip_network

import pytest

from broadsheet_gateway.client_address import client_ip

pytestmark = pytest.mark.unit


def test_client_ip_is_the_peer_when_the_peer_is_not_trusted() -> None:
    trusted = [ip_network(net) for net in ("10.0.0.0/8",)]
    assert client_ip("203.0.113.9", "1.2.3.4", trusted) == "203.0.113.9"


def test_client_ip_walks_forwarded_for_from_the_right_past_trusted_hops() -> None:
    trusted = [ip_network(net) for net in ("10.0.0.0/8", "127.0.0.1")]
    # The leftmost entry was written by the client and must be ignored.
    assert client_ip("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.1.2.3", trusted) == "198.51.100.7"


def test_client_ip_stops_at_garbage_in_the_chain() -> None:
    trusted = [ip_network(net) for net in ("127.0.0.1",)]
    assert client_ip("127.0.0.1", "not-an-ip", trusted) == "127.0.0.1"
