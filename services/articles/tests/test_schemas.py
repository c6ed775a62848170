"""What staff write is text a page and a feed can carry."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from broadsheet_articles.schemas import ArticleCreate, SectionCreate

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "forbidden", ["\x00", "\x0b", "\x0c", "\x1f", "\x7f", "\x9d", "\ufdd0", "\ufffe", "\U0010ffff"]
)
def test_a_name_with_a_control_or_a_noncharacter_is_refused(forbidden: str) -> None:
    # The reader site drops these from a page: a stored name would no longer match its page
    # (a fuzzed section name with U+009D did not match its own "Move … up" button).
    with pytest.raises(ValidationError, match="control characters or noncharacters"):
        SectionCreate.model_validate({"name": f"Foreign{forbidden} Affairs"})


def test_the_schema_pattern_says_what_the_validator_refuses() -> None:
    # schemathesis generates from the pattern: a name the pattern allows must be accepted.
    pattern = SectionCreate.model_json_schema()["properties"]["name"]["pattern"]
    assert not re.search(pattern, "Foreign\x9d Affairs")
    assert re.search(pattern, "Foreign Affairs \U000a6183")
    assert SectionCreate.model_validate({"name": "Foreign Affairs \U000a6183"})


def test_a_body_keeps_its_tabs_and_newlines() -> None:
    body = "First line\n\tindented\r\nlast"
    created = ArticleCreate.model_validate({"title": "T", "body": body, "section": "World"})
    assert created.body == body
