"""Playwright driving Debian's Chromium through the reader site (never a downloaded browser)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .conftest import Platform
from .test_import import factory, run_import, unique_export

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", ".data/test-artifacts"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


def _fill_and_post(page: Page, name: str, email: str, text: str) -> None:
    page.fill("#comment", text)
    page.fill("#author", name)
    page.fill("#email", email)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_comment_reply_nesting_and_live_update(platform: Platform, browser: Browser) -> None:
    url = f"{platform.gateway_url}/articles/{platform.article_slug}"
    reader = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    reader.goto(url)
    expect(reader.locator("h1")).to_have_text("Talks resume in Geneva")

    _fill_and_post(reader, "Browser Beth", "beth@example.com", "Posted from a browser.")
    beth = reader.locator("li.comment", has_text="Posted from a browser.").first
    expect(beth).to_be_visible()
    beth.locator("a.reply-link").first.click()
    expect(reader.locator("#reply-title")).to_contain_text("Reply to Browser Beth")
    _fill_and_post(reader, "Browser Ben", "ben@example.com", "Replying in the browser.")

    parent = reader.locator("li.comment", has_text="Posted from a browser.").first
    nested = parent.locator("ol.children li.comment", has_text="Replying in the browser.")
    expect(nested).to_have_count(1)

    watcher = browser.new_page()
    watcher.goto(url)
    expect(watcher.locator("[data-live=on]")).to_have_count(1, timeout=15_000)
    _fill_and_post(reader, "Live Lena", "lena@example.com", "Pushed to the other page.")
    expect(watcher.locator("li.comment", has_text="Pushed to the other page.")).to_be_visible(
        timeout=20_000
    )

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    reader.screenshot(path=str(ARTIFACTS / "article-page-phone.png"), full_page=True)
    watcher.screenshot(path=str(ARTIFACTS / "article-page-live.png"), full_page=True)
    reader.close()
    watcher.close()


def test_an_old_comment_link_beyond_the_first_page_lands_on_the_comment(
    platform: Platform, browser: Browser, tmp_path: Path
) -> None:
    # 60 top-level comments: with the gateway's 50 a page, the 55th is on the second page.
    tag = f"anchors-{secrets.token_hex(3)}"
    name = f"long-thread-{secrets.token_hex(3)}"
    first = 800_000 + secrets.randbelow(100_000)
    post = factory.Item(
        id=first,
        name=name,
        date_gmt="2019-01-02 08:00:00",
        terms=[("category", "news", "News"), ("post_tag", tag, tag)],
        comments=[
            factory.Comment(
                id=first + n,
                content=f"Old comment {n}.",
                date_gmt=f"2019-01-03 1{n // 60}:{n % 60:02d}:00",
            )
            for n in range(1, 61)
        ],
    )
    path, _ = unique_export(tmp_path, [post], "long-thread.xml")
    done = run_import(platform, path)
    assert done.returncode == 0, done.stdout + done.stderr
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        slug = client.get("/api/articles", params={"tag": tag, "limit": 1}).json()["items"][0][
            "slug"
        ]
        wanted = client.get(f"/api/articles/{slug}/comments/wordpress/{first + 55}").json()
    assert wanted["cpage"] is not None

    reader = browser.new_page()
    # The old permalink answers 301 to the article; the browser keeps the fragment.
    reader.goto(f"{platform.gateway_url}/2019/01/02/{name}/#comment-{first + 55}")
    page_of_it = rf"/articles/{re.escape(slug)}\?cpage=[^#]+#comment-{wanted['id']}$"
    reader.wait_for_url(re.compile(page_of_it), timeout=15_000)
    target = reader.locator(":target")
    expect(target).to_have_attribute("id", f"comment-{wanted['id']}")
    expect(target).to_contain_text("Old comment 55.")
    # The page opened is a later one: the first comments are not on it.
    expect(reader.locator("li.comment", has_text="Old comment 1.")).to_have_count(0)
    reader.close()
