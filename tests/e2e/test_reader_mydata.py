"""Issue 13, readers download and erase their data: through the reader site of the running
platform, with the real SMTP capture and Kafka, in Debian's Chromium without JavaScript (axe-core
with it); the pages pass the Nu HTML Checker and axe-core."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from broadsheet_devstack.pytest_plugin import Infra, StoredMessage

from .conftest import Platform
from .test_reader_data import _axe_violations, browser
from .validators import assert_valid_html

pytestmark = pytest.mark.browser

__all__ = ["browser"]  # the module's Chromium, shared with test_reader_data.py's fixture


def _data_link(message: StoredMessage) -> str:
    found = re.search(r"https?://\S+(/my-data/[A-Za-z0-9_.-]+)", message.text or "")
    assert found, message.text
    return found.group(1)


def _until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


def test_a_reader_downloads_then_erases_their_data_by_a_mailed_link(
    platform: Platform, infra: Infra, browser: Browser, tmp_path: Path
) -> None:
    reader = f"mydata-{secrets.token_hex(3)}@example.com"
    other = f"other-{secrets.token_hex(3)}@example.com"
    slug = platform.article_slug

    def to(address: str, subject: str) -> Callable[[StoredMessage], bool]:
        return lambda m: address in m.envelope_to and subject in m.subject

    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        # The reader's comment (with "notify me of replies": a pending subscription and a
        # confirmation mail), and another reader's reply to it, with their own address.
        def post(name: str, email: str, body: str, parent: str | None = None) -> str:
            answer = client.post(
                f"/api/articles/{slug}/comments",
                json={
                    "author_name": name,
                    "author_email": email,
                    "body": body,
                    "parent_id": parent,
                    "notify_replies": True,
                },
            )
            assert answer.status_code == 201, answer.text
            assert answer.json()["status"] == "approved"
            return str(answer.json()["id"])

        mine = post("Mydata Reader", reader, "My words, mine to take back.")
        infra.wait_for_mail(to(reader, "Confirm: replies"), timeout=30)
        reply = post("Other Reader", other, "A reply that stays.", parent=mine)

        # Without JavaScript: ask for the link; the answer is the one for every address.
        plain = browser.new_context(java_script_enabled=False, accept_downloads=True)
        page = plain.new_page()
        page.goto(f"{platform.gateway_url}/my-data")
        page.fill("#email", reader)
        page.click("button[type=submit]")
        expect(page.locator("p.notice")).to_contain_text("Check your inbox")
        unknown = client.post("/my-data", data={"email": "nobody@example.com"})
        assert unknown.headers["location"] == "/my-data?notice=data_link_sent"
        link = _data_link(infra.wait_for_mail(to(reader, "Your data at Broadsheet"), timeout=30))

        # Download: one JSON file with that address's comments, subscriptions and mails, and
        # nothing of the other reader's.
        page.goto(f"{platform.gateway_url}{link}")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download my data").click()
        saved = tmp_path / "data.json"
        download.value.save_as(saved)
        data = json.loads(saved.read_text())
        assert [c["id"] for c in data["comments"]] == [mine]
        assert data["comments"][0]["body"] == "My words, mine to take back."
        assert (data["address"]["email"], data["address"]["state"]) == (reader, "pending")
        assert [s["kind"] for s in data["subscriptions"]] == ["reply"]
        assert {d["kind"] for d in data["deliveries"]} == {"confirmation", "data"}
        assert other not in saved.read_text()
        pages = {
            "my-data request page": client.get("/my-data").text,
            "my-data page": client.get(link).text,
            "my-data erase page": client.get(f"{link}/erase").text,
        }

        # Erase, with its confirmation step.
        page.get_by_role("link", name="Erase my data…").click()
        page.get_by_role("button", name="Yes, erase my data").click()
        expect(page.locator("p.notice")).to_contain_text("Done: everything we held")
        plain.close()

        # The article shows "[deleted]" in place, the reply still under it.
        def erased_in_place() -> bool:
            html = client.get(f"/articles/{slug}").text
            return f'id="comment-{mine}-author">[deleted]<' in html

        assert _until(erased_in_place), "the comment was not erased on the article page"
        scripted = browser.new_context(bypass_csp=True)
        page = scripted.new_page()
        page.goto(f"{platform.gateway_url}/articles/{slug}")
        erased = page.locator(f"#comment-{mine}")
        expect(erased.locator(".comment-body").first).to_have_text("[deleted]")
        expect(erased.locator(f"#comment-{reply} .comment-body")).to_contain_text(
            "A reply that stays."
        )
        expect(page.locator("#comments")).not_to_contain_text("Mydata Reader")
        for name in ("/my-data", link, f"{link}/erase"):
            page.goto(f"{platform.gateway_url}{name}")
            assert _axe_violations(page) == [], name
        scripted.close()

        # The export is empty, and later events do not bring the address back: a stranger
        # follows the article with it and a late comment asks to notify it of replies.
        def export() -> dict[str, Any]:
            answer = client.get(f"{link}/download")
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        empty: dict[str, Any] = {
            "comments": [],
            "address": None,
            "subscriptions": [],
            "deliveries": [],
        }
        assert export() == empty
        followed = client.post(f"/api/articles/{slug}/followers", json={"email": reader})
        assert followed.status_code == 202
        late = post("Mydata Reader", reader, "Posted again, later.")
        assert _until(lambda: client.get(f"/api/articles/{slug}/comments/{late}").is_success)
        time.sleep(2)  # the late comment.posted reaches notifications
        after = export()
        assert (after["subscriptions"], after["deliveries"], after["address"]) == ([], [], None)
        assert [c["id"] for c in after["comments"]] == [late]
    assert_valid_html(pages)
