"""The Newsroom's admin pages in Debian's Chromium, on the whole platform: an admin adds a staff
account without typing a password, its owner's set-password link arrives through the real SMTP
capture, works once (a second use is refused) and the person signs in; a section moved up shows
so in the reader site's navigation; the audit log filters by person, action and time. axe-core
checks every page added; the screenshots are docs/newsroom.md's."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from playwright.sync_api import Browser, expect

from broadsheet_devstack.pytest_plugin import Infra

from .conftest import Platform
from .newsroom import browser, check_page, new_account, new_context, sign_in

__all__ = ["browser"]

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a password of my own"


def _sections(base: str, token: str) -> list[dict[str, str]]:
    with httpx.Client(base_url=base, timeout=30) as client:
        answer = client.get("/api/editor/sections", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, str]] = answer.json()["items"]
    return items


def _reorder(base: str, token: str, slugs: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        answer = client.put(
            "/api/editor/sections",
            json={"slugs": slugs},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200, answer.text


def test_an_admin_adds_staff_orders_sections_and_reads_the_audit_log(
    platform: Platform, infra: Infra, browser: Browser
) -> None:
    base = platform.gateway_url
    context = new_context(browser)
    page = context.new_page()
    sign_in(page, base, new_account(platform, "admin"))

    # Staff: added without a password; the link is mailed to the person.
    newcomer = f"newcomer-{secrets.token_hex(3)}@example.org"
    page.get_by_role("link", name="Staff", exact=True).click()
    page.get_by_label("Email").fill(newcomer)
    page.get_by_label("Name").fill("Nell Newcomer")
    page.get_by_label("Role", exact=True).select_option("moderator")
    page.get_by_role("button", name="Add and mail the link").click()
    expect(page.get_by_role("status")).to_contain_text(f"was mailed to {newcomer}")
    expect(page.get_by_role("row").filter(has_text=newcomer)).to_contain_text("Active")
    check_page(page, "admin-staff")
    mail = infra.wait_for_mail(lambda m: newcomer in m.envelope_to, timeout=30)
    link = re.search(r"https?://\S*/newsroom/set-password/[A-Za-z0-9_-]+", mail.text or "")
    assert link, mail.text
    set_password_path = "/" + link.group(0).split("/", 3)[3]

    # The link, in a browser of its own: sets the password once.
    own = new_context(browser)
    person = own.new_page()
    person.goto(base + set_password_path)
    check_page(person, "set-password")
    person.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    person.get_by_label("New password again").fill(NEW_PASSWORD)
    person.get_by_role("button", name="Set password").click()
    expect(person.get_by_role("status")).to_contain_text("Your password is set.")
    person.goto(base + set_password_path)
    person.get_by_label("New password", exact=True).fill("another password!")
    person.get_by_label("New password again").fill("another password!")
    person.get_by_role("button", name="Set password").click()
    expect(person.get_by_role("alert")).to_contain_text("used already or has expired")
    sign_in(person, base, newcomer, NEW_PASSWORD)
    expect(person).to_have_url(re.compile(r"/newsroom/moderation$"))  # a moderator's start
    own.close()

    # Sections: move the last one up; the reader site's navigation follows.
    before = _sections(base, platform.token)
    last, above = before[-1], before[-2]
    try:
        page.get_by_role("link", name="Sections", exact=True).click()
        # By its form, not its name: sections other tests of the session made (the API
        # contract's fuzzing among them) may bear any name.
        page.locator(f'form[action$="/sections/{last["slug"]}/move"] button[value="up"]').click()
        expect(page.get_by_role("status")).to_contain_text("Order saved")
        check_page(page, "admin-sections")
        reader = context.new_page()
        reader.goto(base + "/")
        nav = reader.get_by_role("navigation", name="Sections")
        links = [a.get_attribute("href") for a in nav.get_by_role("link").all()]
        assert links.index(f"/sections/{last['slug']}") == (
            links.index(f"/sections/{above['slug']}") - 1
        ), links
        reader.close()
    finally:
        # Other tests of the session read the sections: leave their order as it was.
        _reorder(base, platform.token, [s["slug"] for s in before])

    # The audit log: the newcomer's own entry, found by person, action and time.
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Person").select_option(label=f"Nell Newcomer ({newcomer})")
    page.get_by_label("Action").select_option("staff.password_link_used")
    page.get_by_label("From").fill("2020-01-01T00:00")
    rows = page.locator("table.audit tbody tr")
    # The log is kept from the services' events: the entry may take a moment to arrive.
    for _ in range(60):
        page.get_by_role("button", name="Filter").click()
        page.wait_for_load_state()
        if rows.count():
            break
        page.wait_for_timeout(500)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Nell Newcomer (moderator)")
    check_page(page, "admin-audit")
    page.get_by_label("From").fill("2999-01-01T00:00")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No entries match.")).to_be_visible()
    context.close()
