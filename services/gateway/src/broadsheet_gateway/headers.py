"""Which headers cross the gateway, both ways: the one place for the header rules.

Hop-by-hop headers (RFC 9110 section 7.6.1, and any a ``Connection`` header names) stay behind
in both directions; the forwarding headers are ours alone. Both functions make one pass over
the headers, on the ASGI and upstream-client forms the fast path already holds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from uuid import UUID, uuid4

_cid_log = logging.getLogger("asgi_correlation_id")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# The proxy sets these itself: whatever a client wrote there must not reach a service (they
# trust the gateway's last hop).
REQUEST_DROPPED = HOP_BY_HOP | {
    "host",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "forwarded",
    "x-request-id",
}
# Content-length is set by the gateway from what it sends.
RESPONSE_DROPPED = HOP_BY_HOP | {"server", "date"}


def _connection_tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",")}


def request_headers_for_upstream(
    headers: Iterable[tuple[bytes, bytes]],
    connection: bytes | None,
    *,
    client_ip: str,
    host: str,
    scheme: str,
    request_id: str,
) -> list[tuple[str, str]]:
    """The client's headers (ASGI form; ``connection`` is its Connection header) minus the
    dropped ones, plus the forwarding headers we vouch for.

    X-Forwarded-For is replaced, not appended: the services trust the gateway's last hop.
    """
    dropped: frozenset[str] | set[str] = REQUEST_DROPPED
    if connection is not None:
        dropped = REQUEST_DROPPED | _connection_tokens(connection.decode("latin-1"))
    out = [
        (name, value)
        for name, value in (
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in headers
        )
        if name not in dropped
    ]
    out.append(("x-forwarded-for", client_ip))
    out.append(("x-forwarded-host", host))
    out.append(("x-forwarded-proto", scheme))
    out.append(("x-request-id", request_id))
    return out


def response_headers_from_upstream(
    headers: list[tuple[str, str]],
) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """The upstream's response headers minus the dropped ones (ASGI form, names lowered), and
    its Content-Length if it sent a valid one."""
    dropped: frozenset[str] | set[str] = RESPONSE_DROPPED
    for name, value in headers:
        if name.lower() == "connection":
            dropped = RESPONSE_DROPPED | _connection_tokens(value)
    out = []
    length: int | None = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-length":
            length = int(value) if value.isdigit() else None
        elif lowered not in dropped:
            out.append((lowered.encode("latin-1"), value.encode("latin-1")))
    return out, length


def _valid_request_id(value: str) -> bool:
    # asgi-correlation-id's default validator: any 32-hex-digit string (a UUID) is accepted.
    try:
        return bool(UUID(value, version=4))
    except ValueError:
        return False


def request_id_for(given: str | None) -> str:
    """The request's id as the correlation middleware gives one: the client's if it is a UUID,
    else a new one (logged, as that middleware logs it, when the client's was not valid)."""
    if given and _valid_request_id(given):
        return given
    request_id = uuid4().hex
    if given:
        _cid_log.warning(
            "Generated new request ID (%s), since request header value failed validation",
            request_id,
        )
    return request_id
