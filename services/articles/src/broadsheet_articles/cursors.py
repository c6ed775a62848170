"""The public list's keyset cursor: where a page of published articles continues.

A cursor is the last article's ``(published_at, id)``, as URL-safe base64 of a JSON pair, so a
client passes it back as it got it and cannot read more into it.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import orjson

from broadsheet_articles.domain import Article
from broadsheet_shared.errors import InvalidRequest

PublicCursor = tuple[datetime, str]


def encode_cursor(article: Article) -> str | None:
    if article.published_at is None:
        return None
    raw = orjson.dumps([article.published_at.isoformat(), article.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> PublicCursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        published_at, article_id = orjson.loads(raw)
        parsed = datetime.fromisoformat(published_at)
        if parsed.tzinfo is None or not isinstance(article_id, str):
            raise ValueError("bad cursor")
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidRequest(
            "The request is not valid.",
            errors=[{"loc": ["query", "cursor"], "msg": "Invalid cursor.", "type": "cursor"}],
        ) from None
    return parsed, article_id
