"""What admins do in the Newsroom, and the public set-password page, over fake services."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from .conftest import Newsroom, csrf_of, signed_in

pytestmark = pytest.mark.unit

ADMIN = "ad@example.com"


def sent(newsroom: Newsroom, method: str, path: str) -> list[Any]:
    return [
        json.loads(r.content) if r.content else dict(r.url.params)
        for r in newsroom.services.requests
        if r.method == method and r.url.path == path
    ]


async def post(client: httpx.AsyncClient, page: str, path: str, **fields: str) -> httpx.Response:
    shown = await client.get(page)
    return await client.post(path, data={**fields, "csrf_token": csrf_of(shown.text)})


async def test_only_admins_see_the_admin_pages(newsroom: Newsroom) -> None:
    for email in ("ed@example.com", "mo@example.com"):
        async with signed_in(newsroom, email) as client:
            for page in ("/newsroom/staff", "/newsroom/sections", "/newsroom/audit"):
                refused = await client.get(page)
                assert refused.status_code == 403, (email, page)
                assert "Your role may not see this page." in refused.text
    async with signed_in(newsroom, ADMIN) as client:
        home = await client.get("/newsroom/")
        for label in ("Staff", "Sections", "Audit log"):
            assert f">{label}</a>" in home.text


async def test_an_admin_adds_an_account_without_typing_a_password(newsroom: Newsroom) -> None:
    async with signed_in(newsroom, ADMIN) as client:
        page = await client.get("/newsroom/staff")
        assert 'type="password"' not in page.text
        added = await post(
            client,
            "/newsroom/staff",
            "/newsroom/staff",
            email="nell@example.org",
            name="Nell",
            role="moderator",
        )
        assert added.status_code == 303
        assert sent(newsroom, "POST", "/api/editor/users") == [
            {"email": "nell@example.org", "name": "Nell", "role": "moderator"}
        ]
        listed = await client.get("/newsroom/staff")
        assert "A link to set their password was mailed to nell@example.org." in listed.text
        assert "<td>Nell</td>" in listed.text
        # The same email again: the service's refusal stands next to the field, typed kept.
        again = await post(
            client,
            "/newsroom/staff",
            "/newsroom/staff",
            email="nell@example.org",
            name="N2",
            role="editor",
        )
        assert again.status_code == 422
        assert 'id="email-error">An editor with this email exists.</span>' in again.text
        assert 'value="N2"' in again.text


async def test_an_admin_changes_a_role_and_disables_and_enables(newsroom: Newsroom) -> None:
    editor = next(a for a in newsroom.services.accounts if a["role"] == "editor")
    path = f"/newsroom/staff/{editor['id']}"
    async with signed_in(newsroom, ADMIN) as client:
        await post(client, "/newsroom/staff", path, act="role", role="moderator")
        await post(client, "/newsroom/staff", path, act="disable")
        page = await client.get("/newsroom/staff")
        assert "Ed Itor is disabled." in page.text
        assert f'aria-label="Enable {editor["name"]}"' in page.text
        await post(client, "/newsroom/staff", path, act="enable")
        await post(client, "/newsroom/staff", path, act="role", role="owner")  # not a role
        me = next(a for a in newsroom.services.accounts if a["email"] == ADMIN)
        await post(client, "/newsroom/staff", f"/newsroom/staff/{me['id']}", act="disable")
        page = await client.get("/newsroom/staff")
        assert "Not changed: Admins cannot disable or demote themselves." in page.text
    assert sent(newsroom, "PATCH", f"/api/editor/users/{editor['id']}") == [
        {"role": "moderator"},
        {"disabled": True},
        {"disabled": False},
    ]


async def test_an_admin_mails_a_new_set_password_link(newsroom: Newsroom) -> None:
    editor = next(a for a in newsroom.services.accounts if a["role"] == "editor")
    path = f"/newsroom/staff/{editor['id']}"
    async with signed_in(newsroom, ADMIN) as client:
        page = await client.get("/newsroom/staff")
        assert f'aria-label="Mail {editor["name"]} a new link to set a password"' in page.text
        await post(client, "/newsroom/staff", path, act="link")
        page = await client.get("/newsroom/staff")
        assert "A new link to set a password was mailed." in page.text
        # A disabled account gets none: the service's refusal is the page's notice.
        await post(client, "/newsroom/staff", path, act="disable")
        await post(client, "/newsroom/staff", path, act="link")
        page = await client.get("/newsroom/staff")
        assert "Not changed: A disabled account gets no link: enable it first." in page.text
    link_path = f"/api/editor/users/{editor['id']}/password-link"
    assert len(sent(newsroom, "POST", link_path)) == 2
    assert list(newsroom.services.links.values()) == [editor["email"]]


async def test_sections_are_added_renamed_and_moved(newsroom: Newsroom) -> None:
    async with signed_in(newsroom, ADMIN) as client:
        await post(client, "/newsroom/sections", "/newsroom/sections", name="Arts")
        taken = await post(client, "/newsroom/sections", "/newsroom/sections", name="Arts")
        assert taken.status_code == 422
        assert 'id="name-error">A section with this name exists.</span>' in taken.text
        await post(client, "/newsroom/sections", "/newsroom/sections/sport/rename", name="Sports")
        await post(client, "/newsroom/sections", "/newsroom/sections/arts/move", direction="up")
        page = await client.get("/newsroom/sections")
        assert "Order saved: the reader site&#39;s navigation follows it." in page.text
        # The first section has no Up button, the last no Down.
        assert 'aria-label="Move Foreign Affairs up"' not in page.text
        assert 'aria-label="Move Sports down"' not in page.text
        # Moving the first one up changes nothing and sends nothing.
        await post(
            client, "/newsroom/sections", "/newsroom/sections/foreign-affairs/move", direction="up"
        )
    assert [s["name"] for s in newsroom.services.sections] == ["Foreign Affairs", "Arts", "Sports"]
    assert sent(newsroom, "PUT", "/api/editor/sections") == [
        {"slugs": ["foreign-affairs", "arts", "sport"]}
    ]


async def test_the_audit_log_filters_by_person_action_and_time(newsroom: Newsroom) -> None:
    async with signed_in(newsroom, ADMIN) as client:
        page = await client.get(
            "/newsroom/audit",
            params={
                "actor": "ad-1",
                "action": "section.renamed",
                "since": "2026-07-01T10:00",  # London summer time: 09:00 UTC
                "until": "",
            },
        )
        assert page.status_code == 200
        assert "<td>section.renamed</td>" in page.text
        assert "name: Sports" in page.text
        [asked] = sent(newsroom, "GET", "/api/editor/audit")
        assert asked == {
            "actor": "ad-1",
            "action": "section.renamed",
            "since": "2026-07-01T09:00:00+00:00",
            "limit": "20",
        }
        # The next page keeps the filters.
        older = page.text.split('rel="next" href="/newsroom/audit?')[1].split('"')[0]
        assert parse_qs(older.replace("&amp;", "&"))["action"] == ["section.renamed"]
        assert parse_qs(older.replace("&amp;", "&"))["cursor"] == ["c2"]
        # A malformed time is a field error, not a call.
        bad = await client.get("/newsroom/audit", params={"since": "yesterday"})
        assert bad.status_code == 422
        assert 'id="since-error">Enter a date and time.</span>' in bad.text
        assert len(sent(newsroom, "GET", "/api/editor/audit")) == 1


async def test_a_set_password_link_works_once_without_a_session(newsroom: Newsroom) -> None:
    newsroom.services.links["t" * 43] = "nell@example.org"
    path = "/newsroom/set-password/" + "t" * 43
    async with newsroom.client() as client:
        form = await client.get(path)
        assert form.status_code == 200
        assert form.headers["referrer-policy"] == "same-origin"
        assert '<label for="password">New password</label>' in form.text
        csrf = csrf_of(form.text)
        fields = {"csrf_token": csrf, "password": "a long new password"}
        differ = await client.post(path, data={**fields, "password_again": "another one!!"})
        assert (differ.status_code, "The two passwords differ." in differ.text) == (422, True)
        done = await client.post(path, data={**fields, "password_again": fields["password"]})
        assert done.status_code == 200
        assert "Your password is set." in done.text
        again = await client.post(path, data={**fields, "password_again": fields["password"]})
        assert again.status_code == 400
        assert "This set-password link is not valid." in again.text
        # Without the form's own token (another site's post), nothing is sent.
        forged = await client.post(path, data={"password": "x" * 12, "password_again": "x" * 12})
        assert forged.status_code == 403
    assert newsroom.services.passwords == {"nell@example.org": "a long new password"}
    assert len(sent(newsroom, "POST", "/api/auth/password")) == 2


async def test_a_set_password_page_never_shows_the_password_back(newsroom: Newsroom) -> None:
    newsroom.services.down.add("articles")
    path = "/newsroom/set-password/" + "t" * 43
    async with newsroom.client() as client:
        form = await client.get(path)
        secret = "my secret new password"
        fields = {"csrf_token": csrf_of(form.text), "password": secret, "password_again": secret}
        down = await client.post(path, data=fields)
        assert down.status_code == 503
        assert "The articles service is unavailable" in down.text
        assert secret not in down.text
