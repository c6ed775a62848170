"""The cursors of paged lists: the thread pages and the staff queue.

Each is the sort key a page continues after, written so that its shape is its validity: every
cursor the OpenAPI patterns allow (``broadsheet_shared.identifiers``) is a position, and a
client passes them back as it got them (their form is not part of the contract, docs/api.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from broadsheet_shared.errors import InvalidRequest
from broadsheet_shared.identifiers import QUEUE_CURSOR_PATTERN, THREAD_CURSOR_PATTERN

# The longest cursor a client may send back (the API's and the reader site's parameter limit).
MAX_CURSOR_CHARS = 200

_QUEUE_KEY = re.compile(QUEUE_CURSOR_PATTERN)
_THREAD_KEY = re.compile(THREAD_CURSOR_PATTERN)


class InvalidCursor(InvalidRequest):
    """A cursor of a shape this service never hands out."""

    def __init__(self) -> None:
        super().__init__("The cursor is not valid.")


def encode_queue_cursor(sort_key: str) -> str:
    """The staff queue continues after this comment's ``sort_key`` (newest first)."""
    return sort_key


def decode_queue_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    if not _QUEUE_KEY.match(cursor):
        raise InvalidCursor
    return cursor


@dataclass(frozen=True)
class AfterComment:
    """A cursor naming the last comment shown, for keys too long to travel in a URL."""

    comment_id: str


def encode_thread_cursor(key: str, comment_id: str) -> str:
    """The sort key (path or newest path) of the last comment shown, or, when that key is too
    long for a URL parameter (a reply some 38 levels deep), the comment's id, which costs one
    read by _id to turn back into its key."""
    by_key = f"p.{key}"
    return by_key if len(by_key) <= MAX_CURSOR_CHARS else f"c.{comment_id}"


@dataclass(frozen=True)
class BestKey:
    """A position in the Best order: after the comment at ``path`` whose top-level comment had
    ``votes`` votes (top-level comments by votes, most first, then by position; each followed
    by its replies in thread order)."""

    votes: int
    path: str


def encode_best_cursor(votes: int, path: str, comment_id: str) -> str:
    """A Best page continues after this comment (``votes``: its top-level comment's); the
    comment's id when the key is too long for a URL parameter."""
    by_key = f"b.{votes}.{path}"
    return by_key if len(by_key) <= MAX_CURSOR_CHARS else f"c.{comment_id}"


def decode_thread_cursor(cursor: str | None) -> str | AfterComment | BestKey | None:
    """The sort key after which the page starts, the Best position, or the comment whose key
    it is."""
    if not cursor:
        return None
    matched = _THREAD_KEY.match(cursor)
    if matched is None:
        raise InvalidCursor
    key, comment_id, votes, best_path = matched.groups()
    if comment_id is not None:
        return AfterComment(comment_id)
    if best_path is not None:
        return BestKey(int(votes), best_path)
    return str(key)
