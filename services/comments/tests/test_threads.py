"""Sort paths and the planning of page windows from thread outlines."""

from __future__ import annotations

import pytest

from broadsheet_comments.threads import (
    child_path,
    newest_path,
    next_roots,
    outlines_to_read,
    plan_window,
    root_path,
    sort_path,
)

pytestmark = pytest.mark.unit


def test_paths_sort_depth_first_oldest_first() -> None:
    r1, r2, r10 = root_path(1), root_path(2), root_path(10)
    a, b = child_path(r1, 1), child_path(r1, 2)
    a1, b11 = child_path(a, 1), child_path(b, 11)
    assert sorted([r10, b11, r2, a1, b, r1, a]) == [r1, a, a1, b, b11, r2, r10]
    # Newest: top-level comments reversed, replies under each still oldest first.
    newest = sorted([r10, b11, r2, a1, b, r1, a], key=newest_path)
    assert newest == [r10, r2, r1, a, a1, b, b11]


def test_deep_threads_keep_paths_in_thread_order() -> None:
    chain = [root_path(1)]
    for _ in range(1, 3000):
        chain.append(child_path(chain[-1], 1))
    sibling = child_path(chain[0], 2)  # the root's second reply comes after the whole chain
    assert sorted([sibling, *reversed(chain)]) == [*chain, sibling]


def test_windows_are_planned_from_thread_outlines() -> None:
    # Root 3 has five replies: a, a1, a2, b, c (suffixes); roots 4 and 5 have none, 6 has two.
    a, b, c = (child_path("", n) for n in (1, 2, 3))
    a1, a2 = child_path(a, 1), child_path(a, 2)
    outlines = {3: [c, a, a2, b, a1], 6: [child_path("", 1), child_path("", 2)]}
    cursor = root_path(3) + a1
    # Inside root 3: the window ends on the 2nd reply after the cursor.
    assert plan_window("oldest", cursor, 2, 9, outlines, [4, 5, 6]) == root_path(3) + b
    # Spilling over: 3 left in root 3, then root 4, root 5, then root 6 and its first reply.
    bound = plan_window("oldest", cursor, 7, 9, outlines, [4, 5, 6])
    assert bound == root_path(6) + child_path("", 1)
    # Candidates exhausted before the last root: close at the end of the last candidate.
    assert plan_window("oldest", cursor, 20, 9, outlines, [4, 5, 6]) == root_path(6) + "~"
    # ... and open when the last candidate is the article's last top-level comment.
    assert plan_window("oldest", cursor, 20, 6, outlines, [4, 5, 6]) is None
    # Newest: the same outlines, root components inverted.
    assert plan_window("newest", None, 2, 6, outlines, [6, 5]) == newest_path(
        root_path(6) + child_path("", 1)
    )
    assert next_roots(None, "newest", 3, 6) == [6, 5, 4]
    assert next_roots(newest_path(root_path(2)), "newest", 3, 6) == [1]
    assert next_roots(cursor, "oldest", 3, 4) == [4]


def test_a_cursor_past_the_last_root_continues_at_the_last_root() -> None:
    past = root_path(1000)
    assert next_roots(sort_path(past, "newest"), "newest", 3, 6) == [6, 5, 4]
    assert next_roots(past, "oldest", 3, 6) == []


def test_a_window_reads_the_outlines_of_the_cursor_thread_and_the_next_roots() -> None:
    cursor = sort_path(child_path(root_path(3), 1), "newest")
    assert outlines_to_read(cursor, "newest", [2, 1]) == [3, 2, 1]
    assert outlines_to_read(None, "oldest", [1, 2]) == [1, 2]
