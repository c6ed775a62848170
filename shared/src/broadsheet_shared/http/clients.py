"""Who is asking: the client address that rate limits and bans are keyed on."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from pydantic import IPvAnyNetwork
from starlette.requests import Request

Network = IPv4Network | IPv6Network
# The settings type of trusted proxies: networks (``10.0.0.0/8``) or single addresses
# (``127.0.0.1``), a JSON list in the environment.
TrustedProxies = list[IPvAnyNetwork]

# A service's default: the gateway on the same machine.
LOOPBACK_PROXIES: TrustedProxies = [ip_network("127.0.0.1"), ip_network("::1")]


# One IPv6 subscriber usually holds a whole /64 (and picks addresses in it at will): limits and
# bans count the /64 as one client. An IPv4 address is one client by itself.
IPV6_CLIENT_PREFIX = 64


def in_networks(address: str, networks: Sequence[Network]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def client_address(request: Request, trusted_proxies: Sequence[Network]) -> str:
    """The TCP peer; or the last ``X-Forwarded-For`` hop when the peer is a trusted proxy (the
    gateway). Only the hop our own proxy appended counts, so a client cannot pick its identity
    by sending the header itself; a malformed hop is ignored, never trusted."""
    peer = request.client.host if request.client else "unknown"
    if not in_networks(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    try:
        return str(ip_address(hops[-1]))
    except ValueError:
        return peer


def client_key(address: str) -> str:
    """The client a limit or ban counts ``address`` as: an IPv6 address's /64 network, an IPv4
    address (or anything that is no address) as itself."""
    try:
        parsed = ip_address(address.strip())
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    return str(ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
