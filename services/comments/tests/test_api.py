"""The comments app in-process, on the real database and Kafka."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from broadsheet_comments.main import create_app
from broadsheet_comments.settings import Settings
from broadsheet_shared.auth import Principal, TokenIssuer
from broadsheet_shared.devkeys import DEV_JWT_PRIVATE_KEY
from broadsheet_shared.events import (
    ArticleData,
    ArticlePublishedV1,
    ArticleRef,
    ArticleUnpublishedV1,
    ArticleUpdatedV1,
    SectionRef,
    decode_event,
    topics,
)
from broadsheet_shared.identifiers import THREAD_PAGE_MAX
from broadsheet_shared.kafka.producer import EventProducer

pytestmark = pytest.mark.integration


class Harness:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient, settings: Settings) -> None:
        self.app = app
        self.client = client
        self.settings = settings
        self.producer = EventProducer(settings.kafka_bootstrap_servers, "test")
        issuer = TokenIssuer(
            DEV_JWT_PRIVATE_KEY,
            issuer="broadsheet-articles",
            audience="broadsheet",
            ttl=timedelta(minutes=15),
        )
        token = issuer.issue(Principal("moderator-1", "moderator", "Mo"))
        self.staff = {"Authorization": f"Bearer {token}"}

    async def publish(self, slug: str, *, comments_open: bool = True, revision: int = 1) -> str:
        article_id = f"id-{slug}"
        event = ArticlePublishedV1(
            subject=article_id,
            data=ArticleData(
                article_id=article_id,
                slug=slug,
                title=f"Title {slug}",
                section=SectionRef(slug="foreign-affairs", name="Foreign Affairs"),
                url_path=f"/articles/{slug}",
                comments_open=comments_open,
                published_at=datetime.now(UTC),
                revision=revision,
            ),
        )
        await self.producer.publish(event, self.settings.topic(topics.ARTICLES))
        return article_id

    async def until(self, path: str, predicate: Any, timeout: float = 30.0) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while True:
            response = await self.client.get(path)
            if predicate(response):
                return response
            assert time.monotonic() < deadline, f"{path}: {response.status_code} {response.text}"
            await asyncio.sleep(0.05)

    async def published(self, slug: str, **kwargs: Any) -> str:
        article_id = await self.publish(slug, **kwargs)
        await self.until(f"/api/articles/{slug}/comments/count", lambda r: r.status_code == 200)
        return article_id

    async def post(self, slug: str, client_ip: str | None = None, **fields: Any) -> httpx.Response:
        body = {"author_name": "Ann", "body": f"Comment {secrets.token_hex(4)}", **fields}
        headers = {"X-Forwarded-For": client_ip or fresh_ip()}
        return await self.client.post(f"/api/articles/{slug}/comments", json=body, headers=headers)


def fresh_ip() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(infra: Any) -> AsyncIterator[Harness]:
    prefix = f"t{secrets.token_hex(4)}"
    settings = Settings(
        mongo_url=infra.mongo_url,
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        kafka_topic_prefix=f"{prefix}.",
        mongo_database=f"{prefix}_comments",
        suspect_words=["holdme"],
        banned_words=["forbidden"],
        environment="test",
        log_json=False,
        log_level="WARNING",
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=120):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://comments") as client:
            harness = Harness(app, client, settings)
            await harness.producer.start()
            try:
                yield harness
            finally:
                await harness.producer.stop()


async def test_a_comment_on_a_just_published_article(harness: Harness) -> None:
    await harness.published("first-story")
    response = await harness.post(
        "first-story", author_email="ann@example.com", body="**Great** [read](https://x.org)"
    )
    assert response.status_code == 201, response.text
    posted = response.json()
    assert posted["status"] == "approved"
    assert posted["edit_token"]
    thread = (await harness.client.get("/api/articles/first-story/comments")).json()
    assert thread["article"]["url_path"] == "/articles/first-story"
    assert thread["total"] == 1
    [item] = thread["items"]
    assert item["id"] == posted["id"]
    assert item["body_html"] == (
        '<p><strong>Great</strong> <a href="https://x.org" rel="nofollow ugc noopener">read</a></p>'
    )
    assert "ann@example.com" not in str(thread)
    assert len(item["avatar"]) == 16  # the avatar's keyed seed, not the address
    one = (await harness.client.get(f"/api/articles/first-story/comments/{posted['id']}")).json()
    assert one["id"] == posted["id"]
    assert one["body_markdown"] == "**Great** [read](https://x.org)"
    assert one["cpage"] is None
    assert one["avatar"] == item["avatar"]
    assert "ann@example.com" not in str(one)
    missing = await harness.client.get("/api/articles/first-story/comments/" + "0" * 24)
    assert missing.status_code == 404
    count = (await harness.client.get("/api/articles/first-story/comments/count")).json()
    assert count == {"article_slug": "first-story", "count": 1}
    counts = await harness.client.get(
        "/api/comments/counts", params=[("article", "first-story"), ("article", "nope")]
    )
    assert counts.json() == {"counts": {"first-story": 1, "nope": 0}}
    recent = (await harness.client.get("/api/comments/recent?limit=50")).json()
    assert f"/articles/first-story#comment-{posted['id']}" in [
        i["url_path"] for i in recent["items"]
    ]


async def test_form_posts_and_replies(harness: Harness) -> None:
    await harness.published("form-story")
    root = (await harness.post("form-story")).json()
    response = await harness.client.post(
        "/api/articles/form-story/comments",
        data={
            "author_name": "Bob",
            "author_email": "",
            "body": "A reply",
            "parent_id": root["id"],
            "website": "",
        },
        headers={"X-Forwarded-For": fresh_ip()},
    )
    assert response.status_code == 201, response.text
    thread = (await harness.client.get("/api/articles/form-story/comments")).json()
    assert [(i["depth"], i["reply_count"]) for i in thread["items"]] == [(0, 1), (1, 0)]


async def test_a_forms_boolean_is_true_false_or_a_checked_box(harness: Harness) -> None:
    await harness.published("form-flags")

    async def post(flag: str) -> httpx.Response:
        return await harness.client.post(
            "/api/articles/form-flags/comments",
            data={
                "author_name": "Bob",
                "author_email": "bob@example.com",
                "body": f"Flag {flag}",
                "notify_replies": flag,
            },
            headers={"X-Forwarded-For": fresh_ip()},
        )

    for accepted in ("true", "on", "false"):
        assert (await post(accepted)).status_code == 201, accepted
    for refused in ("0", "1", "yes", ""):
        answer = await post(refused)
        assert answer.status_code == 422, refused
        assert answer.json()["errors"][0]["loc"] == ["body", "notify_replies"]


async def test_a_retried_post_with_the_same_idempotency_key_creates_one_comment(
    harness: Harness,
) -> None:
    await harness.published("retry-story")
    body = {"author_name": "Ann", "body": "Posted twice?"}
    headers = {"Idempotency-Key": "abc-123", "X-Forwarded-For": "10.9.9.9"}
    answers = await asyncio.gather(
        *(
            harness.client.post("/api/articles/retry-story/comments", json=body, headers=headers)
            for _ in range(3)
        )
    )
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    thread = (await harness.client.get("/api/articles/retry-story/comments")).json()
    assert len(thread["items"]) == 1


async def test_approve_emits_comment_approved_once(harness: Harness) -> None:
    await harness.published("held-story")
    posted = (await harness.post("held-story", body="please holdme for review")).json()
    assert posted["status"] == "pending"
    thread = (await harness.client.get("/api/articles/held-story/comments")).json()
    assert thread["items"] == []
    queue = await harness.client.get("/api/editor/comments?status=pending", headers=harness.staff)
    assert posted["id"] in [item["id"] for item in queue.json()["items"]]
    for _ in range(2):
        response = await harness.client.post(
            f"/api/editor/comments/{posted['id']}/approve", headers=harness.staff
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "approved"

    consumer = AIOKafkaConsumer(
        harness.settings.topic(topics.COMMENTS),
        bootstrap_servers=harness.settings.kafka_bootstrap_servers,
        group_id=f"check-{secrets.token_hex(4)}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    approved: list[Any] = []
    posted_events: list[Any] = []
    try:
        deadline = time.monotonic() + 30
        # Read until the approval arrived and a further second passed without a second one.
        quiet_until = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    event = decode_event(record.value, record.headers)
                    if getattr(event.data, "comment_id", None) != posted["id"]:
                        continue
                    assert record.key == b"id-held-story"
                    if event.type == "comment.approved":
                        approved.append(event)
                        quiet_until = time.monotonic() + 1.0
                    elif event.type == "comment.posted":
                        posted_events.append(event)
            if quiet_until is not None and time.monotonic() > quiet_until:
                break
    finally:
        await consumer.stop()
    assert len(approved) == 1
    assert approved[0].data.article_title == "Title held-story"
    assert [e.data.status for e in posted_events] == ["pending"]
    count = (await harness.client.get("/api/articles/held-story/comments/count")).json()
    assert count["count"] == 1


async def test_bad_input_gets_clear_4xx(harness: Harness) -> None:
    await harness.published("strict-story")
    await harness.published("closed-story", comments_open=False)
    assert (await harness.post("no-such-story")).status_code == 404
    assert (await harness.post("closed-story")).status_code == 409
    assert (await harness.post("strict-story", author_name="")).status_code == 422
    assert (await harness.post("strict-story", author_name="x" * 81)).status_code == 422
    assert (await harness.post("strict-story", body="x" * 5001)).status_code == 422
    assert (await harness.post("strict-story", notify_replies=True)).status_code == 422
    assert (await harness.post("strict-story", body="a forbidden word")).status_code == 422
    assert (await harness.post("strict-story", parent_id="nope")).status_code == 422
    huge = await harness.client.post(
        "/api/articles/strict-story/comments",
        json={"author_name": "A", "body": "x" * 200_000},
    )
    assert huge.status_code == 413
    assert huge.headers["content-type"].startswith("application/problem+json")
    text = await harness.client.post(
        "/api/articles/strict-story/comments", content=b"hi", headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415
    # Nested deeper than the JSON parser recurses: refused, not a RecursionError's 500.
    deep = b'{"author_name": "A", "body": "x", "website": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    too_deep = await harness.client.post(
        "/api/articles/strict-story/comments",
        content=deep,
        headers={"content-type": "application/json"},
    )
    assert too_deep.status_code == 400
    assert too_deep.headers["content-type"].startswith("application/problem+json")
    assert (await harness.client.get("/api/editor/comments")).status_code == 401


async def test_rate_limit_answers_429_with_retry_after(harness: Harness) -> None:
    await harness.published("busy-story")
    ip = fresh_ip()
    statuses = [(await harness.post("busy-story", client_ip=ip)).status_code for _ in range(6)]
    assert statuses[:5] == [201] * 5
    limited = await harness.post("busy-story", client_ip=ip)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


async def test_honeypot_is_silent_and_never_shown(harness: Harness) -> None:
    await harness.published("trap-story")
    response = await harness.post("trap-story", website="http://bot.example")
    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    thread = (await harness.client.get("/api/articles/trap-story/comments")).json()
    assert thread["items"] == []


async def test_xss_in_name_and_body_is_inert(harness: Harness) -> None:
    await harness.published("xss-story")
    response = await harness.post(
        "xss-story",
        author_name="<img src=x onerror=alert(1)>Mallory<script>alert(1)</script>",
        body=(
            '<script>alert(1)</script>[x](javascript:alert(1)) <a href="javascript:alert(1)">y</a>'
        ),
    )
    assert response.status_code == 201, response.text
    [item] = (await harness.client.get("/api/articles/xss-story/comments")).json()["items"]
    assert item["author_name"] == "Mallory"
    assert "<script" not in item["body_html"]
    assert "<a " not in item["body_html"]  # raw and javascript: links are only text


async def test_edit_and_delete_with_the_edit_token(harness: Harness) -> None:
    await harness.published("edit-story")
    posted = (await harness.post("edit-story")).json()
    path = f"/api/articles/edit-story/comments/{posted['id']}"
    forged = await harness.client.patch(path, json={"body": "x"}, headers={"X-Edit-Token": "no"})
    assert forged.status_code == 403
    edited = await harness.client.patch(
        path, json={"body": "_changed_"}, headers={"X-Edit-Token": posted["edit_token"]}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["edited"] is True
    deleted = await harness.client.delete(path, headers={"X-Edit-Token": posted["edit_token"]})
    assert deleted.status_code == 204
    thread = (await harness.client.get("/api/articles/edit-story/comments")).json()
    assert thread["items"] == []
    assert thread["total"] == 0


async def test_old_slugs_keep_working_and_unpublish_hides(harness: Harness) -> None:
    article_id = await harness.published("old-name")
    await harness.post("old-name")
    renamed = ArticleUpdatedV1(
        subject=article_id,
        data=ArticleData(
            article_id=article_id,
            slug="new-name",
            previous_slugs=["old-name"],
            title="Renamed",
            section=SectionRef(slug="foreign-affairs", name="Foreign Affairs"),
            url_path="/articles/new-name",
            comments_open=True,
            published_at=datetime.now(UTC),
            revision=2,
        ),
    )
    await harness.producer.publish(renamed, harness.settings.topic(topics.ARTICLES))
    await harness.until("/api/articles/new-name/comments", lambda r: r.status_code == 200)
    old = (await harness.client.get("/api/articles/old-name/comments")).json()
    assert old["article"]["slug"] == "new-name"
    assert len(old["items"]) == 1
    ref = ArticleRef(article_id=article_id, slug="new-name", url_path="/articles/new-name")
    await harness.producer.publish(
        ArticleUnpublishedV1(subject=article_id, data=ref), harness.settings.topic(topics.ARTICLES)
    )
    await harness.until("/api/articles/new-name/comments", lambda r: r.status_code == 404)
    assert (await harness.post("new-name")).status_code == 404


async def test_staff_bans_an_email(harness: Harness) -> None:
    await harness.published("ban-story")
    response = await harness.client.post(
        "/api/editor/comments/bans",
        json={"kind": "email", "value": "troll@example.com", "duration_minutes": 60},
        headers=harness.staff,
    )
    assert response.status_code == 201, response.text
    refused = await harness.post("ban-story", author_email="TROLL@example.com")
    assert refused.status_code == 403
    bans = await harness.client.get("/api/editor/comments/bans", headers=harness.staff)
    assert response.json()["id"] in [ban["id"] for ban in bans.json()["items"]]


async def test_sixteen_concurrent_posts_all_land_and_count_exactly(harness: Harness) -> None:
    await harness.published("crowded-story")
    answers = await asyncio.gather(
        *(harness.post("crowded-story", body=f"Concurrent {n}") for n in range(16))
    )
    assert [a.status_code for a in answers] == [201] * 16, [a.text for a in answers]
    count = (await harness.client.get("/api/articles/crowded-story/comments/count")).json()
    assert count["count"] == 16
    thread = (await harness.client.get("/api/articles/crowded-story/comments?limit=100")).json()
    assert thread["total"] == 16
    assert {i["id"] for i in thread["items"]} == {a.json()["id"] for a in answers}


async def test_a_thread_page_as_large_as_the_gateway_may_ask_for(harness: Harness) -> None:
    # GATEWAY_COMMENTS_PAGE_SIZE goes up to THREAD_PAGE_MAX: a smaller cap here left every
    # article page of such a gateway without its comments (a 422 it shows as an outage).
    await harness.published("long-page-story")
    posted = await harness.post("long-page-story", body="Only one")
    path = "/api/articles/long-page-story/comments"
    largest = await harness.client.get(f"{path}?limit={THREAD_PAGE_MAX}")
    assert largest.status_code == 200, largest.text
    located = await harness.client.get(f"{path}/{posted.json()['id']}?limit={THREAD_PAGE_MAX}")
    assert located.status_code == 200, located.text
    too_large = await harness.client.get(f"{path}?limit={THREAD_PAGE_MAX + 1}")
    assert too_large.status_code == 422


async def test_a_thread_spanning_pages_and_a_hidden_subtree(harness: Harness) -> None:
    await harness.published("paged-story")
    ids: list[str] = []
    for n in range(3):
        root = (await harness.post("paged-story", body=f"Root {n}")).json()["id"]
        reply = (await harness.post("paged-story", body=f"Reply {n}", parent_id=root)).json()
        deeper = (
            await harness.post("paged-story", body=f"Deeper {n}", parent_id=reply["id"])
        ).json()
        ids += [root, reply["id"], deeper["id"]]
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (
            await harness.client.get("/api/articles/paged-story/comments", params=params)
        ).json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i["id"] for i in seen] == ids
    # The second page starts with the first thread's deepest reply: its parent is named.
    assert seen[2]["root_id"] == ids[0]
    assert seen[2]["in_reply_to"] == "Ann"
    rejected = await harness.client.post(
        f"/api/editor/comments/{ids[3]}/reject", headers=harness.staff
    )
    assert rejected.status_code == 200
    thread = (await harness.client.get("/api/articles/paged-story/comments")).json()
    assert [i["id"] for i in thread["items"]] == ids[:3] + ids[6:]
    assert thread["total"] == 6
    newest = (await harness.client.get("/api/articles/paged-story/comments?sort=newest")).json()
    assert [i["id"] for i in newest["items"]] == ids[6:] + ids[:3]
