"""Sort paths, paging across thread boundaries, hidden subtrees and counts, on fakes."""

from __future__ import annotations

from typing import Any

import pytest

from broadsheet_comments.domain import (
    ModerationPolicy,
    Signals,
    ancestor_prefixes,
    child_path,
    first_time_signal,
    newest_path,
    root_path,
)
from broadsheet_comments.repository import next_roots, plan_window
from broadsheet_comments.schemas import CommentCreate
from broadsheet_comments.service import (
    MAX_CURSOR_CHARS,
    AfterComment,
    decode_thread_cursor,
    encode_thread_cursor,
)
from broadsheet_shared.events import CommentApprovedV1
from broadsheet_shared.http.problems import Problem

pytestmark = pytest.mark.unit


def cmd(**fields: Any) -> CommentCreate:
    base: dict[str, Any] = {"author_name": "Ann", "body": "A fine article."}
    base.update(fields)
    return CommentCreate.model_validate(base)


def test_paths_sort_depth_first_oldest_first() -> None:
    r1, r2, r10 = root_path(1), root_path(2), root_path(10)
    a, b = child_path(r1, 1), child_path(r1, 2)
    a1, b11 = child_path(a, 1), child_path(b, 11)
    assert sorted([r10, b11, r2, a1, b, r1, a]) == [r1, a, a1, b, b11, r2, r10]
    # Newest: top-level comments reversed, replies under each still oldest first.
    newest = sorted([r10, b11, r2, a1, b, r1, a], key=newest_path)
    assert newest == [r10, r2, r1, a, a1, b, b11]
    assert ancestor_prefixes(a1) == [a1, a, r1]


def test_premoderation_holds_a_comment_without_email() -> None:
    assert first_time_signal(None, has_approved_history=False)
    assert first_time_signal(None, has_approved_history=True)  # no address to vouch for it
    assert not first_time_signal("hash", has_approved_history=True)
    policy = ModerationPolicy(premoderate_first_time=True)
    verdict = policy.judge("Ann", "Hi", Signals(first_time=first_time_signal(None, False)))
    assert verdict.status == "pending"
    assert verdict.reasons == ("first_time",)


async def test_a_comment_without_email_is_held_while_premoderation_is_on(make_world: Any) -> None:
    world = make_world(ModerationPolicy(premoderate_first_time=True))
    world.add_article("hello")
    posted = await world.service.post("hello", cmd(), client="c")
    assert posted.comment.status == "pending"
    assert posted.comment.moderation_reasons == ("first_time",)


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


def test_cursors_round_trip_and_old_ones_continue_after_their_thread() -> None:
    path = child_path(root_path(7), 1)
    assert decode_thread_cursor(encode_thread_cursor(path, "c1"), "oldest") == path
    legacy = "c2VxOjc"  # base64 of "seq:7", a cursor from before sort paths
    assert decode_thread_cursor(legacy, "oldest") == root_path(7) + "~"
    assert decode_thread_cursor(legacy, "newest") == newest_path(root_path(7)) + "~"
    with pytest.raises(Problem):
        decode_thread_cursor(encode_thread_cursor("UPPER", "c1"), "oldest")


def test_a_key_too_long_for_a_url_travels_as_the_comment_id() -> None:
    deep = root_path(1)
    for _ in range(60):
        deep = child_path(deep, 1)
    cursor = encode_thread_cursor(deep, "65a1f0c2e4b0a1b2c3d4e5f6")
    assert len(cursor) <= MAX_CURSOR_CHARS
    assert decode_thread_cursor(cursor, "oldest") == AfterComment("65a1f0c2e4b0a1b2c3d4e5f6")


async def build(world: Any) -> dict[str, Any]:
    """root A (replies A1 → A1a, A2), root B (reply B1), root C."""
    world.add_article("hello")
    ids: dict[str, Any] = {}

    async def post(name: str, parent: str | None = None) -> None:
        posted = await world.service.post(
            "hello",
            cmd(
                author_name=name,
                body=f"by {name}",
                parent_id=ids[parent].comment.id if parent else None,
            ),
            client="c",
        )
        ids[name] = posted

    await post("A")
    await post("B")
    await post("A1", "A")
    await post("C")
    await post("A1a", "A1")
    await post("B1", "B")
    await post("A2", "A")
    return ids


async def walk(world: Any, sort: Any, limit: int) -> list[list[Any]]:
    pages, cursor = [], None
    while True:
        page = await world.service.thread("hello", sort=sort, cursor=cursor, limit=limit)
        pages.append(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return pages


async def test_pages_continue_inside_a_thread_and_name_the_unseen_parent(world: Any) -> None:
    ids = await build(world)
    pages = await walk(world, "oldest", 2)
    names = [[i.comment.author_name for i in page] for page in pages]
    assert names == [["A", "A1"], ["A1a", "A2"], ["B", "B1"], ["C"]]
    first = pages[1][0]
    assert first.comment.root_id == ids["A"].comment.id
    assert first.comment.display_depth == 2
    assert first.in_reply_to == "A1"  # its parent was on the previous page
    assert pages[1][1].in_reply_to == "A"
    assert pages[0][1].in_reply_to is None
    newest = await walk(world, "newest", 3)
    assert [[i.comment.author_name for i in page] for page in newest] == [
        ["C", "B", "B1"],
        ["A", "A1", "A1a"],
        ["A2"],
    ]


async def test_a_hidden_comment_takes_its_replies_out_of_thread_and_counts(world: Any) -> None:
    ids = await build(world)
    assert (await world.service.count("hello"))[1] == 7
    await world.service.moderate(ids["A1"].comment.id, "reject")
    page = await world.service.thread("hello", sort="oldest", cursor=None, limit=50)
    assert [i.comment.author_name for i in page.items] == ["A", "A2", "B", "B1", "C"]
    assert page.total == 5
    recent = [entry.comment.author_name for entry in await world.service.recent(50)]
    assert "A1a" not in recent
    assert "A2" in recent
    assert world.comments.rows[ids["A"].comment.id].reply_count == 1
    # Hiding the root on top hides the rest; the nested hide survives restoring the root.
    await world.service.moderate(ids["A"].comment.id, "spam")
    assert (await world.service.count("hello"))[1] == 3
    await world.service.moderate(ids["A"].comment.id, "approve")
    assert (await world.service.count("hello"))[1] == 5
    await world.service.moderate(ids["A1"].comment.id, "approve")
    page = await world.service.thread("hello", sort="oldest", cursor=None, limit=50)
    assert [i.comment.author_name for i in page.items] == ["A", "A1", "A1a", "A2", "B", "B1", "C"]
    assert page.total == 7
    # Approving twice (a retried or redelivered command) counts once.
    await world.service.moderate(ids["A1"].comment.id, "approve")
    assert (await world.service.count("hello"))[1] == 7


async def test_a_reply_under_a_held_comment_is_hidden_and_uncounted(make_world: Any) -> None:
    world = make_world(ModerationPolicy(suspect_words=("casino",)))
    world.add_article("hello")
    held = await world.service.post("hello", cmd(body="casino"), client="c")
    reply = await world.service.post("hello", cmd(body="ok", parent_id=held.comment.id), client="c")
    assert reply.comment.status == "approved"
    assert reply.comment.hidden_by == 1
    assert world.uow.of_type(CommentApprovedV1) == []  # nothing to show or notify yet
    assert (await world.service.count("hello"))[1] == 0
    await world.service.moderate(held.comment.id, "approve")
    page = await world.service.thread("hello", sort="oldest", cursor=None, limit=50)
    assert [i.comment.id for i in page.items] == [held.comment.id, reply.comment.id]
    assert page.total == 2
    await world.service.delete_own("hello", reply.comment.id, reply.edit_token)
    assert (await world.service.count("hello"))[1] == 1


async def test_a_thread_deeper_than_a_url_can_name_pages_through(world: Any) -> None:
    # Sort keys grow with depth; past ~30 levels the cursor names the comment instead.
    world.add_article("deep")
    parent = None
    chain = []
    for n in range(80):
        posted = await world.service.post(
            "deep", cmd(body=f"level {n}", parent_id=parent), client=f"c{n}"
        )
        parent = posted.comment.id
        chain.append(parent)
    seen: list[str] = []
    cursor = None
    while True:
        page = await world.service.thread("deep", sort="oldest", cursor=cursor, limit=7)
        seen.extend(item.comment.id for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
        assert len(cursor) <= MAX_CURSOR_CHARS
    assert seen == chain


async def test_a_cursor_naming_a_comment_of_another_article_is_422(world: Any) -> None:
    world.add_article("one")
    world.add_article("two")
    other = await world.service.post("two", cmd(), client="c")
    cursor = encode_thread_cursor("x" * 300, other.comment.id)
    with pytest.raises(Problem) as caught:
        await world.service.thread("one", sort="oldest", cursor=cursor, limit=5)
    assert caught.value.status == 422
