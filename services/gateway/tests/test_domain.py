import pytest

from broadsheet_gateway.domain import (
    FixedWindowLimiter,
    Upstream,
    client_ip,
    comments_heading,
    is_safe_segment,
    json_depth_exceeds,
    nest_comments,
    parse_networks,
    request_headers_for_upstream,
    resolve_route,
    response_headers_from_upstream,
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
        ("/api/articles/some-slug/comments", Upstream.COMMENTS),
        ("/api/articles/some-slug/comments/c1", Upstream.COMMENTS),
        ("/api/articles/some-slug/comments/count", Upstream.COMMENTS),
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


def test_client_ip_is_the_peer_when_the_peer_is_not_trusted() -> None:
    trusted = parse_networks(["10.0.0.0/8"])
    assert client_ip("203.0.113.9", "1.2.3.4", trusted) == "203.0.113.9"


def test_client_ip_walks_forwarded_for_from_the_right_past_trusted_hops() -> None:
    trusted = parse_networks(["10.0.0.0/8", "127.0.0.1"])
    # The leftmost entry was written by the client and must be ignored.
    assert client_ip("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.1.2.3", trusted) == "198.51.100.7"


def test_client_ip_stops_at_garbage_in_the_chain() -> None:
    trusted = parse_networks(["127.0.0.1"])
    assert client_ip("127.0.0.1", "not-an-ip", trusted) == "127.0.0.1"


def test_json_depth() -> None:
    assert not json_depth_exceeds(b'{"a": [1, {"b": 2}]}', 3)
    assert json_depth_exceeds(b'{"a": [1, {"b": [2]}]}', 3)
    # Brackets inside strings do not count, escaped quotes do not end strings.
    assert not json_depth_exceeds(b'{"a": "[[[[[\\"[[[["}', 1)
    assert json_depth_exceeds(b"[" * 10_000, 20)


def test_request_headers_drop_hop_by_hop_and_forged_forwarding() -> None:
    headers = request_headers_for_upstream(
        [
            ("Connection", "keep-alive, X-Secret"),
            ("X-Secret", "1"),
            ("Keep-Alive", "5"),
            ("X-Forwarded-For", "6.6.6.6"),
            ("Host", "example.org"),
            ("Accept", "text/html"),
            ("Authorization", "Bearer t"),
        ],
        client_ip="203.0.113.9",
        host="example.org",
        scheme="https",
        request_id="rid",
    )
    names = [k.lower() for k, _ in headers]
    assert "connection" not in names
    assert "x-secret" not in names
    assert "keep-alive" not in names
    assert ("x-forwarded-for", "203.0.113.9") in headers
    assert names.count("x-forwarded-for") == 1
    assert ("Authorization", "Bearer t") in headers
    assert ("x-request-id", "rid") in headers


def test_response_headers_drop_hop_by_hop() -> None:
    kept = response_headers_from_upstream(
        [("Transfer-Encoding", "chunked"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    )
    assert kept == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]


def test_fixed_window_limiter() -> None:
    now = [1000.0]
    limiter = FixedWindowLimiter(2, 60, lambda: now[0])
    assert limiter.hit("a").allowed
    assert limiter.hit("a").allowed
    third = limiter.hit("a")
    assert not third.allowed
    assert third.retry_after == 20  # window 960..1020
    assert limiter.hit("b").allowed
    now[0] = 1021.0
    assert limiter.hit("a").allowed


def test_nest_comments_follows_display_order_and_depth() -> None:
    items = [
        {"id": "1", "depth": 0},
        {"id": "2", "depth": 1},
        {"id": "3", "depth": 2},
        {"id": "4", "depth": 1},
        {"id": "5", "depth": 0},
        {"id": "6", "depth": 9},  # capped to 4, hung under the previous comment
    ]
    roots = nest_comments(items)
    assert [n.id for n in roots] == ["1", "5"]
    assert [n.id for n in roots[0].children] == ["2", "4"]
    assert [n.id for n in roots[0].children[0].children] == ["3"]
    assert [n.id for n in roots[1].children] == ["6"]


def test_orphan_reply_starts_its_own_thread() -> None:
    roots = nest_comments([{"id": "7", "depth": 2}, {"id": "8", "depth": 3}])
    assert [n.id for n in roots] == ["7"]
    assert [n.id for n in roots[0].children] == ["8"]


def test_comments_heading() -> None:
    assert comments_heading(0) == "No Comments on this post"
    assert comments_heading(1) == "1 Comment on this post"
    assert comments_heading(2) == "2 Comments on this post"


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
