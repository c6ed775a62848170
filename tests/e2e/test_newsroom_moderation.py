"""The Newsroom's moderation pages in Debian's Chromium, on the whole platform: a moderator
approves a held reply (it appears on the article page at its anchor and the parent's author is
mailed, through the real SMTP capture), rejects several at once, bans an email from a comment
and lifts the ban. axe-core checks every moderation page; the screenshots are docs/newsroom.md's."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from playwright.sync_api import Browser, expect

from broadsheet_devstack.pytest_plugin import Infra

from .conftest import Platform
from .newsroom import browser, check_page, new_account, new_context, newsroom_url, sign_in

__all__ = ["browser"]

pytestmark = pytest.mark.browser

# Three links are more than the default policy lets through: a comment with them is held.
LINKS = "See https://a.example, https://b.example and https://c.example"


def _comment(client: httpx.Client, slug: str, **fields: object) -> dict[str, object]:
    answer = client.post(f"/api/articles/{slug}/comments", json=fields)
    assert answer.status_code == 201, answer.text
    posted: dict[str, object] = answer.json()
    return posted


def test_a_moderators_queue_in_the_newsroom(
    platform: Platform, infra: Infra, browser: Browser
) -> None:
    base, slug = platform.gateway_url, platform.article_slug
    alice = f"alice-{secrets.token_hex(3)}@example.com"
    spammer = f"spam-{secrets.token_hex(3)}@example.com"
    with httpx.Client(base_url=base, timeout=30) as client:
        parent = _comment(
            client,
            slug,
            author_name="Alice",
            author_email=alice,
            # Unique: the same text on the same article again would be held as a duplicate
            # (test_reply_story.py posts this question too).
            body=f"Will the talks hold? ({secrets.token_hex(3)})",
            notify_replies=True,
        )
        confirmation = infra.wait_for_mail(lambda m: alice in m.envelope_to, timeout=30)
        link = re.search(
            r"https?://[^\s\"'<>]*/subscriptions/confirm/[^\s\"'<>]+", confirmation.text or ""
        )
        assert link, confirmation.text
        confirm_path = "/" + link.group(0).split("/", 3)[3]
        assert client.post(confirm_path).status_code in (200, 303)
        reply = _comment(
            client,
            slug,
            author_name="Bob",
            author_email="bob@example.com",
            body=f"They will. {LINKS}",
            parent_id=parent["id"],
        )
        junk = [
            _comment(
                client, slug, author_name=f"Junk {n}", author_email=spammer, body=f"{n} {LINKS}"
            )
            for n in range(2)
        ]
    assert reply["status"] == "pending"

    context = new_context(browser)
    page = context.new_page()
    sign_in(page, base, new_account(platform, "moderator"))
    # A moderator's Newsroom starts at the queue.
    expect(page).to_have_url(re.compile(r"/newsroom/moderation$"))
    held = page.locator(f"#held-{reply['id']}")
    expect(held.get_by_role("link", name="Talks resume in Geneva")).to_have_attribute(
        "href", re.compile(rf"/articles/{slug}#comment-{reply['id']}$")
    )
    expect(held).to_contain_text("In reply to Alice: “Will the talks hold? (")
    expect(held).to_contain_text("bob@example.com")
    expect(held).to_contain_text("127.0.0.1")
    check_page(page, "moderation-queue")

    held.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("1 comment approved.")
    expect(page.locator(f"#held-{reply['id']}")).to_have_count(0)
    mail = infra.wait_for_mail(
        lambda m: alice in m.envelope_to and "Bob" in (m.text or ""), timeout=30
    )
    assert f"#comment-{reply['id']}" in (mail.text or "")
    article = context.new_page()
    article.goto(f"{base}/articles/{slug}")
    expect(article.locator(f"#comment-{reply['id']}")).to_contain_text("They will.")
    article.close()

    # Ban the junk's email from one of its comments, then lift it again.
    page.locator(f"#held-{junk[0]['id']}").get_by_role("link", name="Ban email").click()
    expect(page.get_by_label("Email or address")).to_have_value(spammer)
    check_page(page, "moderation-ban")
    page.get_by_label("Duration").select_option(label="7 days")
    reason = f"link spam {secrets.token_hex(3)}"
    page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Ban", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Banned {spammer} for 7 days.")
    # An email ban is kept (and listed) as the address's digest, never the address itself.
    row = page.get_by_role("row").filter(has_text=reason)
    expect(row).to_contain_text("Email")
    expect(row).not_to_contain_text(spammer)
    check_page(page, "moderation-bans")
    row.get_by_role("button", name=re.compile("^Lift the ban on ")).click()
    expect(page.get_by_role("status")).to_contain_text("Ban lifted.")
    expect(page.get_by_role("row").filter(has_text=reason)).to_have_count(0)

    # Several at once: select both junk comments, reject them together.
    page.goto(newsroom_url(base, "/moderation"))
    for comment in junk:
        page.locator(f"#select-{comment['id']}").check()
    page.get_by_role("button", name="Reject selected").click()
    expect(page.get_by_role("status")).to_contain_text("2 comments rejected.")
    for comment in junk:
        expect(page.locator(f"#held-{comment['id']}")).to_have_count(0)
    context.close()
