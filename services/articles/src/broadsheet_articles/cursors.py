"""The public list's keyset cursor: where a page of published articles continues.

A cursor is the last article's ``(published_at, id)``: the time in microseconds since the epoch,
a dot, the id. Any pair of that shape is a position in the list, so the OpenAPI pattern
(``ARTICLE_CURSOR_PATTERN``) says exactly which cursors are accepted. Clients pass it back as
they got it; its form is not part of the contract (docs/api.md).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from broadsheet_articles.domain import Article
from broadsheet_shared.errors import InvalidRequest
from broadsheet_shared.identifiers import ARTICLE_CURSOR_PATTERN

PublicCursor = tuple[datetime, str]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CURSOR = re.compile(ARTICLE_CURSOR_PATTERN)


def encode_cursor(article: Article) -> str | None:
    if article.published_at is None:
        return None
    return f"{(article.published_at - _EPOCH) // _MICROSECOND}.{article.id}"


def decode_cursor(cursor: str) -> PublicCursor:
    matched = _CURSOR.match(cursor)
    if matched is None:
        raise InvalidRequest(
            "The request is not valid.",
            errors=[{"loc": ["query", "cursor"], "msg": "Invalid cursor.", "type": "cursor"}],
        )
    micros, article_id = matched.groups()
    return _EPOCH + int(micros) * _MICROSECOND, article_id
