"""Thread order: sort paths, and the planning of page windows from thread outlines.

Pure rules, no I/O. A path is fixed-width base-36 components: the root's display number, then
one child sequence number per level. Fixed widths make string order equal thread order (depth
first, oldest first) and make a subtree one prefix range: [path, path + SUBTREE_END).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

Sort = Literal["oldest", "newest"]
# The orders a reader may pick: the two path orders, and Best (top-level comments by votes,
# most first, ties in posting order; replies under their parents, oldest first).
ThreadSort = Literal["oldest", "newest", "best"]

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
ROOT_WIDTH = 7  # 36**7 - 1 ≈ 78 billion top-level comments per article
CHILD_WIDTH = 5  # 36**5 - 1 ≈ 60 million replies to one comment
ROOT_MAX = 36**ROOT_WIDTH - 1
SUBTREE_END = "~"  # sorts after every digit
_PATH = re.compile(r"^[0-9a-z]{7}(?:[0-9a-z]{5})*$")


def _base36(value: int, width: int) -> str:
    if not 0 <= value < 36**width:
        raise ValueError(f"{value} does not fit {width} base-36 digits")
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        digits.append(_DIGITS[digit])
    return "".join(reversed(digits))


def root_path(root_seq: int) -> str:
    return _base36(root_seq, ROOT_WIDTH)


def child_path(parent_path: str, child_seq: int) -> str:
    return parent_path + _base36(child_seq, CHILD_WIDTH)


def newest_path(path: str) -> str:
    """The same path with the root component inverted: newest top-level comment first."""
    return _base36(ROOT_MAX - int(path[:ROOT_WIDTH], 36), ROOT_WIDTH) + path[ROOT_WIDTH:]


def is_path(value: str) -> bool:
    return bool(_PATH.match(value))


def root_value(path: str) -> int:
    """The root component of a path (or of a newest path) as a number."""
    return int(path[:ROOT_WIDTH], 36)


def sort_path(path: str, sort: Sort) -> str:
    """The key a comment at ``path`` sorts by in ``sort`` order."""
    return path if sort == "oldest" else newest_path(path)


def key_before(key: str) -> str:
    """A key between the comment at sort key ``key`` and whatever precedes it in thread order:
    its last component one less, then SUBTREE_END (after that number's whole subtree). No key
    of any comment falls between the two, so a page after it starts with this comment, whether
    the comment just before is a previous sibling's last reply, the parent, or missing (a gap in
    the numbers). Works in both sorts: newest keys invert only the root component, and the
    previous top-level comment there has the next root number, one less once inverted."""
    width = ROOT_WIDTH if len(key) == ROOT_WIDTH else CHILD_WIDTH
    return key[:-width] + _base36(int(key[-width:], 36) - 1, width) + SUBTREE_END


def root_seq_of(key: str, sort: Sort) -> int:
    """The display number of the top-level comment a sort key belongs to."""
    value = root_value(key)
    return value if sort == "oldest" else ROOT_MAX - value


# --- page windows -----------------------------------------------------------------------------
#
# A page is logically "public comments with key > after, sorted by key, limit n". The database
# reads a whole index range before it applies a limit, so the range is closed above at a key
# planned from the thread outlines (per top-level comment, the path suffixes of all its
# replies, whatever their status). Outlines only size the window: a window holding fewer public
# comments than planned is followed by the next one, so nothing is skipped.


def next_roots(after: str | None, sort: Sort, count: int, last_seq: int) -> list[int]:
    """The numbers of up to ``count`` top-level comments after ``after``'s, in display order."""
    if sort == "oldest":
        start = root_seq_of(after, sort) + 1 if after else 1
        return list(range(start, min(start + count, last_seq + 1)))
    # A cursor may name a root past the last one (any key of the cursor's shape is accepted):
    # newest first, what follows it starts at the last root, not billions of empty windows on.
    start = min(root_seq_of(after, sort) - 1, last_seq) if after else last_seq
    return list(range(start, max(start - count, 0), -1))


def outlines_to_read(after: str | None, sort: Sort, roots: Sequence[int]) -> list[int]:
    """The top-level comments whose outlines plan a window: ``after``'s thread, then ``roots``."""
    return ([root_seq_of(after, sort)] if after else []) + list(roots)


def plan_window(
    sort: Sort,
    after: str | None,
    needed: int,
    last_seq: int,
    outlines: Mapping[int, Sequence[str]],
    candidates: Sequence[int],
) -> str | None:
    """The last key (inclusive) of a window after ``after`` expected to hold ``needed``
    comments, from the outlines of the thread ``after`` is in and of the ``candidates`` roots
    that follow it (display order); None when the window may stay open to the end.

    Outlines list replies of every status, so the window may hold fewer public comments than
    planned: the caller then plans the next window from this one's end.
    """
    remaining = needed
    if after is not None:
        current, suffix = root_seq_of(after, sort), after[ROOT_WIDTH:]
        rest = [path for path in outlines.get(current, ()) if path > suffix]
        if len(rest) >= remaining:
            return after[:ROOT_WIDTH] + sorted(rest)[remaining - 1]
        remaining -= len(rest)
    for root_seq in candidates:
        replies = sorted(outlines.get(root_seq, ()))
        if 1 + len(replies) >= remaining:
            top = sort_path(root_path(root_seq), sort)
            return top if remaining == 1 else top + replies[remaining - 2]
        remaining -= 1 + len(replies)
    # Past the last top-level comment there is nothing more: the window may stay open.
    if not candidates or candidates[-1] == (last_seq if sort == "oldest" else 1):
        return None
    return sort_path(root_path(candidates[-1]), sort) + SUBTREE_END
