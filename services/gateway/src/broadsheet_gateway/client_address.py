"""Who the client is: the TCP peer, or what trusted proxies in front of us say it is."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from broadsheet_shared.http.clients import Network, in_networks


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: the TCP peer, unless the peer is a trusted proxy.

    Then X-Forwarded-For is walked from the right (the hops our proxies appended) and the first
    address not itself a trusted proxy is the client. Anything further left was written by the
    client and is ignored, so a forged header cannot pick its own rate-limit bucket.
    """
    current = peer or "unknown"
    if not forwarded_for or not in_networks(current, trusted):
        return current
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return current  # garbage in the chain: stop at the last proxy we know
        if not in_networks(hop, trusted):
            return hop
        current = hop
    return current
