"""Issue 13, readers manage their subscriptions: through the reader site of the running platform,
with the real SMTP capture, in Debian's Chromium with and without JavaScript; the pages pass the
Nu HTML Checker and axe-core."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from broadsheet_devstack.pytest_plugin import Infra, StoredMessage

from .conftest import Platform
from .validators import assert_valid_html

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parents[2] / "tools" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
TITLE = "Talks resume in Geneva"


def _missing(why: str) -> None:
    # CI installs every checker (make install): there a missing one is a failure.
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        _missing("Debian's chromium is not installed (apt-get install chromium)")
    if not AXE.exists():
        _missing("axe-core is not installed (make browser-tools)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


def _axe_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document)).violations"
        ".map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target).join(' ')})`)"
    )
    return [str(v) for v in found]


def _link(message: StoredMessage, kind: str) -> str:
    found = re.search(rf"https?://\S+(/subscriptions/{kind}/[A-Za-z0-9_.-]+)", message.text or "")
    assert found, message.text
    return found.group(1)


def test_a_reader_manages_their_subscriptions_by_a_mailed_link(
    platform: Platform, infra: Infra, browser: Browser
) -> None:
    local = f"manager-{secrets.token_hex(3)}"
    reader = f"{local}@example.com"
    slug = platform.article_slug

    def to_reader(subject: str) -> Callable[[StoredMessage], bool]:
        return lambda m: reader in m.envelope_to and subject in m.subject

    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        # The reader asks for replies to their comment, then follows the article, and confirms
        # both with the second confirmation mail's link (it lists everything pending).
        posted = client.post(
            f"/api/articles/{slug}/comments",
            json={
                "author_name": "Mo",
                "author_email": reader,
                "body": "Notify me.",
                "notify_replies": True,
            },
        )
        assert posted.status_code == 201, posted.text
        infra.wait_for_mail(to_reader("Confirm: replies"), timeout=30)
        assert client.post(f"/api/articles/{slug}/followers", json={"email": reader}).is_success
        confirmation = infra.wait_for_mail(to_reader("follow “"), timeout=30)
        assert client.post(_link(confirmation, "confirm")).status_code == 200

        # Every notification mail links to the manage page (beside its unsubscribe links).
        other = client.post(
            f"/api/articles/{slug}/comments",
            json={"author_name": "Bo", "author_email": "bo@example.com", "body": "Hello."},
        )
        assert other.status_code == 201, other.text
        notified = infra.wait_for_mail(to_reader(f"New comment on “{TITLE}"), timeout=30)
        footer_link = _link(notified, "manage")
        assert "/subscriptions/unsubscribe/" in (notified.text or "")

        # Without JavaScript: ask for the link by the form; the answer names no address.
        plain = browser.new_context(java_script_enabled=False)
        page = plain.new_page()
        page.goto(f"{platform.gateway_url}/subscriptions/manage")
        page.fill("#email", reader)
        page.click("button[type=submit]")
        expect(page.locator("p.notice")).to_contain_text("Check your inbox")
        unknown = client.post("/subscriptions/manage", data={"email": "nobody@example.com"})
        assert unknown.headers["location"] == "/subscriptions/manage?notice=manage_link_sent"
        manage = _link(infra.wait_for_mail(to_reader("Manage your"), timeout=30), "manage")

        page.goto(f"{platform.gateway_url}{manage}")
        items = page.locator("ul.subscriptions > li")
        expect(items).to_have_count(2)
        expect(page.locator("ul.subscriptions")).to_contain_text(f"New comments on {TITLE}")
        expect(page.locator("ul.subscriptions")).to_contain_text(
            f"Replies to your comment on {TITLE}"
        )
        pages = {
            "manage request page": client.get("/subscriptions/manage").text,
            "manage page": client.get(manage).text,
        }
        items.filter(has_text="New comments on").get_by_role("button").click()
        expect(page.locator("p.notice")).to_contain_text("you will not get these emails")
        expect(items).to_have_count(1)
        expect(items).to_contain_text("Replies to your comment on")
        plain.close()

        # With JavaScript (and axe-core injected past the site's CSP): the mail footer's link
        # shows the same page; unsubscribe from everything.
        scripted = browser.new_context(bypass_csp=True)
        page = scripted.new_page()
        page.goto(f"{platform.gateway_url}/subscriptions/manage")
        assert _axe_violations(page) == []
        page.goto(f"{platform.gateway_url}{footer_link}")
        expect(page.locator("ul.subscriptions > li")).to_have_count(1)
        assert _axe_violations(page) == []
        page.get_by_role("button", name="Unsubscribe from everything").click()
        expect(page.locator("p.notice")).to_contain_text("we will not email this address")
        expect(page.locator("ul.subscriptions")).to_have_count(0)
        pages["manage page, nothing left"] = client.get(manage).text
        scripted.close()
    assert_valid_html(pages)
