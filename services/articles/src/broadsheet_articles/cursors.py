"""Keyset cursors: where a page of published articles, or of the audit log, continues.

A cursor is the last article's ``(published_at, id)``: the time in microseconds since the epoch,
a dot, the id. Any pair of that shape is a position in the list, so the OpenAPI pattern
(``ARTICLE_CURSOR_PATTERN``) says exactly which cursors are accepted. Clients pass it back as
they got it; its form is not part of the contract (docs/api.md). The audit log's cursor is the
last entry's ``(at, id)`` in the same form (``AUDIT_CURSOR_PATTERN``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from broadsheet_articles.domain import Article, AuditEntry
from broadsheet_shared.errors import InvalidRequest
from broadsheet_shared.identifiers import ARTICLE_CURSOR_PATTERN, AUDIT_CURSOR_PATTERN

PublicCursor = tuple[datetime, str]
AuditCursor = tuple[datetime, str]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CURSOR = re.compile(ARTICLE_CURSOR_PATTERN)
_AUDIT_CURSOR = re.compile(AUDIT_CURSOR_PATTERN)


def _position(at: datetime, item_id: str) -> str:
    return f"{(at - _EPOCH) // _MICROSECOND}.{item_id}"


def encode_cursor(article: Article) -> str | None:
    if article.published_at is None:
        return None
    return _position(article.published_at, article.id)


def decode_cursor(cursor: str) -> PublicCursor:
    return _decode(_CURSOR, cursor)


def encode_audit_cursor(entry: AuditEntry) -> str:
    return _position(entry.at, entry.id)


def decode_audit_cursor(cursor: str) -> AuditCursor:
    return _decode(_AUDIT_CURSOR, cursor)


def _decode(pattern: re.Pattern[str], cursor: str) -> tuple[datetime, str]:
    matched = pattern.match(cursor)
    if matched is None:
        raise InvalidRequest(
            "The request is not valid.",
            errors=[{"loc": ["query", "cursor"], "msg": "Invalid cursor.", "type": "cursor"}],
        )
    micros, item_id = matched.groups()
    return _EPOCH + int(micros) * _MICROSECOND, item_id
