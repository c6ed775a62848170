"""The edge every page shares: sign-in, the session cookie, CSRF, roles and error pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from broadsheet_newsroom.pages import SIGN_IN_COOKIE, safe_next
from broadsheet_newsroom.session import COOKIE

from .conftest import Newsroom, csrf_of, signed_in
from .fakes import PASSWORD

pytestmark = pytest.mark.unit


async def test_the_sign_in_page_has_its_fields_and_refuses_a_wrong_password(
    newsroom: Newsroom,
) -> None:
    async with newsroom.client() as client:
        page = await client.get("/newsroom/sign-in")
        assert page.status_code == 200
        for label in ('<label for="email">Email</label>', '<label for="password">Password</label>'):
            assert label in page.text
        assert '<button type="submit">Sign in</button>' in page.text
        wrong = await client.post(
            "/newsroom/sign-in",
            data={
                "email": "ed@example.com",
                "password": "nope",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert wrong.status_code == 401
        assert "Wrong email or password." in wrong.text
        assert 'value="ed@example.com"' in wrong.text  # what was typed is kept
        assert COOKIE not in client.cookies


async def test_the_session_cookie_is_opaque_httponly_and_lax(newsroom: Newsroom) -> None:
    async with newsroom.client() as client:
        answer = await newsroom.sign_in(client)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/newsroom/"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # plain http here
    value = cookie.split(";")[0].split("=", 1)[1]
    (session,) = [s for s in newsroom.container.sessions._sessions.values()]
    assert value == session.id
    assert session.access_token not in cookie
    assert session.refresh_token not in cookie


async def test_the_cookie_is_secure_over_https_from_a_trusted_proxy_only(
    newsroom: Newsroom,
) -> None:
    for peer, secure in (("10.1.2.3", True), ("203.0.113.9", False)):
        async with newsroom.client(peer) as client:
            client.headers["X-Forwarded-Proto"] = "https"
            page = await client.get("/newsroom/sign-in")
            token = csrf_of(page.text)
            answer = await client.post(
                "/newsroom/sign-in",
                data={"email": "ed@example.com", "password": PASSWORD, "csrf_token": token},
                # httpx keeps a Secure cookie from plain http: the browser's https would send it.
                headers={"Cookie": f"{SIGN_IN_COOKIE}={token}"},
            )
        for response, name in ((page, SIGN_IN_COOKIE), (answer, COOKIE)):
            cookie = next(
                c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")
            )
            assert ("; secure" in cookie.lower()) is secure, (peer, name)


async def test_sign_in_returns_to_the_page_asked_for_and_never_off_site(
    newsroom: Newsroom,
) -> None:
    async with newsroom.client() as client:
        bounced = await client.get("/newsroom/articles?status=draft")
        assert bounced.status_code == 303
        assert bounced.headers["location"] == "/newsroom/sign-in?next=%2Farticles%3Fstatus%3Ddraft"
        page = await client.get(bounced.headers["location"])
        assert 'name="next" value="/articles?status=draft"' in page.text
        answer = await client.post(
            "/newsroom/sign-in",
            data={
                "email": "ed@example.com",
                "password": PASSWORD,
                "csrf_token": csrf_of(page.text),
                "next": "/articles?status=draft",
            },
        )
        assert answer.headers["location"] == "/newsroom/articles?status=draft"
    for hostile in ("//evil.example/x", "https://evil.example", "/\\evil.example", "", None):
        assert safe_next(hostile) == "/"


async def test_a_throttled_sign_in_shows_when_to_retry(newsroom: Newsroom) -> None:
    newsroom.services.throttled = True
    async with newsroom.client() as client:
        answer = await newsroom.sign_in(client)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "42"
    assert "Try again in 42 seconds" in answer.text


async def test_sign_out_ends_the_session_and_revokes_the_refresh_token(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        old_cookie = client.cookies[COOKIE]
        (session,) = newsroom.container.sessions._sessions.values()
        page = await client.get("/newsroom/")
        answer = await client.post("/newsroom/sign-out", data={"csrf_token": csrf_of(page.text)})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/newsroom/sign-in?signed_out=true"
        assert session.refresh_token in newsroom.services.revoked
    async with newsroom.client() as replay:
        replay.cookies[COOKIE] = old_cookie
        again = await replay.get("/newsroom/articles")
        assert again.status_code == 303
        assert "/newsroom/sign-in" in again.headers["location"]


async def test_a_form_without_the_sessions_csrf_token_or_from_another_site_is_refused(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        page = await client.get("/newsroom/articles/new")
        token = csrf_of(page.text)
        form = {"title": "T", "section": "Sport", "body": "B", "action": "save"}
        for headers, data in (
            ({}, form),  # no token
            ({}, {**form, "csrf_token": token + "x"}),  # a wrong one
            ({"Sec-Fetch-Site": "cross-site"}, {**form, "csrf_token": token}),
            (
                {"Sec-Fetch-Site": "", "Origin": "https://evil.example"},
                {**form, "csrf_token": token},
            ),
        ):
            refused = await client.post("/newsroom/articles", data=data, headers=headers)
            assert refused.status_code == 403, headers
            assert "did not come from this Newsroom page" in refused.text
        assert newsroom.services.articles == {}
        sign_in_page = await client.get("/newsroom/sign-in?next=/")
        assert sign_in_page.status_code == 303  # signed in already: on to the page
    async with newsroom.client() as stranger:
        forged = await stranger.post(
            "/newsroom/sign-in",
            data={"email": "ed@example.com", "password": PASSWORD, "csrf_token": "guess"},
        )
        assert forged.status_code == 403
        # Another site's form arrives without the (SameSite=Lax) cookie: still a 403 page, not
        # a sign-in redirect that would hide what happened.
        cross = await stranger.post(
            "/newsroom/articles", data={"title": "x"}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert cross.status_code == 403


async def test_a_moderator_gets_a_403_page_on_editor_pages_and_no_editor_nav(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom, "mo@example.com") as client:
        # (Their "/" is the moderation queue: test_moderation.py.)
        for path in ("/newsroom/articles", "/newsroom/articles/new"):
            page = await client.get(path)
            assert page.status_code == 403, path
            assert "<h1>Not allowed</h1>" in page.text
            assert "Traceback" not in page.text
            assert ">Articles</a>" not in page.text
            assert "Sign out" in page.text


async def test_an_admin_sees_the_editor_pages(newsroom: Newsroom) -> None:
    async with signed_in(newsroom, "ad@example.com") as client:
        page = await client.get("/newsroom/articles")
        assert page.status_code == 200
        assert ">Articles</a>" in page.text


async def test_the_access_token_is_refreshed_on_the_server_when_it_nears_expiry(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        (session,) = newsroom.container.sessions._sessions.values()
        first_refresh = session.refresh_token
        newsroom.clock.advance(minutes=5)
        await client.get("/newsroom/articles")
        assert session.refresh_token == first_refresh  # still fresh: no refresh
        newsroom.clock.advance(minutes=10)  # 15 minutes: the token is about to expire
        page = await client.get("/newsroom/articles")
        assert page.status_code == 200
        assert session.refresh_token != first_refresh
        assert first_refresh not in newsroom.services.refresh_tokens  # spent (rotated)


async def test_a_session_whose_refresh_is_refused_goes_back_to_sign_in(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        (session,) = newsroom.container.sessions._sessions.values()
        newsroom.services.revoked.add(session.refresh_token)  # e.g. signed out elsewhere
        newsroom.clock.advance(timedelta(minutes=16))
        page = await client.get("/newsroom/articles")
        assert page.status_code == 303
        assert "/newsroom/sign-in" in page.headers["location"]
        assert newsroom.container.sessions.get(session.id) is None


async def test_the_idle_timeout_comes_from_settings() -> None:
    short = Newsroom(session_idle_minutes=5)
    async with signed_in(short) as client:
        short.clock.advance(minutes=6)
        page = await client.get("/newsroom/articles")
        assert page.status_code == 303


async def test_unknown_pages_and_bad_addresses_are_pages_not_traces(newsroom: Newsroom) -> None:
    async with signed_in(newsroom) as client:
        missing = await client.get("/newsroom/nowhere")
        assert missing.status_code == 404
        assert "There is no such page." in missing.text
        bad = await client.get("/newsroom/articles/not-a-uuid")
        assert bad.status_code in (400, 404)
        assert "<h1>" in bad.text
        paged = await client.get("/newsroom/articles?page=0")
        assert paged.status_code == 400
        assert "text/html" in paged.headers["content-type"]


async def test_a_same_site_form_passes_with_its_origin_and_a_null_origin_does_not(
    newsroom: Newsroom,
) -> None:
    async with signed_in(newsroom) as client:
        page = await client.get("/newsroom/articles/new")
        form = {"title": "T", "section": "Sport", "body": "B", "csrf_token": csrf_of(page.text)}
        for origin, status in (("null", 403), ("http://testserver", 303)):
            answer = await client.post(
                "/newsroom/articles",
                data=form,
                headers={"Origin": origin, "Sec-Fetch-Site": "none"},
            )
            assert answer.status_code == status, origin


async def test_sign_in_tells_the_articles_service_the_clients_address(
    newsroom: Newsroom,
) -> None:
    for peer, expected in (("10.1.2.3", "198.51.100.7"), ("203.0.113.9", "203.0.113.9")):
        async with newsroom.client(peer) as client:
            client.headers["X-Forwarded-For"] = "198.51.100.7"
            await newsroom.sign_in(client)
        (token_request, *_) = [
            r for r in reversed(newsroom.services.requests) if r.url.path == "/api/auth/token"
        ]
        assert token_request.headers["x-forwarded-for"] == expected, peer
