"""Comment threads as readers use them, in Debian's Chromium: replying to a comment on a later
page, landing on one's own comment, editing and deleting it (and not someone else's), without
JavaScript; and a live page that reconnects and sees what it missed, edits and deletions too.

A gateway of its own shows three comments a page (GATEWAY_COMMENTS_PAGE_SIZE) and closes an idle
live stream after two seconds (so the page's EventSource reconnects with Last-Event-ID during the
test); one fresh article keeps the pages predictable."""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Platform, _wait_for
from .test_browser import browser
from .validators import assert_valid_html

pytestmark = pytest.mark.browser

__all__ = ["browser"]  # the module's Chromium, shared with test_browser.py's fixture


AXE = Path(__file__).parents[2] / "tools/browser/node_modules/axe-core/axe.min.js"


def _axe_violations(page: Page, selector: str) -> list[str]:
    """axe-core's violations within ``selector`` (installed by ``make browser-tools``)."""
    if not AXE.exists():
        message = f"{AXE} is missing: run make browser-tools"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[str] = page.evaluate(
        """selector => axe.run(selector).then(result => result.violations.map(
            v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", ")))""",
        selector,
    )
    return found


@dataclass(frozen=True)
class Site:
    url: str
    slug: str


@pytest.fixture(scope="module")
def site(platform: Platform) -> Site:
    gateway = platform.factory(
        "gateway",
        env={
            "GATEWAY_WRITE_RATE_LIMIT": "100000",
            "GATEWAY_COMMENTS_PAGE_SIZE": "3",
            "GATEWAY_LIVE_IDLE_SECONDS": "2",
        },
    )
    auth = {"Authorization": f"Bearer {platform.token}"}
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        created = client.post(
            "/api/editor/articles",
            json={
                "title": f"Threads {secrets.token_hex(3)}",
                "body": "A thread over several pages.",
                "section": "Foreign Affairs",
                "summary": "Comment pages.",
                "authors": ["Ada Reporter"],
            },
            headers=auth,
        )
        assert created.status_code == 201, created.text
        published = client.post(
            f"/api/editor/articles/{created.json()['id']}/publish", headers=auth
        )
        assert published.status_code == 200, published.text
        slug = published.json()["slug"]
        _wait_for(lambda: client.get(f"/api/articles/{slug}/comments").status_code == 200, 60)
    return Site(gateway.url, slug)


def _post(client: httpx.Client, slug: str, name: str, body: str) -> dict[str, str]:
    answer = client.post(
        f"/api/articles/{slug}/comments",
        json={"author_name": name, "author_email": f"{name.lower()}@example.com", "body": body},
        headers={"Idempotency-Key": secrets.token_hex(8)},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "approved"
    posted: dict[str, str] = answer.json()
    return posted


def test_without_javascript_reply_on_page_two_land_on_it_edit_and_delete_only_my_own(
    site: Site, browser: Browser
) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as client:
        for n in range(1, 5):
            _post(client, site.slug, f"Reader{n}", f"Top comment {n}.")
    article = f"{site.url}/articles/{site.slug}"
    mine = browser.new_context(java_script_enabled=False)
    page = mine.new_page()
    page.goto(article)
    expect(page.locator("li.comment")).to_have_count(3)
    page.click("a[rel=next]")
    fourth = page.locator("li.comment", has_text="Top comment 4.")
    expect(fourth).to_have_count(1)
    fourth.locator("a.reply-link").click()
    expect(page.locator("#reply-title")).to_contain_text("Reply to Reader4")
    page.fill("#comment", "My reply on page two.")
    page.fill("#author", "Me")
    page.fill("#email", "me@example.com")
    page.click("button[type=submit]")
    page.wait_for_load_state()

    # Landed on the page that holds the reply, at its anchor, under its parent.
    assert re.search(r"\?cpage=[^#]+&notice=approved#comment-[0-9a-f]{24}$", page.url), page.url
    reply = page.locator(":target")
    expect(reply).to_contain_text("My reply on page two.")
    expect(
        page.locator("li.comment", has_text="Top comment 4.").locator("ol.children li:target")
    ).to_have_count(1)
    reply_id = (reply.get_attribute("id") or "").removeprefix("comment-")
    own_url = page.url.split("#")[0]
    # Edit and Delete on my comment only.
    expect(page.locator("a.edit-link")).to_have_count(1)
    expect(reply.locator("a.edit-link")).to_have_count(1)

    # Another reader: no links, and a forged post (with or without a made-up token) refused.
    theirs = browser.new_context(java_script_enabled=False)
    other = theirs.new_page()
    other.goto(own_url)
    expect(other.locator(f"#comment-{reply_id}")).to_contain_text("My reply on page two.")
    expect(other.locator("a.edit-link, a.delete-link")).to_have_count(0)
    edit_url = f"{article}/comments/{reply_id}/edit"
    delete_url = f"{article}/comments/{reply_id}/delete"
    for attempt in range(2):
        forged = theirs.request.post(edit_url, form={"body": "Hijacked."}, max_redirects=0)
        assert forged.status == 403, forged.text()
        assert theirs.request.post(delete_url, max_redirects=0).status == 403
        if attempt == 0:
            theirs.add_cookies([{"name": f"edit-{reply_id}", "value": "forged", "url": article}])
    theirs.close()

    # Edit my comment, then delete it, confirming.
    reply.locator("a.edit-link").click()
    expect(page.locator("textarea#comment")).to_have_value("My reply on page two.")
    edit_form = page.content()
    page.fill("#comment", "My *edited* reply.")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    edited = page.locator(":target")
    expect(edited).to_contain_text("My edited reply.")
    expect(edited.locator(".edited")).to_have_count(1)
    edited.locator("a.delete-link").click()
    expect(page.locator("h1")).to_have_text("Delete your comment?")
    delete_form = page.content()
    page.click("button[type=submit]")
    page.wait_for_load_state()
    expect(page.locator(".notice")).to_have_text("Your comment has been deleted.")
    page.goto(own_url)
    expect(page.locator(f"#comment-{reply_id}")).to_have_count(0)
    mine.close()

    assert_valid_html({"edit form": edit_form, "delete confirmation": delete_form})


def _events(
    client: httpx.Client, path: str, last_event_id: str | None, until: str
) -> list[dict[str, str]]:
    """The live stream's events up to the first ``until`` event."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    found: list[dict[str, str]] = []
    event: dict[str, str] = {}
    with client.stream("GET", path, headers=headers) as stream:
        for line in stream.iter_lines():
            if not line:
                if event:
                    found.append(event)
                    if event.get("event") == until:
                        return found
                event = {}
                continue
            name, _, value = line.partition(":")
            event[name] = value.strip()
    return found


def test_a_live_page_that_reconnects_gets_what_it_missed_and_sees_edits_and_deletions(
    site: Site, browser: Browser
) -> None:
    live = f"/articles/{site.slug}/live"
    with httpx.Client(base_url=site.url, timeout=30) as client:
        # Away from the page: the last thing seen was `ready`; two comments come meanwhile.
        [ready] = _events(client, live, None, until="ready")
        missed = [_post(client, site.slug, "Absent", f"Missed {n}.") for n in (1, 2)]
        time.sleep(1)  # the live feed reads them from Kafka
        back = _events(client, live, ready["id"], until="ready")
        assert [(e["event"], missed[n]["id"] in e["data"]) for n, e in enumerate(back[:2])] == [
            ("comment", True),
            ("comment", True),
        ]
        assert back[2]["event"] == "ready"
        # An id the gateway does not keep (another process's, or too old): reload.
        [reload] = _events(client, live, "0000.1", until="reload")
        assert reload["event"] == "reload"

        page = browser.new_page()
        page.goto(f"{site.url}/articles/{site.slug}")
        expect(page.locator("[data-live=on]")).to_have_count(1, timeout=15_000)
        # Idle streams close after two seconds here: the page reconnects with Last-Event-ID
        # meanwhile, and still sees every change.
        time.sleep(3)
        posted = _post(client, site.slug, "Lively", "Pushed live.")
        pushed = page.locator(f"#comment-{posted['id']}")
        expect(pushed).to_contain_text("Pushed live.", timeout=20_000)
        # The thread with its avatars (on the page and pushed live) passes axe.
        expect(page.locator("#comments svg.avatar").first).to_be_visible()
        assert _axe_violations(page, "#comments") == []
        token = {"X-Edit-Token": posted["edit_token"]}
        path = f"/api/articles/{site.slug}/comments/{posted['id']}"
        assert client.patch(path, json={"body": "Changed live."}, headers=token).status_code == 200
        expect(pushed.locator(".comment-body")).to_have_text("Changed live.", timeout=20_000)
        expect(pushed.locator(".edited")).to_have_count(1)
        time.sleep(3)
        assert client.delete(path, headers=token).status_code == 204
        expect(pushed).to_have_count(0, timeout=20_000)
        page.close()
