"""The opaque cursors of paged lists: the thread pages and the staff queue.

Both are base64url without padding. A client that sends one back altered gets 422.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from broadsheet_comments.threads import SUBTREE_END, is_path
from broadsheet_shared.errors import InvalidRequest

# The longest cursor a client may send back (the API's and the reader site's parameter limit).
MAX_CURSOR_CHARS = 200

_QUEUE_KEY = re.compile(r"^\d{14}:[0-9a-f]{24}$")
_THREAD_KEY = re.compile(r"^(?:p:([0-9a-z~]{7,4000})|c:([0-9A-Za-z_-]{1,64}))$")


class InvalidCursor(InvalidRequest):
    """A cursor this service did not hand out, or one that names no comment of the article."""

    def __init__(self) -> None:
        super().__init__("The cursor is not valid.")


def _encode(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def encode_queue_cursor(sort_key: str) -> str:
    """The staff queue continues after this comment's ``sort_key`` (newest first)."""
    return _encode(sort_key)


def decode_queue_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    raw = _decode(cursor)
    if not _QUEUE_KEY.match(raw):
        raise InvalidCursor
    return raw


@dataclass(frozen=True)
class AfterComment:
    """A cursor naming the last comment shown, for keys too long to travel in a URL."""

    comment_id: str


def encode_thread_cursor(key: str, comment_id: str) -> str:
    """The sort key (path or newest path) of the last comment shown, or, when that key is too
    long for a URL parameter (a reply some 30 levels deep), the comment's id, which costs one
    read by _id to turn back into its key."""
    by_key = _encode(f"p:{key}")
    return by_key if len(by_key) <= MAX_CURSOR_CHARS else _encode(f"c:{comment_id}")


def decode_thread_cursor(cursor: str | None) -> str | AfterComment | None:
    """The sort key after which the page starts, or the comment whose key it is."""
    if not cursor:
        return None
    matched = _THREAD_KEY.match(_decode(cursor))
    if matched is None:
        raise InvalidCursor
    key, comment_id = matched.groups()
    if comment_id is not None:
        return AfterComment(comment_id)
    if not is_path(key.rstrip(SUBTREE_END)):
        raise InvalidCursor
    return str(key)
