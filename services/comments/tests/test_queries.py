"""Thread pages (paging across thread boundaries, hidden subtrees), counts, recent, on fakes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from broadsheet_comments.commands import (
    DeleteComment,
    ImportComment,
    ModerateComment,
    VoteForComment,
)
from broadsheet_comments.cursors import MAX_CURSOR_CHARS, encode_thread_cursor
from broadsheet_comments.domain import ModerationPolicy
from broadsheet_shared.errors import ApplicationError
from broadsheet_shared.events import CommentApprovedV1
from broadsheet_shared.http.problems import status_of

pytestmark = pytest.mark.unit


async def build(world: Any) -> dict[str, Any]:
    """root A (replies A1 → A1a, A2), root B (reply B1), root C."""
    world.add_article("hello")
    ids: dict[str, Any] = {}

    async def post(name: str, parent: str | None = None) -> None:
        posted = await world.post(
            "hello",
            author_name=name,
            body=f"by {name}",
            parent_id=ids[parent].comment.id if parent else None,
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
        page = await world.queries.thread("hello", sort=sort, cursor=cursor, limit=limit)
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
    assert (await world.queries.count("hello"))[1] == 7
    await world.service.moderate(ModerateComment(ids["A1"].comment.id, "reject"), world.moderator)
    page = await world.queries.thread("hello", sort="oldest", cursor=None, limit=50)
    assert [i.comment.author_name for i in page.items] == ["A", "A2", "B", "B1", "C"]
    assert page.total == 5
    recent = [entry.comment.author_name for entry in await world.queries.recent(50)]
    assert "A1a" not in recent
    assert "A2" in recent
    assert world.comments.rows[ids["A"].comment.id].reply_count == 1
    # Hiding the root on top hides the rest; the nested hide survives restoring the root.
    await world.service.moderate(ModerateComment(ids["A"].comment.id, "spam"), world.moderator)
    assert (await world.queries.count("hello"))[1] == 3
    await world.service.moderate(ModerateComment(ids["A"].comment.id, "approve"), world.moderator)
    assert (await world.queries.count("hello"))[1] == 5
    await world.service.moderate(ModerateComment(ids["A1"].comment.id, "approve"), world.moderator)
    page = await world.queries.thread("hello", sort="oldest", cursor=None, limit=50)
    assert [i.comment.author_name for i in page.items] == ["A", "A1", "A1a", "A2", "B", "B1", "C"]
    assert page.total == 7
    # Approving twice (a retried or redelivered command) counts once.
    await world.service.moderate(ModerateComment(ids["A1"].comment.id, "approve"), world.moderator)
    assert (await world.queries.count("hello"))[1] == 7


async def test_a_reply_under_a_held_comment_is_hidden_and_uncounted(make_world: Any) -> None:
    world = make_world(ModerationPolicy(suspect_words=("casino",)))
    world.add_article("hello")
    held = await world.post("hello", body="casino", client="c")
    reply = await world.post("hello", body="ok", parent_id=held.comment.id, client="c")
    assert reply.comment.status == "approved"
    assert reply.comment.hidden_by == 1
    assert world.uow.of_type(CommentApprovedV1) == []  # nothing to show or notify yet
    assert (await world.queries.count("hello"))[1] == 0
    await world.service.moderate(ModerateComment(held.comment.id, "approve"), world.moderator)
    page = await world.queries.thread("hello", sort="oldest", cursor=None, limit=50)
    assert [i.comment.id for i in page.items] == [held.comment.id, reply.comment.id]
    assert page.total == 2
    await world.service.delete_own(DeleteComment("hello", reply.comment.id, reply.edit_token))
    assert (await world.queries.count("hello"))[1] == 1


async def test_a_thread_deeper_than_a_url_can_name_pages_through(world: Any) -> None:
    # Sort keys grow with depth; past ~30 levels the cursor names the comment instead.
    world.add_article("deep")
    parent = None
    chain = []
    for n in range(80):
        posted = await world.post("deep", body=f"level {n}", parent_id=parent, client=f"c{n}")
        parent = posted.comment.id
        chain.append(parent)
    seen: list[str] = []
    cursor = None
    while True:
        page = await world.queries.thread("deep", sort="oldest", cursor=cursor, limit=7)
        seen.extend(item.comment.id for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
        assert len(cursor) <= MAX_CURSOR_CHARS
    assert seen == chain


async def test_a_cursor_naming_a_comment_of_another_article_is_404(world: Any) -> None:
    world.add_article("one")
    world.add_article("two")
    other = await world.post("two", client="c")
    cursor = encode_thread_cursor("x" * 300, other.comment.id)
    with pytest.raises(ApplicationError) as caught:
        await world.queries.thread("one", sort="oldest", cursor=cursor, limit=5)
    assert status_of(caught.value) == 404


async def test_pages_hold_at_most_limit_comments_in_thread_order(world: Any) -> None:
    world.add_article("hello")
    expected = []
    for n in range(5):
        root = (await world.post("hello", body=f"root {n}", client="c")).comment
        reply = await world.post("hello", body=f"reply {n}", parent_id=root.id, client="c")
        expected += [root.id, reply.comment.id]
    seen: list[str] = []
    cursor = None
    while True:
        page = await world.queries.thread("hello", sort="oldest", cursor=cursor, limit=3)
        assert len(page.items) <= 3
        seen.extend(i.comment.id for i in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    newest = await world.queries.thread("hello", sort="newest", cursor=None, limit=3)
    assert [i.comment.id for i in newest.items] == [expected[8], expected[9], expected[6]]


async def test_bad_cursor_is_422(world: Any) -> None:
    world.add_article("hello")
    with pytest.raises(ApplicationError) as caught:
        await world.queries.thread("hello", sort="oldest", cursor="garbage!", limit=2)
    assert status_of(caught.value) == 422


async def test_counts_and_recent(world: Any) -> None:
    world.add_article("one")
    world.add_article("two", published=False)
    await world.post("one", client="c")
    counts = await world.queries.counts(["one", "two", "missing"])
    assert counts == {"one": 1, "two": 0, "missing": 0}
    recent = await world.queries.recent(5)
    assert [entry.article.slug for entry in recent] == ["one"]


async def test_a_page_of_a_public_thread_is_one_planned_window(world: Any) -> None:
    # Outlines size the window exactly when every reply is public: one range read per page.
    ids = await build(world)
    reads = world.comments.windows_read
    page = await world.queries.thread("hello", sort="oldest", cursor=None, limit=4)
    assert [i.comment.id for i in page.items] == [
        ids[n].comment.id for n in ("A", "A1", "A1a", "A2")
    ]
    assert world.comments.windows_read == reads + 1


def command(wordpress_id: int, **overrides: Any) -> ImportComment:
    fields: dict[str, Any] = {
        "source": "https://old.example",
        "wordpress_id": wordpress_id,
        "article_id": "art-hello",
        "parent_id": None,
        "author_name": "Ann",
        "author_email": None,
        "body": f"Comment {wordpress_id}",
        "status": "approved",
        "created_at": datetime(2019, 1, 2, tzinfo=UTC),
        "fingerprint": "a" * 64,
    }
    fields.update(overrides)
    return ImportComment(**fields)


async def import_long_thread(world: Any) -> dict[int, str]:
    """Twelve top-level comments, each with a reply that has a reply, and the second reply of
    every third one held (pending): WordPress ids 1.. in import order -> comment ids."""
    world.add_article("hello")
    ids: dict[int, str] = {}

    async def bring(parent: int | None, status: str = "approved") -> int:
        wordpress_id = len(ids) + 1
        done = await world.import_service.import_comment(
            command(wordpress_id, parent_id=ids[parent] if parent else None, status=status)
        )
        ids[wordpress_id] = done.comment.id
        return wordpress_id

    for n in range(12):
        root = await bring(None)
        await bring(await bring(root))
        if n % 3 == 0:
            await bring(root, "pending")
    return ids


@pytest.mark.parametrize("sort", ["oldest", "newest"])
async def test_an_imported_comment_on_any_page_is_found_with_a_cursor_to_its_page(
    world: Any, sort: Any
) -> None:
    ids = await import_long_thread(world)
    pages = await walk(world, sort, 5)
    assert len(pages) >= 3
    for number, items in enumerate(pages[:3], start=1):
        for item in items:
            wordpress_id = item.comment.wordpress_id
            anchor = await world.queries.wordpress_comment("hello", wordpress_id, sort=sort)
            assert anchor.comment_id == ids[wordpress_id] == item.comment.id
            page = await world.queries.thread("hello", sort=sort, cursor=anchor.cursor, limit=5)
            # The page the cursor opens begins with the comment, wherever it was.
            assert page.items[0].comment.id == anchor.comment_id, (number, wordpress_id)
            assert (anchor.cursor is None) == (item is pages[0][0])


async def test_an_unknown_held_or_foreign_wordpress_comment_is_404(world: Any) -> None:
    ids = await import_long_thread(world)
    world.add_article("other")
    elsewhere = await world.import_service.import_comment(command(99, article_id="art-other"))
    assert elsewhere.comment.id not in ids.values()
    held = next(
        wordpress_id
        for wordpress_id, cid in ids.items()
        if world.comments.rows[cid].status == "pending"
    )
    for slug, wordpress_id in (("hello", 500), ("hello", held), ("hello", 99), ("nope", 1)):
        with pytest.raises(ApplicationError) as caught:
            await world.queries.wordpress_comment(slug, wordpress_id, sort="oldest")
        assert status_of(caught.value) == 404
    assert (await world.queries.wordpress_comment("other", 99, sort="oldest")).cursor is None


async def test_a_comment_too_deep_for_a_key_cursor_is_found_after_its_parent(world: Any) -> None:
    world.add_article("hello")
    parent_id = None
    for wordpress_id in range(1, 36):
        done = await world.import_service.import_comment(command(wordpress_id, parent_id=parent_id))
        parent_id = done.comment.id
    anchor = await world.queries.wordpress_comment("hello", 35, sort="oldest")
    assert anchor.cursor is not None
    assert len(anchor.cursor) <= MAX_CURSOR_CHARS
    page = await world.queries.thread("hello", sort="oldest", cursor=anchor.cursor, limit=5)
    assert page.items[0].comment.id == anchor.comment_id


@pytest.mark.parametrize("sort", ["oldest", "newest"])
async def test_a_comment_by_id_on_any_page_comes_with_a_page_that_holds_it(
    world: Any, sort: Any
) -> None:
    await import_long_thread(world)
    pages = await walk(world, sort, 5)
    assert len(pages) >= 3
    for items in pages[:3]:
        for item in items:
            comment = item.comment
            located = await world.queries.comment("hello", comment.id, sort=sort, limit=5)
            assert located.item.comment.id == comment.id
            page = await world.queries.thread("hello", sort=sort, cursor=located.cursor, limit=5)
            ids = [i.comment.id for i in page.items]
            assert comment.id in ids
            # The page starts with the conversation the comment is in: its top-level
            # comment (each thread here has at most four comments, less than a page).
            assert ids[0] == comment.root_id
            assert (located.cursor is None) == (comment.root_id == pages[0][0].comment.id)
            shown = next(i for i in page.items if i.comment.id == comment.id)
            assert located.item.in_reply_to == shown.in_reply_to


async def test_a_reply_beyond_a_page_of_its_thread_comes_with_its_parent_s_or_its_own_page(
    world: Any,
) -> None:
    world.add_article("hello")
    root = await world.import_service.import_comment(command(1))
    parent = await world.import_service.import_comment(command(2, parent_id=root.comment.id))
    for wordpress_id in range(3, 7):
        await world.import_service.import_comment(command(wordpress_id, parent_id=root.comment.id))
    child = await world.import_service.import_comment(command(7, parent_id=parent.comment.id))
    last = await world.import_service.import_comment(command(8, parent_id=root.comment.id))
    # A page of 3 from the root holds root, parent, child (depth first): page one.
    located = await world.queries.comment("hello", child.comment.id, sort="oldest", limit=3)
    assert located.cursor is None
    # The last reply is the root's eighth comment: on the page beginning with itself.
    located = await world.queries.comment("hello", last.comment.id, sort="oldest", limit=3)
    page = await world.queries.thread("hello", sort="oldest", cursor=located.cursor, limit=3)
    assert page.items[0].comment.id == last.comment.id
    assert located.item.in_reply_to == page.items[0].in_reply_to
    # The child, by pages of 2: not on its root's page (root, parent), but on its parent's.
    located = await world.queries.comment("hello", child.comment.id, sort="oldest", limit=2)
    page = await world.queries.thread("hello", sort="oldest", cursor=located.cursor, limit=2)
    assert [i.comment.id for i in page.items] == [parent.comment.id, child.comment.id]


async def test_an_unknown_held_or_foreign_comment_by_id_is_404(world: Any) -> None:
    ids = await import_long_thread(world)
    world.add_article("other")
    elsewhere = await world.import_service.import_comment(command(99, article_id="art-other"))
    held = next(cid for cid in ids.values() if world.comments.rows[cid].status == "pending")
    for slug, comment_id in (
        ("hello", "f" * 24),
        ("hello", held),
        ("hello", elsewhere.comment.id),
        ("nope", ids[1]),
    ):
        with pytest.raises(ApplicationError) as caught:
            await world.queries.comment(slug, comment_id, sort="oldest", limit=5)
        assert status_of(caught.value) == 404


async def test_the_queue_shows_each_comment_with_its_article_and_its_parent(
    make_world: Any,
) -> None:
    world = make_world(ModerationPolicy(premoderate_first_time=True))
    world.add_article("hello")
    root = await world.post("hello", author_name="Ann", author_email="a@example.com", body="top")
    await world.service.moderate(ModerateComment(root.comment.id, "approve"), world.moderator)
    reply = await world.post(
        "hello",
        author_name="Bob",
        author_email="b@example.com",
        body="a reply",
        parent_id=root.comment.id,
    )
    orphan = await world.post("hello", author_email="c@example.com", body="lost")
    world.articles.rows.clear()  # its article's event has not arrived (or it was deleted)
    entries, cursor = await world.queries.queue("pending", None, 10)
    assert cursor is None
    by_id = {entry.comment.id: entry for entry in entries}
    assert set(by_id) == {reply.comment.id, orphan.comment.id}
    assert by_id[orphan.comment.id].article is None
    assert by_id[orphan.comment.id].parent is None
    assert by_id[reply.comment.id].parent is not None
    assert by_id[reply.comment.id].parent.author_name == "Ann"
    assert by_id[reply.comment.id].parent.excerpt == "top"


async def test_queue_entries_name_their_article(make_world: Any) -> None:
    world = make_world(ModerationPolicy(premoderate_first_time=True))
    world.add_article("hello")
    await world.post("hello", author_email="a@example.com", body="held")
    [entry], _ = await world.queries.queue("pending", None, 10)
    assert entry.article is not None
    assert (entry.article.slug, entry.article.title) == (
        "hello",
        world.articles.rows["art-hello"].title,
    )


async def test_the_queue_pages_newest_or_oldest_first(make_world: Any) -> None:
    world = make_world(ModerationPolicy(premoderate_first_time=True))
    world.add_article("hello")
    held = [
        (await world.post("hello", author_email=f"{n}@example.com", body=f"held {n}")).comment.id
        for n in range(3)
    ]

    async def walk(oldest_first: bool) -> list[list[str]]:
        pages: list[list[str]] = []
        cursor = None
        while True:
            entries, cursor = await world.queries.queue(
                "pending", cursor, 2, oldest_first=oldest_first
            )
            pages.append([entry.comment.id for entry in entries])
            if cursor is None:
                return pages

    assert await walk(oldest_first=True) == [held[:2], held[2:]]
    assert await walk(oldest_first=False) == [held[:0:-1], held[:1]]
    assert await world.queries.status_count("pending") == 3
    assert await world.queries.status_count("approved") == 0


async def test_an_author_s_comments_are_found_across_articles_by_email_or_address(
    make_world: Any,
) -> None:
    world = make_world(ModerationPolicy(premoderate_first_time=True))
    world.add_article("one")
    world.add_article("two")
    first = await world.post("one", author_email="Ann@Example.com", body="a", client="2001:db8::1")
    await world.service.moderate(ModerateComment(first.comment.id, "approve"), world.moderator)
    second = await world.post("two", author_email="ann@example.com", body="b", client="10.0.0.1")
    third = await world.post("two", author_email="ann@example.com", body="c", client="10.0.0.1")
    await world.post("two", author_email="bob@example.com", body="not ann", client="10.0.0.2")

    page, cursor = await world.queries.by_author("email", "ANN@example.com ", None, 2)
    assert [entry.comment.id for entry in page] == [third.comment.id, second.comment.id]
    assert {entry.article.slug for entry in page if entry.article} == {"two"}
    rest, last = await world.queries.by_author("email", "ann@example.com", cursor, 2)
    assert ([entry.comment.id for entry in rest], last) == ([first.comment.id], None)
    assert rest[0].comment.status == "approved"  # every status, not only the queue's

    by_address, _ = await world.queries.by_author("client", "2001:DB8:0::1", None, 10)
    assert [entry.comment.id for entry in by_address] == [first.comment.id]
    nobody, none = await world.queries.by_author("client", "192.0.2.9", None, 10)
    assert (nobody, none) == ([], None)


# --- the Best order ------------------------------------------------------------------------------


async def vote(world: Any, comment_id: str, times: int) -> None:
    for n in range(times):
        await world.service.vote(VoteForComment("hello", comment_id, f"10.0.0.{n}"))


async def test_best_puts_the_most_voted_threads_first_with_their_replies(world: Any) -> None:
    ids = await build(world)
    await vote(world, ids["C"].comment.id, 3)
    await vote(world, ids["B"].comment.id, 1)
    # A reply's votes do not move its thread: replies stay under their parents, in order.
    await vote(world, ids["A2"].comment.id, 5)
    [page] = await walk(world, "best", 50)
    assert [i.comment.author_name for i in page] == ["C", "B", "B1", "A", "A1", "A1a", "A2"]
    assert [i.comment.votes for i in page] == [3, 1, 0, 0, 0, 0, 5]
    # Ties keep posting order; paging continues inside a thread and across equal votes.
    pages = await walk(world, "best", 2)
    names = [[i.comment.author_name for i in page] for page in pages]
    assert names == [["C", "B"], ["B1", "A"], ["A1", "A1a"], ["A2"]]
    assert pages[1][0].in_reply_to == "B"  # its parent is on the page before


async def test_best_pages_skip_nothing_and_repeat_nothing_over_many_ties(world: Any) -> None:
    world.add_article("hello")
    posted = [await world.post("hello", body=f"c{n}", client="c") for n in range(12)]
    for n, p in enumerate(posted):
        await vote(world, p.comment.id, n % 3)
    for limit in (1, 4, 5, 50):
        seen = [i.comment.id for page in await walk(world, "best", limit) for i in page]
        assert len(seen) == len(set(seen)) == 12
        votes = [(await world.comments.get(cid)).votes for cid in seen]
        assert votes == sorted(votes, reverse=True)


async def test_best_reads_no_replies_of_threads_without_any(world: Any) -> None:
    world.add_article("hello")
    for n in range(5):
        await world.post("hello", body=f"c{n}", client="c")
    world.comments.windows_read = 0
    await world.queries.thread("hello", sort="best", cursor=None, limit=50)
    assert world.comments.windows_read == 0


async def test_every_cursor_is_a_position_in_every_order(world: Any) -> None:
    ids = await build(world)
    await vote(world, ids["B"].comment.id, 2)
    best = await world.queries.thread("hello", sort="best", cursor=None, limit=1)
    assert best.next_cursor is not None
    assert best.next_cursor.startswith("b.")
    # A Best cursor in a path order continues after its comment (B, then B1).
    oldest = await world.queries.thread("hello", sort="oldest", cursor=best.next_cursor, limit=1)
    assert [i.comment.author_name for i in oldest.items] == ["B1"]
    # A path cursor, or a comment's id, in the Best order continues after that comment.
    after_b = encode_thread_cursor(ids["B"].comment.path, ids["B"].comment.id)
    by_path = await world.queries.thread("hello", sort="best", cursor=after_b, limit=1)
    assert [i.comment.author_name for i in by_path.items] == ["B1"]
    by_id = await world.queries.thread(
        "hello", sort="best", cursor=f"c.{ids['B'].comment.id}", limit=2
    )
    assert [i.comment.author_name for i in by_id.items] == ["B1", "A"]
