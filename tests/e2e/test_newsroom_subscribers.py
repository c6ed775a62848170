"""Finding comments and looking after subscribers in the Newsroom, in Debian's Chromium, on the
whole platform: a moderator finds a comment by its author's email and by its client address,
suppresses an address, and retries a failed delivery — which the worker then sends again through
the real SMTP capture, once — while a second Retry of it (from a page opened before) is the
service's 409 shown as a message. axe-core checks each page; the screenshots are
docs/newsroom.md's.

The SMTP capture accepts every message (it has no setting to refuse one), and a delivery only
fails after a permanent SMTP refusal or a day of retries; so the test marks one delivery that went
out as failed in the notifications database, as the worker does when it gives up, and the rest
runs as in production. The worker's own failures are proven on fakes
(services/notifications/tests/test_delivery.py)."""

from __future__ import annotations

import re
import secrets
import time

import httpx
import pytest
from playwright.sync_api import Browser, expect
from pymongo import MongoClient

from broadsheet_devstack.pytest_plugin import Infra

from .conftest import Platform
from .newsroom import browser, check_page, new_account, new_context, newsroom_url, sign_in

__all__ = ["browser"]

pytestmark = pytest.mark.browser


def _mark_failed(platform: Platform, email: str) -> str:
    """The id of the (sent) delivery to ``email``, now failed as if the worker had given up.
    The mail can reach the capture a moment before the worker records it sent: wait for that."""
    mongo: MongoClient[dict[str, object]] = MongoClient(platform.factory.infra.mongo_url)
    deadline = time.monotonic() + 30
    with mongo:
        deliveries = mongo[f"{platform.factory.prefix}_broadsheet_notifications"]["deliveries"]
        while (
            found := deliveries.find_one_and_update(
                {"email": email, "state": "sent"},
                {"$set": {"state": "failed", "last_error": "550 mailbox unavailable"}},
            )
        ) is None:
            assert time.monotonic() < deadline, f"no sent delivery to {email}"
            time.sleep(0.2)
    return str(found["_id"])


def test_finding_comments_and_looking_after_subscribers(
    platform: Platform, infra: Infra, browser: Browser
) -> None:
    base, slug = platform.gateway_url, platform.article_slug
    author = f"finder-{secrets.token_hex(3)}@example.com"
    with httpx.Client(base_url=base, timeout=30) as client:
        answer = client.post(
            f"/api/articles/{slug}/comments",
            json={
                "author_name": "Fay",
                "author_email": author,
                "body": "Found me?",
                "notify_replies": True,
            },
        )
    assert answer.status_code == 201, answer.text
    comment_id = answer.json()["id"]
    infra.wait_for_mail(lambda m: author in m.envelope_to, timeout=30)  # the confirmation

    context = new_context(browser)
    page = context.new_page()
    sign_in(page, base, new_account(platform, "moderator"))

    # By email, typed in another case: the comment, linked to its place on the article page.
    page.get_by_role("link", name="Find comments").click()
    page.get_by_label("Email or address").fill(author.upper())
    page.get_by_role("button", name="Find").click()
    found = page.locator(f"#found-{comment_id}")
    expect(found.get_by_role("link", name="Talks resume in Geneva")).to_have_attribute(
        "href", re.compile(rf"/articles/{slug}#comment-{comment_id}$")
    )
    expect(found.get_by_role("link", name="Ban email")).to_have_attribute(
        "href", re.compile(r"kind=email&value=finder-")
    )
    check_page(page, "find-comments")
    # By client address (the test client's, through the gateway): newest first, so it leads.
    page.get_by_label("Client address").check()
    page.get_by_label("Email or address").fill("127.0.0.1")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("li.held-comment").first).to_have_id(f"found-{comment_id}")
    expect(
        page.locator(f"#found-{comment_id}").get_by_role("link", name="Ban address")
    ).to_be_visible()

    # Suppress an address.
    page.get_by_role("link", name="Subscribers").click()
    quiet = f"quiet-{secrets.token_hex(3)}@example.com"
    page.get_by_label("Email", exact=True).fill(quiet)
    page.get_by_role("button", name="Suppress").click()
    expect(page.get_by_role("status")).to_contain_text(f"{quiet} is suppressed")

    # Retry a failed delivery: sent again, once; a second Retry from an older page is refused.
    before = {m.key for m in infra.mail() if author in m.envelope_to}
    delivery_id = _mark_failed(platform, author)
    page.goto(newsroom_url(base, "/subscribers?state=failed"))
    row = page.locator(f"#delivery-{delivery_id}")
    expect(row).to_contain_text("550 mailbox unavailable")
    check_page(page, "subscribers")
    stale = context.new_page()
    stale.goto(newsroom_url(base, "/subscribers?state=failed"))
    row.get_by_role("button", name=re.compile("^Retry")).click()
    expect(page.get_by_role("status")).to_contain_text("Delivery queued again")
    expect(page.locator(f"#delivery-{delivery_id}")).to_have_count(0)
    stale.locator(f"#delivery-{delivery_id}").get_by_role(
        "button", name=re.compile("^Retry")
    ).click()
    expect(stale.get_by_role("status")).to_contain_text("Not retried: Only failed deliveries")
    stale.close()
    infra.wait_for_mail(lambda m: author in m.envelope_to and m.key not in before, timeout=30)
    time.sleep(2)  # time enough for a duplicate to arrive, were there one
    again = [m for m in infra.mail() if author in m.envelope_to and m.key not in before]
    assert len(again) == 1, [m.subject for m in again]
    context.close()
