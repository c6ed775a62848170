"""The HTTP platform against a scripted gateway (httpx.MockTransport): sign-in, refreshing the
token before it expires, clear refusals, the comments service's 404 that means "retry", paging
through what is already imported, and the request bodies the import endpoints expect."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from broadsheet_import import http
from broadsheet_import.http import HttpPlatform, PlatformUnavailable
from broadsheet_import.mapping import ArticleDraft, CommentDraft, SectionRef
from broadsheet_import.platform import NotVisibleYet, Outcome, PlatformError

pytestmark = pytest.mark.unit

WHEN = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
SOURCE = "https://old.example"


def token(n: int, expires_in: int = 900) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "access_token": f"access-{n}",
            "token_type": "bearer",
            "expires_in": expires_in,
            "refresh_token": f"refresh-{n}",
        },
    )


def problem(status: int, detail: str, type_: str = "about:blank", **extra: Any) -> httpx.Response:
    body = {"type": type_, "title": "x", "status": status, "detail": detail, **extra}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


class Gateway:
    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.answer(request)

    def platform(self) -> HttpPlatform:
        return HttpPlatform("http://gateway.test", transport=httpx.MockTransport(self))


def article() -> ArticleDraft:
    return ArticleDraft(
        wordpress_id=7,
        title="Boat",
        slug="boat",
        summary="",
        body="",
        section=SectionRef("News", "news"),
        tags=("sea",),
        authors=("Ann",),
        status="published",
        published_at=WHEN,
        scheduled_at=None,
        created_at=WHEN,
        updated_at=WHEN,
        comments_open=True,
        wordpress_link="https://old.example/2020/01/02/boat/",
        wordpress_post_name="boat",
    )


def comment() -> CommentDraft:
    return CommentDraft(
        wordpress_id=9,
        parent_wordpress_id=None,
        author_name="Bo",
        author_email="bo@example.com",
        author_url="",
        created_at=WHEN,
        body="Hi",
        status="approved",
    )


async def test_sign_in_sends_the_password_grant_and_uses_the_token() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/token":
            return token(1)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    gateway = Gateway(answer)
    platform = gateway.platform()
    await platform.sign_in("ed@example.com", "secret-password")
    await platform.imported(SOURCE)
    sign_in = gateway.seen[0]
    assert sign_in.content == b"username=ed%40example.com&password=secret-password"
    assert [r.headers["authorization"] for r in gateway.seen[1:]] == ["Bearer access-1"] * 2
    assert gateway.seen[1].url.params["source"] == SOURCE


async def test_wrong_credentials_are_one_clear_refusal() -> None:
    gateway = Gateway(lambda _: problem(401, "Wrong email or password."))
    with pytest.raises(PlatformError, match=r"Sign-in refused \(401 Wrong email or password"):
        await gateway.platform().sign_in("ed@example.com", "nope")


async def test_too_many_sign_ins_say_when_to_try_again() -> None:
    refused = problem(429, "Too many requests.")
    refused.headers["Retry-After"] = "120"
    gateway = Gateway(lambda _: refused)
    with pytest.raises(PlatformError, match="try again in 120 s"):
        await gateway.platform().sign_in("ed@example.com", "pw")


async def test_a_token_about_to_expire_is_refreshed_first() -> None:
    tokens = iter([token(1, expires_in=30), token(2)])

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/auth/"):
            return next(tokens)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    gateway = Gateway(answer)
    platform = gateway.platform()
    await platform.sign_in("ed@example.com", "pw")
    await platform.imported(SOURCE)
    paths = [r.url.path for r in gateway.seen]
    assert paths[:3] == ["/api/auth/token", "/api/auth/refresh", "/api/editor/import/articles"]
    assert json.loads(gateway.seen[1].content) == {"refresh_token": "refresh-1"}
    assert gateway.seen[2].headers["authorization"] == "Bearer access-2"


async def test_a_spent_refresh_token_signs_in_again() -> None:
    answers = iter([token(1, expires_in=10), problem(401, "spent"), token(3)])

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/auth/"):
            return next(answers)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    gateway = Gateway(answer)
    platform = gateway.platform()
    await platform.sign_in("ed@example.com", "pw")
    await platform.imported(SOURCE)
    assert [r.url.path for r in gateway.seen[:3]] == [
        "/api/auth/token",
        "/api/auth/refresh",
        "/api/auth/token",
    ]
    assert gateway.seen[3].headers["authorization"] == "Bearer access-3"


async def test_imported_pages_through_both_lists() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/token":
            return token(1)
        after = int(request.url.params["after"])
        if request.url.path.endswith("/articles"):
            item = {"wordpress_id": after + 1, "id": f"a{after + 1}", "fingerprint": "f"}
            return httpx.Response(
                200, json={"items": [item], "next_cursor": after + 1 if after < 2 else None}
            )
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    gateway = Gateway(answer)
    platform = gateway.platform()
    await platform.sign_in("e", "p")
    imported = await platform.imported(SOURCE)
    assert sorted(imported.articles) == [1, 2, 3]
    assert imported.articles[3].id == "a3"
    assert imported.comments == {}


async def test_upserts_send_what_the_endpoints_expect_and_read_the_outcome() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/auth/token":
            return token(1)
        if path.startswith("/api/editor/import/sections/"):
            return httpx.Response(200, json={"slug": "news", "name": "News"})
        if path == "/api/editor/import/articles/7":
            return httpx.Response(201, json={"id": "a1", "slug": "boat", "outcome": "created"})
        return httpx.Response(200, json={"id": "c1", "outcome": "unchanged"})

    gateway = Gateway(answer)
    platform = gateway.platform()
    await platform.sign_in("e", "p")
    assert await platform.ensure_section(SectionRef("News & Views", "news-%c3%a9")) == "news"
    written = await platform.upsert_article(SOURCE, "news", article())
    assert (written.id, written.outcome) == ("a1", Outcome.CREATED)
    reply = await platform.upsert_comment(SOURCE, "a1", None, comment())
    assert reply.outcome is Outcome.UNCHANGED
    section, put_article, put_comment = gateway.seen[1:]
    assert section.url.raw_path == b"/api/editor/import/sections/news-%25c3%25a9"
    assert json.loads(section.content) == {"name": "News & Views"}
    body = json.loads(put_article.content)
    assert body["published_at"] == "2020-01-02T03:04:05+00:00"
    assert body["wordpress"] == {
        "link": "https://old.example/2020/01/02/boat/",
        "post_name": "boat",
    }
    assert body["fingerprint"] == article().fingerprint()
    assert put_article.method == "PUT"
    assert put_article.url.params["source"] == SOURCE
    assert json.loads(put_comment.content)["article_id"] == "a1"


async def test_the_comments_404_for_an_unknown_article_means_retry() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/token":
            return token(1)
        if request.url.path.endswith("/9"):
            return problem(404, "not yet", type_=http.NOT_VISIBLE)
        return problem(
            422,
            "The request is not valid.",
            errors=[{"loc": ["body", "parent_id"], "msg": "unknown comment", "type": "value"}],
        )

    platform = Gateway(answer).platform()
    await platform.sign_in("e", "p")
    with pytest.raises(NotVisibleYet):
        await platform.upsert_comment(SOURCE, "a1", None, comment())
    other = CommentDraft(**{**comment().__dict__, "wordpress_id": 10})
    with pytest.raises(PlatformError, match=r"422 The request is not valid. \(parent_id: unknown"):
        await platform.upsert_comment(SOURCE, "a1", "c0", other)


async def test_server_errors_are_retried_then_stop_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "_SERVER_RETRIES", (0.0, 0.0))
    answers = iter([token(1), problem(503, "down"), httpx.Response(200, json={"items": []})])

    def answer(request: httpx.Request) -> httpx.Response:
        return next(answers, problem(503, "down"))

    gateway = Gateway(answer)
    platform = gateway.platform()
    await platform.sign_in("e", "p")
    # One 503, then an answer: the retry hides the hiccup.
    assert (await platform._pages("/api/editor/import/articles", SOURCE)) == {}
    with pytest.raises(PlatformUnavailable, match="HTTP 503"):
        await platform.imported(SOURCE)
