"""The reader site through the gateway, against the real services."""

from __future__ import annotations

import asyncio
import re

import httpx
import orjson
import pytest

from .conftest import Platform

pytestmark = pytest.mark.e2e


def _post_comment(client: httpx.Client, slug: str, **fields: str) -> httpx.Response:
    data = {"author_name": "Reader", "author_email": "reader@example.com", "body": "A thought."}
    data.update(fields)
    return client.post(f"/articles/{slug}/comments", data=data)


def test_article_page_comment_and_reply_nest(platform: Platform) -> None:
    slug = platform.article_slug
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        page = client.get(f"/articles/{slug}")
        assert page.status_code == 200
        assert "Talks resume in Geneva" in page.text
        assert "Foreign Affairs" in page.text
        assert "Leave a Reply" in page.text

        posted = _post_comment(client, slug, author_name="Alice", body="First thoughts here.")
        assert posted.status_code == 303, posted.text
        location = posted.headers["location"]
        match = re.search(r"#comment-(.+)$", location)
        assert match, location
        parent_id = match.group(1)

        reply_form = client.get(f"/articles/{slug}?replytocom={parent_id}")
        assert f'name="parent_id" value="{parent_id}"' in reply_form.text

        replied = _post_comment(
            client, slug, author_name="Bob", body="A reply to Alice.", parent_id=parent_id
        )
        assert replied.status_code == 303, replied.text
        # The reply lands on the thread page that holds it (the session's article has had many
        # comments by now, so that need not be page one), under its parent.
        reply_location = replied.headers["location"]
        reply = re.search(r"#comment-(.+)$", reply_location)
        assert reply, reply_location
        text = client.get(reply_location.split("#")[0]).text
        alice = text.index(f'id="comment-{parent_id}"')
        bob = text.index(f'id="comment-{reply.group(1)}"')
        assert alice < bob
        assert '<ol class="children">' in text[alice:bob]
        assert re.search(r"\d+ Comments? on this post", text)


def test_api_routing_limits_and_errors_through_the_gateway(platform: Platform) -> None:
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        assert client.get("/api/sections").status_code == 200
        count = client.get(f"/api/articles/{platform.article_slug}/comments/count")
        assert count.status_code == 200
        assert count.json()["article_slug"] == platform.article_slug
        assert client.get("/api/nowhere").status_code == 404
        deep = client.post(
            f"/api/articles/{platform.article_slug}/comments",
            content=b"[" * 100 + b"]" * 100,
            headers={"content-type": "application/json"},
        )
        assert deep.status_code == 400
        staff = client.get("/api/editor/comments")
        assert staff.status_code == 401
        assert staff.headers["content-type"].startswith("application/problem+json")
        rid = client.get("/api/sections").headers.get("x-request-id")
        assert rid


async def test_live_update_reaches_an_open_page(platform: Platform) -> None:
    slug = platform.article_slug
    async with (
        httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client,
        client.stream("GET", f"/articles/{slug}/live") as stream,
    ):
        assert stream.status_code == 200
        lines = stream.aiter_lines()

        async def next_event(kind: str) -> dict[str, object]:
            current = None
            async for line in lines:
                if line.startswith("event:"):
                    current = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and current == kind:
                    return dict(orjson.loads(line.split(":", 1)[1]))
            raise AssertionError("stream ended")

        await asyncio.wait_for(next_event("ready"), 10)
        posted = await client.post(
            f"/articles/{slug}/comments",
            data={
                "author_name": "Live Larry",
                "author_email": "larry@example.com",
                "body": "Seen live.",
            },
        )
        assert posted.status_code == 303
        event = await asyncio.wait_for(next_event("comment"), 30)
        assert "Live Larry" in str(event["html"])


def test_upstream_down_gives_503_problem(platform: Platform) -> None:
    notifications = next(s for s in platform.factory.started if s.name == "notifications")
    notifications.kill()
    try:
        with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
            response = client.post(
                f"/api/articles/{platform.article_slug}/followers",
                json={"email": "x@example.com"},
            )
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/problem+json")
    finally:
        # The platform is shared by the whole session: put it back for the tests after this.
        notifications.restart()
