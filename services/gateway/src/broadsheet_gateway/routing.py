"""Where a request goes: the routing table of ``/api/…``, the reader site's feed aliases, and
which slugs and tokens may stand in an upstream path."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote


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
    _route(r"^/api/editor/import/comments(/.*)?$", Upstream.COMMENTS),
    _route(r"^/api/subscriptions/.+$", Upstream.NOTIFICATIONS),
    # A reader's comments, on notifications' grant; the rest of my-data is notifications'.
    _route(r"^/api/my-data/comments$", Upstream.COMMENTS),
    _route(r"^/api/my-data(/.*)?$", Upstream.NOTIFICATIONS),
    _route(r"^/api/editor/notifications(/.*)?$", Upstream.NOTIFICATIONS),
    _route(r"^/api/auth/.+$", Upstream.ARTICLES, Speed.SLOW),
    _route(r"^/api/articles/feed\.xml$", Upstream.ARTICLES, Speed.SLOW),
    _route(r"^/api/(news-)?sitemap\.xml$", Upstream.ARTICLES, Speed.SLOW),
    _route(rf"^/api/sitemaps/{_SEG}\.xml$", Upstream.ARTICLES, Speed.SLOW),
    _route(rf"^/api/sections/{_SEG}/feed\.xml$", Upstream.ARTICLES, Speed.SLOW),
    _route(rf"^/api/tags/{_SEG}/feed\.xml$", Upstream.ARTICLES, Speed.SLOW),
    _route(rf"^/api/authors/{_SEG}/feed\.xml$", Upstream.ARTICLES, Speed.SLOW),
    _route(r"^/api/articles(/.*)?$", Upstream.ARTICLES),
    _route(r"^/api/sections(/.*)?$", Upstream.ARTICLES),
    _route(r"^/api/editor/(articles|sections|users|audit)(/.*)?$", Upstream.ARTICLES),
    _route(r"^/api/editor/import/(articles|sections)(/.*)?$", Upstream.ARTICLES),
    _route(r"^/api/redirects$", Upstream.ARTICLES),
)


def resolve_route(path: str, routes: Sequence[Route] = ROUTES) -> Route | None:
    """The route for a request path, or None (404). Dot segments never reach an upstream."""
    if "/../" in path or path.endswith("/..") or "/./" in path or "\\" in path:
        return None
    for route in routes:
        if route.pattern.match(path):
            return route
    return None


SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]{1,300}$")


def is_safe_segment(value: str) -> bool:
    """A slug or token that can go into an upstream path as one segment, verbatim.

    A leading dot is allowed (itsdangerous' compressed tokens start with one); the dot
    segments themselves are not.
    """
    return value not in (".", "..") and bool(SAFE_SEGMENT.fullmatch(value))


def segment(value: str) -> str:
    """``value`` quoted as one path segment."""
    return quote(value, safe="")


# The reader site's feed URLs are aliases of the articles service's API (path templates).
# The sitemaps likewise (robots.txt names them at the site's root, where crawlers look).
FEED_ALIASES: Mapping[str, str] = {
    "/feed.xml": "/api/articles/feed.xml",
    "/sitemap.xml": "/api/sitemap.xml",
    "/news-sitemap.xml": "/api/news-sitemap.xml",
    "/sections/{slug}/feed.xml": "/api/sections/{slug}/feed.xml",
    "/tags/{tag}/feed.xml": "/api/tags/{tag}/feed.xml",
    "/authors/{slug}/feed.xml": "/api/authors/{slug}/feed.xml",
    "/articles/{slug}/comments/feed.xml": "/api/articles/{slug}/comments/feed.xml",
    "/sitemaps/pages.xml": "/api/sitemaps/pages.xml",
    "/sitemaps/articles-{number}.xml": "/api/sitemaps/articles-{number}.xml",
}
# A feed is only read: any other method is a 405 naming this one.
FEED_METHOD = "GET"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _templated(template: str, target: str) -> tuple[str, str, str, str, str] | None:
    """(template, target, placeholder name, what comes before it, what comes after it)."""
    found = _PLACEHOLDER.search(template)
    if found is None:
        return None
    return template, target, found.group(1), template[: found.start()], template[found.end() :]


_TEMPLATED_ALIASES = [
    parts for t, target in FEED_ALIASES.items() if (parts := _templated(t, target)) is not None
]


@dataclass(frozen=True)
class FeedAlias:
    template: str  # the alias's template, the label its requests are measured under
    target: str | None  # the API path it stands for; None: a section slug that cannot be one


def feed_alias(path: str) -> FeedAlias | None:
    """The feed alias ``path`` is, or None when it is no feed URL of the reader site."""
    if path in FEED_ALIASES and "{" not in path:
        return FeedAlias(path, FEED_ALIASES[path])
    for template, target, name, prefix, suffix in _TEMPLATED_ALIASES:
        if path.startswith(prefix) and path.endswith(suffix):
            value = path[len(prefix) : len(path) - len(suffix)]
            if value and "/" not in value:
                return FeedAlias(
                    template, target.format(**{name: value}) if is_safe_segment(value) else None
                )
    return None
