"""Pages never carry the code points HTML forbids."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from broadsheet_shared.http.html import without_forbidden_code_points

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "forbidden", ["\x00", "\x08", "\x0b", "\x1f", "\x7f", "\x9d", "\ufdd0", "\uffff", "\U0010fffe"]
)
def test_controls_and_noncharacters_are_taken_out(forbidden: str) -> None:
    assert without_forbidden_code_points(f"Foreign{forbidden} Affairs") == "Foreign Affairs"


def test_whitespace_and_other_text_stay() -> None:
    text = "Tab\there,\nline\r\nfeed\x0c and ÇÈČ \U000a6183 é"
    assert without_forbidden_code_points(text) == text


def test_markup_stays_markup_and_other_values_are_left_alone() -> None:
    cleaned = without_forbidden_code_points(Markup("<p>a\x9db</p>"))
    assert isinstance(cleaned, Markup)
    assert cleaned == Markup("<p>ab</p>")
    assert without_forbidden_code_points(3) == 3
    assert without_forbidden_code_points(None) is None
