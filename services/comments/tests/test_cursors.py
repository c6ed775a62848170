"""The opaque cursors of thread pages and of the staff queue."""

from __future__ import annotations

import pytest

from broadsheet_comments.cursors import (
    MAX_CURSOR_CHARS,
    AfterComment,
    BestKey,
    InvalidCursor,
    decode_queue_cursor,
    decode_thread_cursor,
    encode_best_cursor,
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


def test_best_cursors_round_trip_and_fall_back_to_the_comment_id() -> None:
    path = child_path(root_path(3), 2)
    cursor = encode_best_cursor(12, path, "c1")
    assert cursor == f"b.12.{path}"
    assert decode_thread_cursor(cursor) == BestKey(12, path)
    deep = root_path(1)
    for _ in range(38):
        deep = child_path(deep, 1)
    long_cursor = encode_best_cursor(999_999_999, deep, "65a1f0c2e4b0a1b2c3d4e5f6")
    assert long_cursor == "c.65a1f0c2e4b0a1b2c3d4e5f6"
    for altered in ("b.12", "b.x.0000003", "b.1234567890.0000003", f"b.-1.{path}"):
        with pytest.raises(InvalidCursor):
            decode_thread_cursor(altered)
