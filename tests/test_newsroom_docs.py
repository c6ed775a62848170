"""docs/newsroom.md shows a screenshot of each main Newsroom page, taken by the browser test
(tests/e2e/test_newsroom_editor.py, with UPDATE_DOCS_SCREENSHOTS=1)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
MAIN_PAGES = (
    "sign-in",
    "dashboard",
    "articles",
    "article-form",
    "preview",
    "conflict",
    "revisions",
)


def test_each_main_page_has_its_screenshot_committed_and_shown() -> None:
    doc = (ROOT / "docs/newsroom.md").read_text()
    for name in MAIN_PAGES:
        image = ROOT / "docs/newsroom" / f"{name}.png"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"(newsroom/{name}.png)" in doc, name
