"""Request bodies: a new comment's author name passes the same rule as an imported one
(rendering.plain_name): invisible format characters go, and a name of nothing else is refused;
a ban's minutes are what JSON Schema calls an integer."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from broadsheet_comments.schemas import BanCreate, CommentCreate

pytestmark = pytest.mark.unit


def test_a_new_comments_name_loses_bidi_and_zero_width_characters() -> None:
    comment = CommentCreate.model_validate(
        {"author_name": "\u202eAd\u200bmin\u2069", "body": "Hello"}, strict=True
    )
    assert comment.author_name == "Admin"


def test_a_name_of_invisible_characters_only_is_refused() -> None:
    with pytest.raises(ValidationError, match="visible text"):
        CommentCreate.model_validate({"author_name": "\u200b\u200d\ufeff", "body": "Hello"})


def test_a_ban_takes_its_minutes_as_a_json_schema_integer() -> None:
    def minutes(value: object) -> int:
        return BanCreate.model_validate(
            {"kind": "email", "value": "a@example.com", "duration_minutes": value}
        ).duration_minutes

    assert minutes(60) == 60
    # JSON Schema's integer: a number with no fraction, whichever way it is written.
    assert minutes(60.0) == 60
    for refused in ("60", 60.5, True, float("nan")):
        with pytest.raises(ValidationError):
            minutes(refused)
