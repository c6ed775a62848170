"""Playwright driving Debian's Chromium through the reader site (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .conftest import Platform

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
