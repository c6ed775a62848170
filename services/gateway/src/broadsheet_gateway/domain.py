"""The gateway's rules, free of I/O: the routing table, who the client is, what is too much,
and how a flat list of comments in display order becomes a thread."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Upstream(StrEnum):
    ARTICLES = "articles"
    COMMENTS = "comments"
    NOTIFICATIONS = "notifications"


class Speed(StrEnum):
    NORMAL = "normal"
    SLOW = "slow"


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    upstream: Upstream
    speed: Speed = Speed.NORMAL


def _route(regex: str, upstream: Upstream, speed: Speed = Speed.NORMAL) -> Route:
    return Route(re.compile(regex), upstream, speed)


_SEG = r"[^/]+"

# The one routing table. First match wins, so the more specific article sub-resources come
# before the articles catch-all.
ROUTES: tuple[Route, ...] = (
    _route(rf"^/api/articles/{_SEG}/comments(/.*)?$", Upstream.COMMENTS),
    _route(rf"^/api/articles/{_SEG}/followers/?$", Upstream.NOTIFICATIONS),
    _route(r"^/api/comments/.+$", Upstream.COMMENTS),
    _route(r"^/api/editor/comments(/.*)?$", Upstream.COMMENTS),
    _route(r"^/api/subscriptions/.+$", Upstream.NOTIFICATIONS),
    _route(r"^/api/editor/notifications(/.*)?$", Upstream.NOTIFICATIONS),
    _route(r"^/api/auth/.+$", Upstream.ARTICLES, Speed.SLOW),
    _route(r"^/api/articles/feed\.xml$", Upstream.ARTICLES, Speed.SLOW),
    _route(rf"^/api/sections/{_SEG}/feed\.xml$", Upstream.ARTICLES, Speed.SLOW),
    _route(r"^/api/articles(/.*)?$", Upstream.ARTICLES),
    _route(r"^/api/sections(/.*)?$", Upstream.ARTICLES),
    _route(r"^/api/editor/(articles|sections|users)(/.*)?$", Upstream.ARTICLES),
)


def resolve_route(path: str, routes: Sequence[Route] = ROUTES) -> Route | None:
    """The route for a request path, or None (404). Dot segments never reach an upstream."""
    if "/../" in path or path.endswith("/..") or "/./" in path or "\\" in path:
        return None
    for route in routes:
        if route.pattern.match(path):
            return route
    return None


# RFC 9110 section 7.6.1 connection-specific headers, plus the ones the proxy sets itself.
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
_REQUEST_DROPPED = HOP_BY_HOP | {
    "host",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "forwarded",
    "x-request-id",
}
_RESPONSE_DROPPED = HOP_BY_HOP | {"server", "date"}


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    tokens: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def request_headers_for_upstream(
    headers: Iterable[tuple[str, str]],
    *,
    client_ip: str,
    host: str,
    scheme: str,
    request_id: str | None,
) -> list[tuple[str, str]]:
    """The client's headers minus hop-by-hop ones, plus the forwarding headers we vouch for.

    X-Forwarded-For is replaced, not appended: the services trust the gateway's last hop, so
    whatever a client wrote there must not reach them.
    """
    items = list(headers)
    dropped = _REQUEST_DROPPED | _connection_tokens(items)
    out = [(k, v) for k, v in items if k.lower() not in dropped]
    out.append(("x-forwarded-for", client_ip))
    out.append(("x-forwarded-host", host))
    out.append(("x-forwarded-proto", scheme))
    if request_id:
        out.append(("x-request-id", request_id))
    return out


def response_headers_from_upstream(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    items = list(headers)
    dropped = _RESPONSE_DROPPED | _connection_tokens(items)
    return [(k, v) for k, v in items if k.lower() not in dropped]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _in(ip: str, networks: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: the TCP peer, unless the peer is a trusted proxy.

    Then X-Forwarded-For is walked from the right (the hops our proxies appended) and the first
    address not itself a trusted proxy is the client. Anything further left was written by the
    client and is ignored, so a forged header cannot pick its own rate-limit bucket.
    """
    current = peer or "unknown"
    if not forwarded_for or not _in(current, trusted):
        return current
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return current  # garbage in the chain: stop at the last proxy we know
        if not _in(hop, trusted):
            return hop
        current = hop
    return current


def json_depth_exceeds(body: bytes, max_depth: int) -> bool:
    """Whether JSON nesting goes deeper than ``max_depth``, without parsing the document.

    Counting brackets outside strings is enough: a document that is invalid anyway is the
    upstream's to reject, and this never builds the deep structure that would hurt us.
    """
    depth = 0
    in_string = False
    escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int


@dataclass
class FixedWindowLimiter:
    """Per-client fixed windows, kept in this process.

    The gateway has no database; each replica limits on its own and the services keep their
    shared, database-backed limits behind it.
    """

    limit: int
    window_seconds: int
    clock: Callable[[], float]
    _counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    def hit(self, key: str) -> RateDecision:
        now = self.clock()
        window = int(now // self.window_seconds)
        seen_window, count = self._counts.get(key, (window, 0))
        count = count + 1 if seen_window == window else 1
        self._counts[key] = (window, count)
        if len(self._counts) > 100_000:
            self._forget_before(window)
        if count <= self.limit:
            return RateDecision(True, 0)
        window_end = (window + 1) * self.window_seconds
        return RateDecision(False, max(1, math.ceil(window_end - now)))

    def _forget_before(self, window: int) -> None:
        self._counts = {k: v for k, v in self._counts.items() if v[0] >= window}


SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]{1,300}$")


def is_safe_segment(value: str) -> bool:
    """A slug or token that can go into an upstream path as one segment, verbatim.

    A leading dot is allowed (itsdangerous' compressed tokens start with one); the dot
    segments themselves are not.
    """
    return value not in (".", "..") and bool(SAFE_SEGMENT.fullmatch(value))


MAX_DISPLAY_DEPTH = 4


@dataclass
class CommentNode:
    comment: Mapping[str, Any]
    children: list[CommentNode] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.comment["id"])


def nest_comments(items: Sequence[Mapping[str, Any]]) -> list[CommentNode]:
    """Turn the display-ordered list (each comment followed by its replies) into a tree.

    The comments service already caps ``depth`` at 4; a reply is hung under the nearest
    preceding comment one level up, so the page nests exactly as the service ordered it, and a
    reply whose parent is on another page starts a thread of its own.
    """
    roots: list[CommentNode] = []
    stack: list[tuple[int, CommentNode]] = []
    for item in items:
        depth = max(0, min(int(item.get("depth") or 0), MAX_DISPLAY_DEPTH))
        node = CommentNode(item)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack and depth > 0:
            stack[-1][1].children.append(node)
        else:
            roots.append(node)
        stack.append((depth, node))
    return roots


def comments_heading(total: int) -> str:
    if total == 0:
        return "No Comments on this post"
    if total == 1:
        return "1 Comment on this post"
    return f"{total} Comments on this post"


NOTICES: Mapping[str, str] = {
    "pending": "Your comment is awaiting moderation.",
    "approved": "Thank you, your comment has been published.",
    "spam": "Your comment is awaiting moderation.",
    "following": "Check your inbox: we sent you a link to confirm that you follow this article.",
    "subscribed": "You already follow this article.",
}


def notice_for(code: str | None) -> str | None:
    return NOTICES.get(code) if code else None
