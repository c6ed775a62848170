"""The Newsroom in Debian's Chromium, as editors use it: sign in by keyboard, write, preview,
schedule, publish, unpublish, meet a conflict, read the revisions, sign out. axe-core checks
every editor page; the main pages' screenshots are the ones docs/newsroom.md shows."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from pymongo import MongoClient

from .conftest import Platform
from .newsroom import (
    assert_accessible,
    browser,
    check_page,
    new_account,
    new_context,
    newsroom_url,
    screenshot,
    sign_in,
    tab_to,
)

__all__ = ["browser"]

pytestmark = pytest.mark.browser

ZONE = "Europe/Paris"  # the browser's: Publish at is entered and shown in it


def _refresh_tokens(platform: Platform, email: str) -> int:
    """The account's live refresh tokens, as the articles service stores them."""
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        users = client.get(
            "/api/editor/users", headers={"Authorization": f"Bearer {platform.token}"}
        ).json()["items"]
    editor_id = next(u["id"] for u in users if u["email"] == email)
    mongo: MongoClient[dict[str, object]] = MongoClient(platform.factory.infra.mongo_url)
    with mongo:
        tokens = mongo[f"{platform.factory.prefix}_broadsheet_articles"]["refresh_tokens"]
        return tokens.count_documents({"editor_id": editor_id})


def _front_page_has(page: Page, gateway_url: str, title: str, present: bool) -> None:
    for _ in range(30):
        page.goto(f"{gateway_url}/")
        if (page.get_by_role("link", name=title).count() > 0) is present:
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"{title!r} {'never appeared' if present else 'stayed'} on the front page")


def test_an_editors_day_in_the_newsroom(platform: Platform, browser: Browser) -> None:
    base = platform.gateway_url
    email = new_account(platform, "editor")
    context = new_context(browser, timezone_id=ZONE, viewport={"width": 1280, "height": 900})
    page = context.new_page()

    # Signed out: any page leads to sign-in, which comes back to it.
    page.goto(newsroom_url(base, "/articles"))
    expect(page).to_have_url(re.compile(r"/newsroom/sign-in\?next="))
    check_page(page, "sign-in")
    sign_in(page, base, email)
    check_page(page, "dashboard")

    # A draft written and saved by keyboard alone (Enter in Title submits with Save draft).
    title = f"Talks in Vienna {secrets.token_hex(3)}"
    page.goto(newsroom_url(base, "/articles/new"))
    tab_to(page, "#title")
    page.keyboard.type(title)
    page.keyboard.press("Tab")
    page.keyboard.type("Foreign")  # a select picks its option by typing
    tab_to(page, "#tags")
    page.keyboard.type("diplomacy, vienna")
    page.keyboard.press("Tab")
    page.keyboard.type("Both delegations arrived.")
    page.keyboard.press("Tab")
    page.keyboard.type("The talks *resumed* on Monday.")
    tab_to(page, "#title")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Draft saved.")
    expect(page.get_by_label("Section")).to_have_value("Foreign Affairs")
    check_page(page, "article-form")
    edit_url = page.url

    # Preview: the reader site's own page, in a new tab, nothing published.
    with context.expect_page() as opened:
        page.get_by_role("button", name="Preview").click()
    preview = opened.value
    preview.wait_for_load_state()
    expect(preview.locator("h1")).to_have_text(title)
    expect(preview.locator(".body em")).to_have_text("resumed")
    expect(preview.locator(".kicker")).to_have_text("Foreign Affairs")
    screenshot(preview, "preview", for_docs=True)
    preview.close()

    # Scheduled two minutes ahead in the browser's zone; stored in UTC.
    due = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    page.get_by_label("Publish at").fill(due.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_role("status")).to_have_text("Scheduled.")
    expect(page.locator(".meta")).to_contain_text(f"({ZONE})")
    article_id = page.url.rsplit("/", 1)[-1]
    with httpx.Client(base_url=base, timeout=30) as client:
        stored = client.get(
            f"/api/editor/articles/{article_id}",
            headers={"Authorization": f"Bearer {platform.token}"},
        ).json()
    assert datetime.fromisoformat(stored["scheduled_at"].replace("Z", "+00:00")) == due
    page.goto(newsroom_url(base, "/articles?status=scheduled"))
    row = page.get_by_role("row", name=re.compile(re.escape(title)))
    expect(row).to_contain_text("Scheduled for")
    check_page(page, "articles")

    # Published now instead: on the front page; unpublished: gone.
    page.goto(edit_url)
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Published.")
    reader = context.new_page()
    _front_page_has(reader, base, title, present=True)
    page.get_by_role("button", name="Unpublish").click()
    expect(page.get_by_role("status")).to_contain_text("Unpublished")
    _front_page_has(reader, base, title, present=False)
    reader.close()

    # Two tabs on one article: the second save of the stale revision is a conflict.
    other = context.new_page()
    other.goto(edit_url)
    page.goto(edit_url)
    page.get_by_label("Title").fill(f"{title} (theirs)")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status")).to_have_text("Draft saved.")
    other.get_by_label("Body (Markdown)").fill("My paragraph, typed in the other tab.")
    other.get_by_role("button", name="Save draft").click()
    expect(other.get_by_role("heading", level=1)).to_have_text("Someone else saved this article")
    expect(other.get_by_label("Body (Markdown)")).to_have_value(
        "My paragraph, typed in the other tab."
    )
    expect(other.locator(".theirs")).to_contain_text(f"{title} (theirs)")
    check_page(other, "conflict")
    other.close()

    # Revisions: the list, a diff, and Restore making a new revision.
    page.goto(f"{edit_url}/revisions")
    expect(page.get_by_role("table")).to_contain_text("created")
    check_page(page, "revisions")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("pre.diff")).to_contain_text("(theirs)")
    assert_accessible(page)
    page.goto(edit_url)
    page.get_by_label("Title").fill("")
    page.get_by_label("Title").evaluate("e => e.removeAttribute('required')")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#title-error")).to_be_visible()
    expect(page.get_by_label("Body (Markdown)")).to_have_value("The talks *resumed* on Monday.")
    assert_accessible(page)

    # Sign out: the old cookie names nothing any more, the refresh token is revoked.
    assert _refresh_tokens(platform, email) >= 1
    (old_cookie,) = [c for c in context.cookies() if c["name"] == "newsroom_session"]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert _refresh_tokens(platform, email) == 0
    context.add_cookies([old_cookie])
    page.goto(newsroom_url(base, "/articles"))
    expect(page).to_have_url(re.compile(r"/newsroom/sign-in"))
    context.close()


def test_a_moderator_is_refused_and_so_is_another_sites_form(
    platform: Platform, browser: Browser
) -> None:
    base = platform.gateway_url
    context = new_context(browser)
    page = context.new_page()
    sign_in(page, base, new_account(platform, "moderator"))
    answer = page.goto(newsroom_url(base, "/articles"))
    assert answer is not None
    assert answer.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.get_by_role("link", name="Articles")).to_have_count(0)
    assert_accessible(page)

    # A page of another origin posts a form to the Newsroom: refused with a 403 page.
    page.goto("about:blank")
    page.set_content(
        f'<form method="post" action="{newsroom_url(base, "/articles")}">'
        '<input name="title" value="forged"><button>Go</button></form>'
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.locator("main")).to_contain_text("did not come from this Newsroom page")
    context.close()
