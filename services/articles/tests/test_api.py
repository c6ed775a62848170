"""The HTTP API in-process on the real database and Kafka: lifecycle, concurrency, auth, input."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadsheet_articles.main import create_app
from broadsheet_articles.settings import Settings
from broadsheet_shared.auth import Principal, TokenIssuer
from broadsheet_shared.devkeys import DEV_JWT_PRIVATE_KEY, DEV_JWT_PUBLIC_KEY
from broadsheet_shared.events import decode_event, topics
from broadsheet_shared.events.base import IntegrationEvent
from broadsheet_shared.outbox import OUTBOX

pytestmark = pytest.mark.integration

ADMIN_EMAIL = "chief@example.org"
ADMIN_PASSWORD = "a-very-secret-test-password"
EDITOR_PASSWORD = "long-enough-password"


def make_settings(infra: Any, prefix: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "mongo_url": infra.mongo_url,
        "kafka_bootstrap_servers": infra.kafka_bootstrap,
        "kafka_topic_prefix": f"{prefix}.",
        "mongo_database": f"{prefix}_articles",
        "environment": "test",
        "log_level": "WARNING",
        "editor_email": ADMIN_EMAIL,
        "editor_password": ADMIN_PASSWORD,
        "editor_name": "Chief",
        # OWASP's floor keeps the test suite quick; production uses the stronger default.
        "argon2_memory_kib": 19456,
        "argon2_time_cost": 2,
        "argon2_parallelism": 1,
        "login_attempts_per_account_client": 5,
        "login_attempts_per_client": 1000,
        "scheduler_interval_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


class Api:
    def __init__(self, client: httpx.AsyncClient, settings: Settings, app: Any) -> None:
        self.client = client
        self.settings = settings
        self.app = app
        self.admin_headers: dict[str, str] = {}

    @property
    def db(self) -> Any:
        return self.app.state.container.runtime.db

    async def create(self, **fields: Any) -> dict[str, Any]:
        body = {"title": "Talks resume in Geneva", "body": "Body *text*", "section": "World"}
        body.update(fields)
        response = await self.client.post(
            "/api/editor/articles", json=body, headers=self.admin_headers
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def create_editor(self) -> dict[str, Any]:
        """A new editor account (a fresh email each time) whose password is EDITOR_PASSWORD."""
        response = await self.client.post(
            "/api/editor/users",
            json={
                "email": f"ed-{secrets.token_hex(3)}@example.org",
                "name": "Ed",
                "password": EDITOR_PASSWORD,
            },
            headers=self.admin_headers,
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def publish(self, article_id: str, **body: Any) -> httpx.Response:
        return await self.client.post(
            f"/api/editor/articles/{article_id}/publish",
            json=body or None,
            headers=self.admin_headers,
        )


@contextlib.asynccontextmanager
async def running_api(infra: Any) -> AsyncIterator[Api]:
    settings = make_settings(infra, f"t{secrets.token_hex(4)}")
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://articles") as client,
    ):
        api = Api(client, settings, app)
        response = await client.post(
            "/api/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200, response.text
        api.admin_headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        yield api


@pytest.fixture(scope="module")
async def api(infra: Any) -> AsyncIterator[Api]:
    async with running_api(infra) as api:
        yield api


@pytest.fixture
async def own_api(infra: Any) -> AsyncIterator[Api]:
    """A fresh installation, for tests that change what every other test sees (sections)."""
    async with running_api(infra) as api:
        yield api


async def outbox_drained(db: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while await db["outbox"].count_documents({"state": {"$ne": "published"}}):
        assert asyncio.get_running_loop().time() < deadline, "outbox not drained"
        await asyncio.sleep(0.05)


async def article_events(settings: Settings, article_id: str) -> list[IntegrationEvent]:
    """Every event on the articles topic keyed by ``article_id``, read to the end of the topic."""
    topic = settings.topic(topics.ARTICLES)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        events = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    if message.key == article_id.encode():
                        events.append(decode_event(message.value, message.headers))
        return events
    finally:
        await consumer.stop()


async def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


# -- the article lifecycle ---------------------------------------------------------------------


async def test_publishing_emits_exactly_one_article_published(api: Api) -> None:
    created = await api.create(title="Ceasefire holds", tags=["Peace"])
    assert created["status"] == "draft"
    assert created["slug"] == "ceasefire-holds"
    assert (await api.client.get("/api/articles/ceasefire-holds")).status_code == 404

    response = await api.publish(created["id"])
    assert response.status_code == 200
    assert response.json()["status"] == "published"

    await outbox_drained(api.db)
    events = await article_events(api.settings, created["id"])
    assert [e.type for e in events] == ["article.published"]
    data = events[0].data
    assert data.url_path == "/articles/ceasefire-holds"  # type: ignore[attr-defined]
    assert data.section.name == "World"  # type: ignore[attr-defined]
    assert "password" not in events[0].model_dump_json()
    assert ADMIN_EMAIL not in events[0].model_dump_json()


async def test_renaming_a_section_emits_article_updated_with_the_new_name(own_api: Api) -> None:
    api = own_api
    section = await api.client.post(
        "/api/editor/sections", json={"name": "Culture"}, headers=api.admin_headers
    )
    assert section.status_code == 201, section.text
    created = await api.create(title="Opera returns", section="culture")
    await api.publish(created["id"])

    renamed = await api.client.patch(
        "/api/editor/sections/culture", json={"name": "Arts"}, headers=api.admin_headers
    )
    assert renamed.status_code == 200, renamed.text

    await outbox_drained(api.db)
    events = await article_events(api.settings, created["id"])
    assert [e.type for e in events] == ["article.published", "article.updated"]
    assert events[1].data.section.name == "Arts"  # type: ignore[attr-defined]
    public = await api.client.get("/api/articles/opera-returns")
    assert public.json()["section"] == {"slug": "culture", "name": "Arts"}


async def test_public_reads_with_etag_cache_control_and_feeds(api: Api) -> None:
    created = await api.create(title="Summit opens", section="foreign-affairs", tags=["UN"])
    await api.publish(created["id"])
    response = await api.client.get("/api/articles/summit-opens")
    assert response.status_code == 200
    article = response.json()
    assert article["body_html"] == "<p>Body <em>text</em></p>\n"
    assert article["section"] == {"slug": "foreign-affairs", "name": "Foreign Affairs"}
    assert article["url_path"] == "/articles/summit-opens"
    assert article["comments_open"] is True
    assert "public" in response.headers["cache-control"]
    cached = await api.client.get(
        "/api/articles/summit-opens", headers={"If-None-Match": response.headers["etag"]}
    )
    assert cached.status_code == 304
    # Both reads were served by the plain Starlette route in front of FastAPI's router.
    metrics = (await api.client.get("/metrics")).text
    assert 'route="/api/articles/{slug:article_slug}"' in metrics

    listed = await api.client.get("/api/articles", params={"section": "Foreign Affairs"})
    assert [a["slug"] for a in listed.json()["items"]] == ["summit-opens"]
    by_tag = await api.client.get("/api/articles", params={"tag": "un"})
    assert [a["slug"] for a in by_tag.json()["items"]] == ["summit-opens"]

    sections = (await api.client.get("/api/sections")).json()["items"]
    assert [s["name"] for s in sections] == [
        "World",
        "Foreign Affairs",
        "Politics",
        "Business",
        "Opinion",
    ]
    feed = await api.client.get("/api/sections/foreign-affairs/feed.xml")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert b"Summit opens" in feed.content
    assert b"/articles/summit-opens" in feed.content
    site = await api.client.get("/api/articles/feed.xml")
    assert b"Summit opens" in site.content
    assert (await api.client.get("/api/sections/nope/feed.xml")).status_code == 404


async def test_cursor_pagination_walks_newest_first(api: Api) -> None:
    slugs = []
    for i in range(3):
        created = await api.create(title=f"Paging story {i}", section="Business", tags=["paging"])
        await api.publish(created["id"])
        slugs.append(created["slug"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"tag": "paging", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.client.get("/api/articles", params=params)).json()
        seen += [a["slug"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == slugs[::-1]
    # The pattern in the document is the check: a cursor of another shape is a bad parameter.
    bad = await api.client.get("/api/articles", params={"cursor": "!!not-a-cursor"})
    assert bad.status_code == 422
    [error] = bad.json()["errors"]
    assert (error["loc"], error["type"]) == (["query", "cursor"], "string_pattern_mismatch")


async def test_a_stale_patch_gets_412_and_a_fresh_one_emits_updated(api: Api) -> None:
    created = await api.create(title="Budget vote")
    await api.publish(created["id"])
    url = f"/api/editor/articles/{created['id']}"
    current = await api.client.get(url, headers=api.admin_headers)
    etag = current.headers["etag"]

    missing = await api.client.patch(url, json={"summary": "x"}, headers=api.admin_headers)
    assert missing.status_code == 428
    assert missing.json()["detail"] == "PATCH needs an If-Match header with the ETag you read."
    ok = await api.client.patch(
        url, json={"summary": "New summary"}, headers={**api.admin_headers, "If-Match": etag}
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] != etag
    stale = await api.client.patch(
        url, json={"summary": "Lost update"}, headers={**api.admin_headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json() == {
        "type": "about:blank",
        "title": "Precondition Failed",
        "status": 412,
        "detail": "The article changed since you read it; reload it and apply your edit again.",
        "instance": url,
        "current_revision": ok.json()["revision"],
    }
    assert (await api.client.get(url, headers=api.admin_headers)).json()["summary"] == "New summary"

    await outbox_drained(api.db)
    types = [e.type for e in await article_events(api.settings, created["id"])]
    assert types == ["article.published", "article.updated"]
    revisions = await api.client.get(f"{url}/revisions", headers=api.admin_headers)
    assert [r["reason"] for r in revisions.json()["items"]] == ["edited", "published", "created"]


async def test_an_old_slug_redirects_to_the_new_one(api: Api) -> None:
    created = await api.create(title="Old headline")
    published = (await api.publish(created["id"])).json()
    response = await api.client.patch(
        f"/api/editor/articles/{created['id']}",
        json={"slug": "new-headline"},
        headers={**api.admin_headers, "If-Match": f'"{published["revision"]}"'},
    )
    assert response.status_code == 200
    moved = await api.client.get("/api/articles/old-headline")
    assert moved.status_code == 301
    assert moved.headers["location"] == "/api/articles/new-headline"
    assert (await api.client.get("/api/articles/new-headline")).status_code == 200


async def test_lifecycle_rules_over_http(api: Api) -> None:
    created = await api.create(title="Lifecycle")
    url = f"/api/editor/articles/{created['id']}"
    await api.publish(created["id"])
    refused = await api.client.delete(url, headers=api.admin_headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "Only drafts can be deleted; unpublish this article instead."
    )
    unpublished = await api.client.post(f"{url}/unpublish", headers=api.admin_headers)
    assert unpublished.json()["status"] == "unpublished"
    assert (await api.client.get("/api/articles/lifecycle")).status_code == 404

    draft = await api.create(title="Throwaway")
    assert (
        await api.client.delete(f"/api/editor/articles/{draft['id']}", headers=api.admin_headers)
    ).status_code == 204
    listed = await api.client.get(
        "/api/editor/articles", params={"status": "unpublished"}, headers=api.admin_headers
    )
    assert created["id"] in [a["id"] for a in listed.json()["items"]]


# -- bad input ---------------------------------------------------------------------------------


async def test_bad_input_gets_clear_4xx_problems(api: Api) -> None:
    headers = api.admin_headers
    unknown = await api.client.post(
        "/api/editor/articles",
        json={"title": "T", "body": "B", "section": "Sport"},
        headers=headers,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"loc": ["body", "section"], "msg": "Unknown section 'Sport'.", "type": "unknown_section"}
    ]
    too_long = await api.client.post(
        "/api/editor/articles",
        json={"title": "T" * 301, "body": "B", "section": "World"},
        headers=headers,
    )
    assert too_long.status_code == 422
    assert too_long.headers["content-type"] == "application/problem+json"
    huge = await api.client.post(
        "/api/editor/articles",
        json={"title": "T", "body": "B" * 600_000, "section": "World"},
        headers=headers,
    )
    assert huge.status_code == 413
    collision = [await api.create(title="Same title") for _ in range(2)]
    assert [c["slug"] for c in collision] == ["same-title", "same-title-2"]
    past = await api.publish(collision[0]["id"], at="2000-01-01T00:00:00")
    assert past.status_code == 422  # a time without a zone is ambiguous


# -- auth ----------------------------------------------------------------------------------------


def forged_key() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def token(private_key: str = DEV_JWT_PRIVATE_KEY, *, role: str = "admin", **kwargs: Any) -> str:
    issuer = TokenIssuer(
        private_key,
        issuer="broadsheet-articles",
        audience="broadsheet",
        ttl=timedelta(minutes=15),
    )
    return issuer.issue(Principal(subject="someone", role=role, name="X"), **kwargs)  # type: ignore[arg-type]


def alg_none_token() -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": "x",
        "role": "admin",
        "typ": "access",
        "iss": "broadsheet-articles",
        "aud": "broadsheet",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return jwt.encode(claims, None, algorithm="none")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer not-a-jwt",
        "Basic Y2hpZWY6cGFzcw==",
        "expired",
        "forged",
        "alg-none",
    ],
)
async def test_staff_routes_refuse_missing_expired_forged_and_unsigned_tokens(
    api: Api, authorization: str | None
) -> None:
    headers = {"X-Role": "admin", "X-User-Role": "admin"}  # client headers never grant a role
    if authorization == "expired":
        authorization = f"Bearer {token(now=datetime.now(UTC) - timedelta(hours=1))}"
    elif authorization == "forged":
        authorization = f"Bearer {token(forged_key())}"
    elif authorization == "alg-none":
        authorization = f"Bearer {alg_none_token()}"
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await api.client.get("/api/editor/articles", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_editor_token_cannot_use_admin_routes(api: Api) -> None:
    headers = {"Authorization": f"Bearer {token(role='editor')}"}
    assert (await api.client.get("/api/editor/articles", headers=headers)).status_code == 200
    assert (await api.client.get("/api/editor/users", headers=headers)).status_code == 403


async def test_login_failures_look_alike_and_are_throttled(api: Api) -> None:
    email = (await api.create_editor())["email"]
    wrong = await api.client.post(
        "/api/auth/token", data={"username": email, "password": "wrong-password"}
    )
    unknown = await api.client.post(
        "/api/auth/token", data={"username": "nobody@example.org", "password": "x"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "Incorrect email or password."
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"
    for _ in range(4):  # five failures in all: the limit
        await api.client.post("/api/auth/token", data={"username": email, "password": "nope"})
    throttled = await api.client.post(
        "/api/auth/token", data={"username": email, "password": EDITOR_PASSWORD}
    )
    assert throttled.status_code == 429
    assert "retry-after" in throttled.headers


async def test_refresh_rotates_and_a_disabled_editor_is_locked_out(api: Api) -> None:
    created = await api.create_editor()
    email = created["email"]
    login = await api.client.post(
        "/api/auth/token", data={"username": email, "password": EDITOR_PASSWORD}
    )
    assert login.status_code == 200
    body = login.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] <= 900
    refreshed = await api.client.post(
        "/api/auth/refresh", json={"refresh_token": body["refresh_token"]}
    )
    assert refreshed.status_code == 200
    reused = await api.client.post(
        "/api/auth/refresh", json={"refresh_token": body["refresh_token"]}
    )
    assert reused.status_code == 401
    assert reused.headers["www-authenticate"] == "Bearer"
    editor_headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await api.client.get("/api/editor/articles", headers=editor_headers)).is_success
    disabled = await api.client.patch(
        f"/api/editor/users/{created['id']}",
        json={"disabled": True},
        headers=api.admin_headers,
    )
    assert disabled.json()["disabled"] is True
    locked = await api.client.post(
        "/api/auth/token", data={"username": email, "password": EDITOR_PASSWORD}
    )
    assert locked.status_code == 401
    # This service owns the accounts: the still-unexpired access token is refused at once,
    # and the change waits in the outbox for the other services.
    refused = await api.client.get("/api/editor/articles", headers=editor_headers)
    assert refused.status_code == 401
    announced = await api.db[OUTBOX].find_one(
        {"type": "staff.account_changed", "key": created["id"].encode()}
    )
    assert announced is not None


async def test_signing_out_revokes_the_refresh_token(api: Api) -> None:
    email = (await api.create_editor())["email"]
    pair = (
        await api.client.post(
            "/api/auth/token", data={"username": email, "password": EDITOR_PASSWORD}
        )
    ).json()
    body = {"refresh_token": pair["refresh_token"]}
    assert (await api.client.post("/api/auth/logout", json=body)).status_code == 204
    assert (await api.client.post("/api/auth/refresh", json=body)).status_code == 401
    # Signing out twice, or with a token that never existed, answers the same.
    assert (await api.client.post("/api/auth/logout", json=body)).status_code == 204


# -- the scheduler -------------------------------------------------------------------------------


async def test_a_scheduled_article_is_published_exactly_once_across_a_restart(infra: Any) -> None:
    settings = make_settings(infra, f"t{secrets.token_hex(4)}")
    first = create_app(settings)
    async with (
        LifespanManager(first),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(first), base_url="http://articles"
        ) as client,
    ):
        api = Api(client, settings, first)
        api.admin_headers = {"Authorization": f"Bearer {token()}"}
        created = await api.create(title="Scheduled story")
        at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        response = await api.publish(created["id"], at=at)
        assert response.json()["status"] == "scheduled"
    # The first process is gone before the time comes; two replicas come up and race for it.
    replicas = [create_app(settings), create_app(settings)]
    async with (
        LifespanManager(replicas[0]),
        LifespanManager(replicas[1]),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(replicas[0]), base_url="http://articles"
        ) as client,
    ):

        async def published() -> bool:
            return (await client.get("/api/articles/scheduled-story")).status_code == 200

        await wait_for(published)
        # Give the other replica's scheduler ticks the chance to publish it again.
        db = replicas[1].state.container.runtime.db
        for _ in range(3):
            await asyncio.wait_for(replicas[1].state.container.articles.publish_due(), 10)
        # The stopped process gave its relay lease up, so a replica's relay publishes at once,
        # well before the lease would have expired.
        await outbox_drained(db, timeout=settings.outbox_lease_seconds / 2)
        events = await article_events(settings, created["id"])
    assert [e.type for e in events] == ["article.published"]
    assert DEV_JWT_PUBLIC_KEY  # the verifier the replicas used
