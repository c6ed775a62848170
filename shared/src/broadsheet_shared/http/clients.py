"""Who is asking: the client address that rate limits and bans are keyed on."""

from __future__ import annotations

from collections.abc import Collection
from ipaddress import ip_address

from starlette.requests import Request


def client_address(request: Request, trusted_proxies: Collection[str]) -> str:
    """The TCP peer; or the last ``X-Forwarded-For`` hop when the peer is a trusted proxy (the
    gateway). Only the hop our own proxy appended counts, so a client cannot pick its identity
    by sending the header itself; a malformed hop is ignored, never trusted."""
    peer = request.client.host if request.client else "unknown"
    if peer not in trusted_proxies:
        return peer
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    try:
        return str(ip_address(hops[-1]))
    except ValueError:
        return peer
