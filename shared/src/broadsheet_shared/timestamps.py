"""Times in request bodies: RFC 3339 text with an offset, as the OpenAPI documents say.

Pydantic's lax mode also takes a number (seconds since the epoch) for a datetime, which the
schema (``type: string, format: date-time``) refuses: a request the schema calls invalid must
not be accepted, so numbers are refused here. Strict mode cannot be used instead: FastAPI
validates bodies after JSON decoding, where a strict datetime would refuse the text too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator


def _text_only(value: object) -> object:
    if isinstance(value, str | datetime):
        return value
    raise ValueError("a date-time is RFC 3339 text with an offset")


Timestamp = Annotated[AwareDatetime, BeforeValidator(_text_only)]
