"""The one forwarder: API calls and feed aliases, end to end through the app."""

from __future__ import annotations

import re
import socket

import httpx
import pytest
from prometheus_client import generate_latest

from .conftest import GatewayFactory
from .stubs import FailingTransport, Upstreams

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
    metrics = generate_latest().decode()
    assert 'route="/api/{path:path}"' in metrics
    assert 'service="gateway"' in metrics


async def test_metrics_are_on_their_own_listener_never_the_public_port(
    make_gateway: GatewayFactory,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with make_gateway(metrics_port=port) as (client, upstreams):
        for path in ("/metrics", "/api/metrics", "/api/articles/../metrics"):
            assert (await client.get(path)).status_code == 404, path
        assert all("metrics" not in seen["path"] for seen in upstreams.seen)
        async with httpx.AsyncClient() as internal:
            metrics = await internal.get(f"http://127.0.0.1:{port}/metrics")
        assert metrics.status_code == 200
        assert "broadsheet_http_request_seconds" in metrics.text


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


async def test_write_rate_limit_gives_429_with_retry_after(make_gateway: GatewayFactory) -> None:
    async with make_gateway(write_rate_limit=2) as (client, _):
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


async def test_every_write_method_spends_the_same_allowance(make_gateway: GatewayFactory) -> None:
    async with make_gateway(write_rate_limit=4) as (client, _):
        path = "/api/comments/c1"
        codes = [
            (await client.request(method, path, json={})).status_code
            for method in ("POST", "PATCH", "PUT", "DELETE", "PATCH", "DELETE", "PUT")
        ]
        assert codes[:4] != [429] * 4
        assert codes[4:] == [429, 429, 429]
        assert (await client.get(path)).status_code != 429


async def test_an_ipv6_64_is_one_client_for_the_write_limit(make_gateway: GatewayFactory) -> None:
    async with make_gateway(write_rate_limit=2, trusted_proxies=["203.0.113.0/24"]) as (
        client,
        _,
    ):

        async def post(address: str) -> int:
            headers = {"X-Forwarded-For": address}
            return (await client.post("/api/comments/c1", json={}, headers=headers)).status_code

        assert [await post(f"2001:db8:1:2::{n}") for n in (1, 2, 3)][2] == 429
        assert await post("2001:db8:1:3::1") != 429


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


async def test_feeds_are_served_from_the_articles_service(gw: Gw) -> None:
    client, upstreams = gw
    feed = await client.get("/feed.xml")
    assert feed.status_code == 200
    assert feed.text == "<feed/>"
    assert upstreams.seen[-1]["path"] == "/api/articles/feed.xml"


async def test_a_feed_asked_with_another_method_is_a_405_naming_get(gw: Gw) -> None:
    client, upstreams = gw
    before = len(upstreams.seen)
    response = await client.request("TRACE", "/feed.xml")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.headers["content-type"] == "application/problem+json"
    assert len(upstreams.seen) == before


async def test_section_feed_alias_drops_the_query_and_is_measured_as_the_alias(gw: Gw) -> None:
    client, upstreams = gw
    feed = await client.get("/sections/foreign-affairs/feed.xml?limit=5")
    assert feed.status_code == 200
    assert feed.headers["x-request-id"]
    assert "default-src 'self'" in feed.headers["content-security-policy"]
    seen = upstreams.seen[-1]
    assert (seen["service"], seen["path"], seen["query"]) == (
        "articles",
        "/api/sections/foreign-affairs/feed.xml",
        "",
    )
    metrics = generate_latest().decode()
    assert 'route="/sections/{slug}/feed.xml"' in metrics


async def test_a_section_feed_of_an_impossible_slug_is_a_404_problem(gw: Gw) -> None:
    client, upstreams = gw
    before = len(upstreams.seen)
    response = await client.get("/sections/a%20b/feed.xml")
    assert response.status_code == 404
    assert response.json()["detail"] == "There is no such section."
    assert len(upstreams.seen) == before


async def test_cors_preflight_is_answered_without_the_upstream(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(cors_allow_origins=["https://ok.example"]) as (client, upstreams):
        preflight = await client.options(
            "/api/articles",
            headers={"Origin": "https://ok.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://ok.example"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert upstreams.seen == []
        feed = await client.get("/feed.xml", headers={"Origin": "https://ok.example"})
        assert feed.text == "<feed/>"
        assert feed.headers["access-control-allow-origin"] == "https://ok.example"
        assert feed.headers["x-request-id"]
