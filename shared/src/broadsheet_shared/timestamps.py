"""Times in requests: RFC 3339 text with an offset, as the OpenAPI documents say.

Pydantic's lax mode also takes a number (seconds since the epoch) for a datetime, which the
schema (``type: string, format: date-time``) refuses: a request the schema calls invalid must
not be accepted, so numbers are refused here. Strict mode cannot be used instead: FastAPI
validates bodies after JSON decoding, where a strict datetime would refuse the text too. The
same type serves query parameters, where numbers arrive as text: the text's shape is checked.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

# RFC 3339's date-time (section 5.6). In a query string every value is text, so a number there
# ("0.5") must be refused by its shape: pydantic would read it as seconds since the epoch.
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _text_only(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.match(value)):
        return value
    raise ValueError("a date-time is RFC 3339 text with an offset")


Timestamp = Annotated[AwareDatetime, BeforeValidator(_text_only)]
