"""The opaque cursors of thread pages and of the staff queue."""

from __future__ import annotations

import pytest

from broadsheet_comments.cursors import (
    MAX_CURSOR_CHARS,
    AfterComment,
    InvalidCursor,
    decode_queue_cursor,
    decode_thread_cursor,
    encode_queue_cursor,
    encode_thread_cursor,
)
from broadsheet_comments.threads import child_path, root_path
from broadsheet_shared.http.problems import status_of

pytestmark = pytest.mark.unit


def test_thread_cursors_round_trip_and_altered_ones_are_refused() -> None:
    path = child_path(root_path(7), 1)
    assert decode_thread_cursor(encode_thread_cursor(path, "c1")) == path
    assert decode_thread_cursor(encode_thread_cursor(path + "~", "c1")) == path + "~"
    assert decode_thread_cursor(None) is None
    assert decode_thread_cursor("") is None
    for altered in (encode_thread_cursor("UPPER", "c1"), "p.000000", "p.00000071", "garbage!"):
        with pytest.raises(InvalidCursor) as caught:
            decode_thread_cursor(altered)
        assert status_of(caught.value) == 422
        assert caught.value.detail == "The cursor is not valid."


def test_a_key_too_long_for_a_url_travels_as_the_comment_id() -> None:
    deep = root_path(1)
    for _ in range(60):
        deep = child_path(deep, 1)
    cursor = encode_thread_cursor(deep, "65a1f0c2e4b0a1b2c3d4e5f6")
    assert len(cursor) <= MAX_CURSOR_CHARS
    assert decode_thread_cursor(cursor) == AfterComment("65a1f0c2e4b0a1b2c3d4e5f6")


def test_queue_cursors_round_trip_and_altered_ones_are_refused() -> None:
    key = "01735732800000:65a1f0c2e4b0a1b2c3d4e5f6"
    assert decode_queue_cursor(encode_queue_cursor(key)) == key
    # Any key of the shape is a position in the queue.
    assert decode_queue_cursor("99999999999999:" + "f" * 24) == "99999999999999:" + "f" * 24
    assert decode_queue_cursor(None) is None
    with pytest.raises(InvalidCursor):
        decode_queue_cursor(encode_queue_cursor("not a sort key"))
