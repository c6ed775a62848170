import pytest

from broadsheet_gateway.routing import (
    FeedAlias,
    Upstream,
    feed_alias,
    is_safe_segment,
    resolve_route,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/api/auth/token", Upstream.ARTICLES),
        ("/api/articles", Upstream.ARTICLES),
        ("/api/articles/some-slug", Upstream.ARTICLES),
        ("/api/articles/feed.xml", Upstream.ARTICLES),
        ("/api/sections", Upstream.ARTICLES),
        ("/api/sections/world/feed.xml", Upstream.ARTICLES),
        ("/api/editor/articles/1/publish", Upstream.ARTICLES),
        ("/api/editor/sections", Upstream.ARTICLES),
        ("/api/editor/users", Upstream.ARTICLES),
        ("/api/editor/audit", Upstream.ARTICLES),
        ("/api/articles/some-slug/comments", Upstream.COMMENTS),
        ("/api/articles/some-slug/comments/c1", Upstream.COMMENTS),
        ("/api/articles/some-slug/comments/count", Upstream.COMMENTS),
        ("/api/articles/some-slug/comments/wordpress/123", Upstream.COMMENTS),
        ("/api/comments/counts", Upstream.COMMENTS),
        ("/api/comments/recent", Upstream.COMMENTS),
        ("/api/editor/comments", Upstream.COMMENTS),
        ("/api/editor/comments/c1/approve", Upstream.COMMENTS),
        ("/api/subscriptions/confirm/tok", Upstream.NOTIFICATIONS),
        ("/api/subscriptions/unsubscribe/tok", Upstream.NOTIFICATIONS),
        ("/api/articles/some-slug/followers", Upstream.NOTIFICATIONS),
        ("/api/editor/notifications/deliveries", Upstream.NOTIFICATIONS),
    ],
)
def test_routing_table_sends_each_path_to_its_service(path: str, upstream: Upstream) -> None:
    route = resolve_route(path)
    assert route is not None
    assert route.upstream == upstream


@pytest.mark.parametrize(
    "path",
    ["/api", "/api/unknown", "/api/editor/secrets", "/api/articles/../editor/users", "/api/auth"],
)
def test_unknown_or_traversing_paths_have_no_route(path: str) -> None:
    assert resolve_route(path) is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("talks-resume", True),
        ("abc_DEF.1", True),
        ("..", False),
        (".", False),
        # itsdangerous' compressed tokens (the notifications service's links) start with a dot.
        (".eJwNylEVACEIBMAu.awpgLg.OXpev9qBrM9Z", True),
        ("a/b", False),
        ("", False),
        ("a b", False),
    ],
)
def test_safe_segments(value: str, ok: bool) -> None:
    assert is_safe_segment(value) is ok


@pytest.mark.parametrize(
    ("path", "alias"),
    [
        ("/feed.xml", FeedAlias("/feed.xml", "/api/articles/feed.xml")),
        (
            "/sections/world/feed.xml",
            FeedAlias("/sections/{slug}/feed.xml", "/api/sections/world/feed.xml"),
        ),
        # A section slug that cannot stand in an upstream path: the alias, but no target (404).
        ("/sections/a b/feed.xml", FeedAlias("/sections/{slug}/feed.xml", None)),
        ("/sections/a/b/feed.xml", None),
        ("/sections//feed.xml", None),
        ("/sections/world", None),
        ("/articles/feed.xml", None),
        ("/tags/geneva/feed.xml", FeedAlias("/tags/{tag}/feed.xml", "/api/tags/geneva/feed.xml")),
        ("/tags/feed.xml", None),
        (
            "/authors/ada-reporter/feed.xml",
            FeedAlias("/authors/{slug}/feed.xml", "/api/authors/ada-reporter/feed.xml"),
        ),
        (
            "/articles/talks/comments/feed.xml",
            FeedAlias(
                "/articles/{slug}/comments/feed.xml", "/api/articles/talks/comments/feed.xml"
            ),
        ),
        ("/sitemap.xml", FeedAlias("/sitemap.xml", "/api/sitemap.xml")),
        ("/news-sitemap.xml", FeedAlias("/news-sitemap.xml", "/api/news-sitemap.xml")),
        ("/sitemaps/pages.xml", FeedAlias("/sitemaps/pages.xml", "/api/sitemaps/pages.xml")),
        (
            "/sitemaps/articles-2.xml",
            FeedAlias("/sitemaps/articles-{number}.xml", "/api/sitemaps/articles-2.xml"),
        ),
    ],
)
def test_feed_aliases(path: str, alias: FeedAlias | None) -> None:
    assert feed_alias(path) == alias
