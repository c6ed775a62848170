"""A new comment's author name passes the same rule as an imported one (rendering.plain_name):
invisible format characters go, and a name of nothing else is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from broadsheet_comments.schemas import CommentCreate

pytestmark = pytest.mark.unit


def test_a_new_comments_name_loses_bidi_and_zero_width_characters() -> None:
    comment = CommentCreate.model_validate(
        {"author_name": "\u202eAd\u200bmin\u2069", "body": "Hello"}, strict=True
    )
    assert comment.author_name == "Admin"


def test_a_name_of_invisible_characters_only_is_refused() -> None:
    with pytest.raises(ValidationError, match="visible text"):
        CommentCreate.model_validate({"author_name": "\u200b\u200d\ufeff", "body": "Hello"})
