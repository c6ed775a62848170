from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from broadsheet_shared.timestamps import Timestamp

pytestmark = pytest.mark.unit


class Body(BaseModel):
    at: Timestamp


def test_rfc3339_text_is_a_timestamp() -> None:
    assert Body.model_validate({"at": "2007-09-04T00:49:28Z"}).at == datetime(
        2007, 9, 4, 0, 49, 28, tzinfo=UTC
    )


def test_a_number_is_not_though_lax_pydantic_would_take_it() -> None:
    with pytest.raises(ValidationError):
        Body.model_validate({"at": 1188866968})


@pytest.mark.parametrize("text", ["1188866968", "0.5", "2007-09-04", "2007-09-04 00:49:28Z"])
def test_text_that_is_no_rfc3339_date_time_is_refused(text: str) -> None:
    # A query parameter is always text: a number in it is refused by its shape.
    with pytest.raises(ValidationError):
        Body.model_validate({"at": text})


def test_the_schema_still_says_date_time_text() -> None:
    assert Body.model_json_schema()["properties"]["at"] == {
        "format": "date-time",
        "title": "At",
        "type": "string",
    }
