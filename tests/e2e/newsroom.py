"""Helpers for the Newsroom's browser tests (editors here, moderators and admins beside them):
Debian's Chromium, staff accounts, signing in by keyboard, axe-core and screenshots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from .test_staff_security import PASSWORD, new_account

__all__ = ["PASSWORD", "new_account"]

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tools/browser/node_modules/axe-core/axe.min.js"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", ".data/test-artifacts")) / "newsroom"
# Copies of the main pages' screenshots, shown in docs/newsroom.md: rewritten when a run sets
# UPDATE_DOCS_SCREENSHOTS=1 (a normal run leaves the committed ones alone).
DOCS_SCREENSHOTS = ROOT / "docs/newsroom"
UPDATE_DOCS = os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is missing (make install)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


def new_context(browser: Browser, **options: Any) -> BrowserContext:
    """A browser context axe can be injected into (the CSP would refuse its script)."""
    return browser.new_context(bypass_csp=True, **options)


def newsroom_url(gateway_url: str, path: str = "/") -> str:
    return f"{gateway_url}/newsroom{path}"


def sign_in(page: Page, gateway_url: str, email: str, password: str = PASSWORD) -> None:
    """Sign in by keyboard alone: the Email field has the focus, Tab to Password, Enter."""
    page.goto(newsroom_url(gateway_url, "/sign-in"))
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def tab_to(page: Page, selector: str, most: int = 40) -> None:
    """Press Tab until ``selector`` has the focus, as a keyboard user would."""
    for _ in range(most):
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never took the focus by Tab")


def assert_accessible(page: Page) -> None:
    """axe-core (pinned in tools/browser) finds no violation on the page. The page's context
    must be opened with ``bypass_csp=True``: the strict CSP refuses injected script."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing: run make install ({AXE})")
    page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    violations = [
        f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']]})"
        for v in results["violations"]
    ]
    assert violations == [], f"{page.url}: {violations}"


# What a keyboard can act on; ``[tabindex]`` catches a widget made focusable by hand.
_INTERACTIVE = (
    "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), "
    "select:not([disabled]), textarea:not([disabled]), summary, [tabindex]"
)


def assert_keyboard_reachable(page: Page, most: int = 300) -> None:
    """Every visible control on the page takes the focus by Tab, in one pass from the top, and
    none is taken out of the order (``tabindex="-1"``) or pushed ahead of it (positive
    ``tabindex``): what a mouse can do, a keyboard can reach. A group of radio buttons is one
    stop, as in every browser: Tab enters it, the arrow keys choose within it."""
    count = page.evaluate(
        """(selector) => {
            const shown = [...document.querySelectorAll(selector)].filter((el) =>
                el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden");
            const stops = new Map();
            shown.forEach((el, n) => {
                const group = el.type === "radio" && el.name
                    ? `radio:${[...document.forms].indexOf(el.form)}:${el.name}` : `control:${n}`;
                if (!stops.has(group)) stops.set(group, String(stops.size));
                el.setAttribute("data-kb", stops.get(group));
            });
            document.activeElement?.blur();
            return stops.size;
        }""",
        _INTERACTIVE,
    )
    out_of_order = page.evaluate(
        """() => [...document.querySelectorAll("[data-kb]")]
            .filter((el) => el.tabIndex !== 0).map((el) => el.outerHTML.slice(0, 120))"""
    )
    assert out_of_order == [], f"{page.url}: out of the Tab order: {out_of_order}"
    reached: set[str] = set()
    # More presses than controls: a date-time field takes one per part (day, month, year, …).
    for _ in range(most):
        page.keyboard.press("Tab")
        mark = page.evaluate("() => document.activeElement?.getAttribute('data-kb')")
        if mark is not None:
            reached.add(mark)
        if len(reached) == count:
            return
    missed = page.evaluate(
        """(reached) => [...document.querySelectorAll("[data-kb]")]
            .filter((el) => !reached.includes(el.getAttribute("data-kb")))
            .map((el) => el.outerHTML.slice(0, 120))""",
        sorted(reached),
    )
    raise AssertionError(f"{page.url}: not reached by Tab: {missed}")


def screenshot(page: Page, name: str, *, for_docs: bool = False) -> Path:
    """Saved as a test artifact; ``for_docs``: also the copy docs/newsroom.md shows, when
    UPDATE_DOCS_SCREENSHOTS=1."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if for_docs and UPDATE_DOCS:
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / f"{name}.png")
    return path


def check_page(page: Page, name: str) -> None:
    """One main page: no axe violation, every control reached by Tab, and its screenshot
    (artifact and docs copy)."""
    assert_accessible(page)
    screenshot(page, name, for_docs=True)
    assert_keyboard_reachable(page)
