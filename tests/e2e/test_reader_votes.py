"""Votes and the Best order as readers use them, in Debian's Chromium, with and without
JavaScript: vote and see the count, a second vote from the same reader ignored, Best puts the
voted comments first (ties in posting order, replies under their parents); the page in the Best
order passes the Nu HTML Checker and axe.

Lean by design: the session's platform (no gateway of its own), one fresh article, one browser
session per mode. Every request comes from 127.0.0.1, one client: one vote per comment from this
machine, which is what the second reader (a browser with JavaScript, a cookie of its own) meets.
The limits per client /64, cookie and mailbox, ranking over many ties and the Best cursor are
unit tests on fakes (services/comments/tests)."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Platform
from .test_browser import browser
from .test_reader_threads import _axe_violations
from .validators import assert_valid_html

pytestmark = pytest.mark.browser

__all__ = ["browser"]  # the module's Chromium, shared with test_browser.py's fixture


def _article(platform: Platform) -> str:
    """A fresh published article with three top-level comments, a reply under the first."""
    auth = {"Authorization": f"Bearer {platform.token}"}
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        created = client.post(
            "/api/editor/articles",
            json={
                "title": f"Votes {secrets.token_hex(3)}",
                "body": "Which comment is best?",
                "section": "Foreign Affairs",
                "summary": "Votes.",
                "authors": ["Ada Reporter"],
            },
            headers=auth,
        )
        assert created.status_code == 201, created.text
        published = client.post(
            f"/api/editor/articles/{created.json()['id']}/publish", headers=auth
        )
        assert published.status_code == 200, published.text
        slug: str = published.json()["slug"]
        deadline = time.monotonic() + 60
        while client.get(f"/api/articles/{slug}/comments").status_code != 200:
            assert time.monotonic() < deadline, "the comments service never heard of it"
            time.sleep(0.1)
        ids: dict[str, str] = {}
        threads = (("First", None), ("Second", None), ("Third", None), ("Reply", "First"))
        for name, parent in threads:
            answer = client.post(
                f"/api/articles/{slug}/comments",
                json={
                    "author_name": name,
                    "author_email": f"{name.lower()}@example.com",
                    "body": f"{name} comment.",
                    **({"parent_id": ids[parent]} if parent else {}),
                },
            )
            assert answer.status_code == 201, answer.text
            ids[name] = answer.json()["id"]
    return slug


def _top_level(page: Page) -> list[str]:
    return page.locator("#comment-list > li.comment > article .author").all_inner_texts()


def test_vote_and_sort_by_best_with_and_without_javascript(
    platform: Platform, browser: Browser
) -> None:
    slug = _article(platform)
    article = f"{platform.gateway_url}/articles/{slug}"

    # Without JavaScript: the vote form posts, the page comes back at the comment, counted.
    plain = browser.new_context(java_script_enabled=False)
    page = plain.new_page()
    page.goto(article)
    third = page.locator("li.comment", has_text="Third comment.")
    expect(third.locator(".vote-count")).to_have_text("0 votes")
    third.locator("form.vote button").click()
    page.wait_for_load_state()
    expect(page.locator(".notice")).to_have_text("Thank you, your vote has been counted.")
    expect(page.locator(":target .vote-count")).to_have_text("1 vote")
    # Again from the same reader: ignored, and said so.
    page.locator(":target form.vote button").click()
    page.wait_for_load_state()
    expect(page.locator(".notice")).to_have_text("You have already voted for this comment.")
    expect(page.locator(":target .vote-count")).to_have_text("1 vote")
    # The switch: Best puts the voted comment first, and stays in the URL.
    page.get_by_role("link", name="Best", exact=True).click()
    page.wait_for_load_state()
    assert "sort=best" in page.url
    expect(page.locator(".comment-sort [aria-current=page]")).to_have_text("Best")
    assert _top_level(page) == ["Third", "First", "Second"]
    best_html = page.content()
    plain.close()

    # With JavaScript (a browser of its own, so a cookie of its own; the same client): the
    # count changes in place, without a reload.
    scripted = browser.new_context()
    page = scripted.new_page()
    page.goto(f"{article}?sort=best")
    url = page.url
    second = page.locator("li.comment", has_text="Second comment.")
    second.locator("form.vote button").click()
    expect(second.locator(".vote-count")).to_have_text("1 vote")
    third = page.locator("li.comment", has_text="Third comment.")
    third.locator("form.vote button").click()
    expect(third.locator(".vote-count")).to_have_text("1 vote (you have already voted)")
    assert page.url == url
    # Best again: ties keep posting order; the reply stays under its parent.
    page.reload()
    assert _top_level(page) == ["Second", "Third", "First"]
    expect(
        page.locator("li.comment", has_text="First comment.").locator(
            "ol.children li.comment", has_text="Reply comment."
        )
    ).to_have_count(1)
    violations = _axe_violations(page, "#comments")
    scripted.close()

    assert violations == []
    assert_valid_html({"thread in the Best order": best_html})
