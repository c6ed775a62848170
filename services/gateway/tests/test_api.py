from __future__ import annotations

import re

import httpx
import pytest

from .conftest import GatewayFactory
from .stubs import FailingTransport, Upstreams, comment

pytestmark = pytest.mark.unit

Gw = tuple[httpx.AsyncClient, Upstreams]


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/articles?section=world", "articles"),
        ("/api/auth/token", "articles"),
        ("/api/articles/x/comments/count", "comments"),
        ("/api/comments/recent?limit=5", "comments"),
        ("/api/editor/comments", "comments"),
        ("/api/articles/x/followers", "notifications"),
        ("/api/editor/notifications/stats", "notifications"),
    ],
)
async def test_api_calls_reach_the_owning_service_with_path_and_query(
    gw: Gw, path: str, service: str
) -> None:
    client, upstreams = gw
    response = await client.get(path)
    assert response.status_code < 300
    seen = upstreams.seen[-1]
    assert seen["service"] == service
    assert seen["path"] + (f"?{seen['query']}" if seen["query"] else "") == path


async def test_forwarding_headers_are_ours_and_request_id_travels(gw: Gw) -> None:
    client, upstreams = gw
    rid = "0b9c6b3c-54f1-4c41-a9b2-5f5d0a8f3f11"
    response = await client.post(
        "/api/articles/x/comments",
        json={"body": "hi"},
        headers={"X-Forwarded-For": "6.6.6.6", "X-Request-ID": rid, "Connection": "close"},
    )
    assert response.status_code == 200
    seen = upstreams.seen[-1]
    assert seen["headers"]["x-forwarded-for"] == "203.0.113.9"
    assert seen["headers"]["x-request-id"] == rid
    assert response.headers["x-request-id"] == rid
    assert seen["body"] == b'{"body":"hi"}'


async def test_hop_by_hop_and_connection_named_headers_stay_behind(gw: Gw) -> None:
    client, upstreams = gw
    response = await client.get(
        "/api/articles",
        headers={
            "Connection": "X-Secret-Hop",
            "X-Secret-Hop": "1",
            "Keep-Alive": "timeout=5",
            "X-Kept": "yes",
        },
    )
    assert response.status_code == 200
    seen = upstreams.seen[-1]["headers"]
    assert "x-secret-hop" not in seen
    assert "keep-alive" not in seen
    assert seen["x-kept"] == "yes"


async def test_a_malformed_request_id_is_replaced(gw: Gw) -> None:
    client, upstreams = gw
    response = await client.get("/api/articles", headers={"X-Request-ID": "not a uuid\r"})
    rid = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    assert upstreams.seen[-1]["headers"]["x-request-id"] == rid
    fresh = await client.get("/api/articles")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
    assert fresh.headers["x-request-id"] != rid


async def test_large_upstream_bodies_stream_through_whole(gw: Gw) -> None:
    client, _ = gw
    response = await client.get("/api/articles/big-export")
    assert response.status_code == 200
    assert response.content == b"x" * 300_000
    assert response.headers["content-security-policy"]
    assert response.headers["x-request-id"]


async def test_api_requests_are_counted_in_the_metrics(gw: Gw) -> None:
    client, _ = gw
    await client.get("/api/articles")
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/{path:path}"' in metrics
    assert 'service="gateway"' in metrics


async def test_unknown_api_route_is_a_404_problem(gw: Gw) -> None:
    client, _ = gw
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_deep_json_is_refused_before_any_service_sees_it(gw: Gw) -> None:
    client, upstreams = gw
    before = len(upstreams.seen)
    response = await client.post(
        "/api/articles/x/comments",
        content=b'{"a":' * 50 + b"1" + b"}" * 50,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert len(upstreams.seen) == before


async def test_oversized_body_is_a_413(gw: Gw) -> None:
    client, _ = gw
    response = await client.post("/api/articles/x/comments", content=b"x" * 300_000)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_security_headers_on_pages_and_api(gw: Gw) -> None:
    client, _ = gw
    for path in ("/", "/api/articles"):
        response = await client.get(path)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


async def test_post_rate_limit_gives_429_with_retry_after(make_gateway: GatewayFactory) -> None:
    async with make_gateway(post_rate_limit=2) as (client, _):
        codes = [
            (await client.post("/api/articles/x/comments", json={})).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        limited = await client.post(
            "/api/articles/x/comments", json={}, headers={"X-Forwarded-For": "1.1.1.1"}
        )
        # A forged X-Forwarded-For does not buy a fresh bucket.
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        # Reads are not limited.
        assert (await client.get("/api/articles")).status_code == 200


async def test_trusted_proxy_forwarded_for_is_honoured(make_gateway: GatewayFactory) -> None:
    async with make_gateway(trusted_proxies=["203.0.113.0/24"]) as (client, upstreams):
        await client.get("/api/articles", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.4"})
        assert upstreams.seen[-1]["headers"]["x-forwarded-for"] == "198.51.100.4"


async def test_upstream_down_is_a_503_problem_and_gets_retried(
    make_gateway: GatewayFactory,
) -> None:
    transport = FailingTransport(httpx.ConnectError("refused"))
    async with make_gateway(transport, get_retries=2) as (client, _):
        response = await client.get("/api/articles")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert transport.calls == 3
        transport.calls = 0
        posted = await client.post("/api/articles/x/comments", json={})
        assert posted.status_code == 503
        assert transport.calls == 1  # a POST is never repeated


async def test_upstream_slow_is_a_504_problem(make_gateway: GatewayFactory) -> None:
    transport = FailingTransport(httpx.ReadTimeout("slow"))
    async with make_gateway(transport) as (client, _):
        response = await client.get("/api/articles")
        assert response.status_code == 504
        assert response.json()["status"] == 504
        page = await client.get("/articles/talks-resume")
        assert page.status_code == 503
        assert "text/html" in page.headers["content-type"]


async def test_cors_allow_list(make_gateway: GatewayFactory) -> None:
    async with make_gateway(cors_allow_origins=["https://ok.example"]) as (client, _):
        ok = await client.get("/api/articles", headers={"Origin": "https://ok.example"})
        assert ok.headers["access-control-allow-origin"] == "https://ok.example"
        bad = await client.get("/api/articles", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in bad.headers


# --- reader site -------------------------------------------------------------------------------


async def test_front_page_groups_latest_articles_by_section(gw: Gw) -> None:
    client, _ = gw
    page = await client.get("/")
    assert page.status_code == 200
    assert "Foreign Affairs" in page.text
    assert 'href="/articles/talks-resume"' in page.text
    assert "3 Comments" in page.text
    assert 'href="/feed.xml"' in page.text


async def test_article_page_renders_threaded_comments_with_reply_links(gw: Gw) -> None:
    client, _ = gw
    page = await client.get("/articles/talks-resume")
    assert page.status_code == 200
    text = page.text
    assert "Foreign Affairs" in text
    assert "Talks resume in Geneva" in text
    assert "Ada Reporter" in text
    assert "3 Comments on this post" in text
    assert "<script>alert(1)</script>" not in text  # body cleaned again on the way out
    # c2 is nested inside c1's list item; c3 is a new top-level thread.
    c1 = text.index('id="comment-c1"')
    c2 = text.index('id="comment-c2"')
    c3 = text.index('id="comment-c3"')
    assert c1 < c2 < c3
    assert '<ol class="children">' in text[c1:c2]
    assert text.count(">Reply</a>") == 3
    assert 'href="/articles/talks-resume?replytocom=c2#respond"' in text
    assert "Leave a Reply" in text
    assert "Notify me of replies by email" in text
    assert 'rel="next" href="/articles/talks-resume?cpage=CURSOR2#comments"' in text


async def test_a_page_starting_inside_a_thread_keeps_depth_and_names_the_parent(gw: Gw) -> None:
    client, upstreams = gw
    # The comments service's next page begins with c4's replies; c4 was on the page before.
    orphan = comment("c5", 2, "c4", "Dan") | {"in_reply_to": "Bob", "root_id": "c1"}
    shown = upstreams.comments
    upstreams.comments = [orphan, comment("c6", 3, "c5", "Eve"), comment("c7", 0, None, "Fay")]
    try:
        text = (await client.get("/articles/talks-resume?cpage=CURSOR2")).text
    finally:
        upstreams.comments = shown
    c5 = text.index('id="comment-c5"')
    assert text.rfind('<ol class="children">', 0, c5) == -1  # not hung under anything else
    assert 'class="comment depth-2"' in text
    assert (
        '<span class="in-reply-to">in reply to Bob</span>'
        in text[c5 : text.index('id="comment-c6"')]
    )
    assert '<ol class="children">' in text[c5 : text.index('id="comment-c6"')]
    css = (await client.get("/static/site.css")).text
    assert ".comment-list > .depth-2" in css


async def test_reply_form_carries_the_parent_id(gw: Gw) -> None:
    client, _ = gw
    page = await client.get("/articles/talks-resume?replytocom=c1")
    assert "Reply to Alice" in page.text
    assert re.search(r'name="parent_id" value="c1"', page.text)


async def test_comment_post_redirects_with_moderation_notice(gw: Gw) -> None:
    client, upstreams = gw
    response = await client.post(
        "/articles/talks-resume/comments",
        data={
            "author_name": "Dan",
            "author_email": "dan@example.com",
            "body": "Hello",
            "parent_id": "c1",
            "notify_replies": "1",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/articles/talks-resume?notice=pending#respond"
    sent = upstreams.seen[-1]
    assert sent["service"] == "comments"
    assert sent["method"] == "POST"
    assert b'"parent_id":"c1"' in sent["body"]
    assert b'"notify_replies":true' in sent["body"]
    page = await client.get(response.headers["location"])
    assert "Your comment is awaiting moderation" in page.text


async def test_rejected_comment_shows_the_form_again_with_the_reason(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as (client, upstreams):
        upstreams.post_status = 422
        upstreams.post_answer = {
            "detail": "The request is not valid.",
            "errors": [{"loc": ["body", "author_email"], "msg": "not an email"}],
        }
        response = await client.post(
            "/articles/talks-resume/comments",
            data={"author_name": "Dan", "author_email": "nope", "body": "Kept text"},
        )
        assert response.status_code == 422
        assert "author_email: not an email" in response.text
        assert "Kept text" in response.text


async def test_old_slug_redirects_and_unknown_article_is_404(gw: Gw) -> None:
    client, _ = gw
    moved = await client.get("/articles/old-slug")
    assert moved.status_code == 301
    assert moved.headers["location"] == "/articles/talks-resume"
    missing = await client.get("/articles/nope")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]


async def test_deep_threads_nest_at_most_five_levels(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as (client, upstreams):
        upstreams.comments = [
            comment(f"d{i}", min(i, 4), f"d{i - 1}" if i else None, f"N{i}") for i in range(7)
        ]
        page = await client.get("/articles/talks-resume")
        assert page.text.count('class="comment depth-4"') == 3


async def test_subscription_pages_show_a_button_and_post_through(gw: Gw) -> None:
    client, upstreams = gw
    page = await client.get("/subscriptions/unsubscribe/good-token")
    assert page.status_code == 200
    assert 'action="/subscriptions/unsubscribe/good-token"' in page.text
    assert "r***@example.com" in page.text
    done = await client.post(
        "/subscriptions/unsubscribe/good-token", data={"List-Unsubscribe": "One-Click"}
    )
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    sent = upstreams.seen[-1]
    assert sent["method"] == "POST"
    assert sent["body"] == b"List-Unsubscribe=One-Click"
    confirm = await client.post("/subscriptions/confirm/good-token")
    assert "confirmed" in confirm.text
    bad = await client.get("/subscriptions/confirm/bad-token")
    assert bad.status_code == 404


async def test_follow_posts_and_redirects(gw: Gw) -> None:
    client, upstreams = gw
    response = await client.post("/articles/talks-resume/follow", data={"email": "r@example.com"})
    assert response.status_code == 303
    assert upstreams.seen[-1]["path"] == "/api/articles/talks-resume/followers"
    page = await client.get(response.headers["location"])
    assert "Check your inbox" in page.text


async def test_feeds_are_served_from_the_articles_service(gw: Gw) -> None:
    client, upstreams = gw
    feed = await client.get("/feed.xml")
    assert feed.status_code == 200
    assert feed.text == "<feed/>"
    assert upstreams.seen[-1]["path"] == "/api/articles/feed.xml"


async def test_combined_openapi_keeps_only_routed_paths(gw: Gw) -> None:
    client, _ = gw
    doc = (await client.get("/openapi.json")).json()
    paths = doc["paths"]
    assert "/articles/{slug}" in paths  # the gateway's own
    assert "/api/articles/{slug}/comments" in paths
    # Each service advertised a path the routing table does not send to it: dropped.
    assert "/api/articles-only" not in paths
    assert "/api/comments-only" not in paths
    assert paths["/api/articles/{slug}/comments"]["get"]["tags"][0] == "comments"
    ref = paths["/api/articles/{slug}/comments"]["get"]["responses"]["200"]["content"]
    name = ref["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert doc["components"]["schemas"][name]["title"] == "comments page"
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_static_assets_and_health(gw: Gw) -> None:
    client, _ = gw
    assert (await client.get("/static/live.js")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


async def test_oversized_streamed_body_without_length_is_a_413(gw: Gw) -> None:
    client, _ = gw

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"y" * 10_000

    response = await client.post(
        "/api/articles/x/followers", content=chunks(), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
