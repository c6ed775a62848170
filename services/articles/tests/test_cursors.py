from __future__ import annotations

from datetime import UTC, datetime

import pytest

from broadsheet_articles.cursors import decode_cursor, encode_cursor
from broadsheet_articles.domain import Article, Section
from broadsheet_shared.errors import InvalidRequest

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def article(published_at: datetime | None) -> Article:
    draft = Article.draft(
        id="a1", slug="s", title="T", body="B", section=Section("world", "World"), now=NOW
    )
    draft.published_at = published_at
    return draft


def test_a_cursor_comes_back_as_the_position_it_was_made_from() -> None:
    cursor = encode_cursor(article(NOW))
    assert cursor is not None
    assert cursor == "1740830400123000.a1"
    assert decode_cursor(cursor) == (NOW, "a1")


def test_every_cursor_the_schema_allows_is_a_position() -> None:
    assert decode_cursor("0.x") == (datetime(1970, 1, 1, tzinfo=UTC), "x")
    assert decode_cursor("9" * 16 + "." + "z" * 64)[0].year == 2286


def test_an_unpublished_article_has_no_cursor() -> None:
    assert encode_cursor(article(None)) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "!!not-a-cursor",
        "1740830400123000",  # no id
        "1740830400123000.",
        "12345678901234567.a1",  # beyond the 16 digits (year 2286)
        "1740830400123000.a/1",
    ],
)
def test_a_bad_cursor_is_refused_like_a_bad_query_parameter(cursor: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_cursor(cursor)
    assert caught.value.detail == "The request is not valid."
    assert caught.value.extensions == {
        "errors": [{"loc": ["query", "cursor"], "msg": "Invalid cursor.", "type": "cursor"}]
    }
