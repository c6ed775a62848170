"""Thread pages on the real database: outlines, planned windows and the index ranges."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from broadsheet_comments.domain import Comment
from broadsheet_comments.queries import CommentQueries
from broadsheet_comments.repository import (
    ARTICLES,
    COMMENTS,
    COUNT_SHARDS,
    INDEXES,
    OUTLINES,
    MongoArticleRepository,
    MongoCommentRepository,
    _comment_doc,
    outline_docs,
)
from broadsheet_comments.threads import ThreadSort, child_path, root_path
from broadsheet_shared.mongo import ensure_indexes, run_in_transaction
from broadsheet_shared.testing import DEV_DIGEST

from .conftest import new_article

pytestmark = pytest.mark.integration

START = datetime(2025, 1, 1, tzinfo=UTC)


@pytest_asyncio.fixture(loop_scope="session")
async def db(infra: Any) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    database = client[f"t{secrets.token_hex(4)}_comments_repo"]
    await ensure_indexes(database, INDEXES)
    yield database
    await client.drop_database(database.name)
    await client.close()


def seeded(make_comment: Callable[..., Comment]) -> tuple[list[Comment], int]:
    """40 roots, every 4th one pending (its replies hidden with it), each with a reply that
    has a reply, and every 5th root with 12 more replies (threads longer than a page)."""

    def comment(
        n: int,
        path: str,
        parent: Comment | None = None,
        status: Any = "approved",
        hidden_by: int = 0,
    ) -> Comment:
        return make_comment(
            f"{n:08x}{secrets.token_hex(8)}",
            parent,
            author_name=f"Reader {n}",
            body_hash=f"h{n}",
            status=status,
            created_at=START + timedelta(seconds=n),
            path=path,
            hidden_by=hidden_by,
        )

    docs: list[Comment] = []
    for n in range(40):
        status = "approved" if n % 4 else "pending"
        # Votes for the Best order: many ties, and the order of votes unlike that of posting.
        root = replace(comment(n * 100, root_path(n + 1), status=status), votes=(n * 7) % 5)
        hidden = root.reply_hidden_by
        reply = comment(n * 100 + 1, child_path(root.path, 1), root, hidden_by=hidden)
        deeper = comment(n * 100 + 2, child_path(reply.path, 1), reply, hidden_by=hidden)
        docs += [root, reply, deeper]
        if n % 5 == 0:
            for k in range(12):
                path = child_path(root.path, k + 2)
                docs.append(comment(n * 100 + 10 + k, path, root, hidden_by=hidden))
    # As posting keeps it: each comment's count of approved replies (Best reads the replies of
    # a top-level comment only when it has some).
    approved = Counter(c.parent_id for c in docs if c.status == "approved" and c.parent_id)
    return [replace(c, reply_count=approved[c.id]) for c in docs], 40


async def walk(db: Any, sort: ThreadSort) -> list[Comment]:
    queries = CommentQueries(
        articles=MongoArticleRepository(db), comments=MongoCommentRepository(db), digest=DEV_DIGEST
    )
    shown: list[Comment] = []
    cursor = None
    while True:
        page = await queries.thread("story", sort=sort, cursor=cursor, limit=7)
        assert len(page.items) <= 7
        shown += [item.comment for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return shown


@pytest.mark.parametrize("with_outlines", [True, False])
@pytest.mark.asyncio(loop_scope="session")
async def test_thread_pages_walk_every_public_comment_once_in_thread_order(
    db: Any, with_outlines: bool, make_comment: Callable[..., Comment]
) -> None:
    docs, last_seq = seeded(make_comment)
    await db[ARTICLES].delete_many({})
    await db[COMMENTS].delete_many({})
    await db[OUTLINES].delete_many({})
    await db[ARTICLES].insert_one(
        {
            "_id": "a1",
            "slug": "story",
            "title": "Story",
            "url_path": "/articles/story",
            "section_slug": "news",
            "comments_open": True,
            "published": True,
            "revision": 1,
            "root_seq": last_seq,
        }
    )
    await db[COMMENTS].insert_many([_comment_doc(c) for c in docs])
    if with_outlines:
        await db[OUTLINES].insert_many(outline_docs(docs))
    # Without outlines (lost, or not written yet) windows are planned too small: still right.
    public = [c for c in docs if c.is_public]
    oldest = sorted(public, key=lambda c: c.path)
    newest = sorted(public, key=lambda c: c.path_newest)
    assert [c.id for c in await walk(db, "oldest")] == [c.id for c in oldest]
    assert [c.id for c in await walk(db, "newest")] == [c.id for c in newest]
    roots = sorted((c for c in public if c.depth == 0), key=lambda c: (-c.votes, c.path))
    best = [
        c.id
        for root in roots
        for c in sorted((c for c in public if c.root_id == root.id), key=lambda c: c.path)
    ]
    assert [c.id for c in await walk(db, "best")] == best


@pytest.mark.asyncio(loop_scope="session")
async def test_forgetting_client_addresses_keeps_the_comment_and_newer_addresses(
    db: Any, make_comment: Callable[..., Comment]
) -> None:
    await db[COMMENTS].delete_many({})
    old = make_comment("old", client="203.0.113.7", created_at=START)
    new = make_comment("new", client="203.0.113.8", created_at=START + timedelta(days=2))
    await db[COMMENTS].insert_many([_comment_doc(old), _comment_doc(new)])
    comments = MongoCommentRepository(db)
    assert await comments.forget_clients_before(START + timedelta(days=1)) == 1
    assert await comments.forget_clients_before(START + timedelta(days=1)) == 0
    kept = await comments.get("old")
    assert kept is not None
    assert (kept.client, kept.body_html) == ("", old.body_html)
    assert "client" not in await db[COMMENTS].find_one({"_id": "old"})
    assert (await comments.get("new")).client == "203.0.113.8"  # type: ignore[union-attr]


@pytest.mark.asyncio(loop_scope="session")
async def test_the_queue_in_either_order_an_author_s_comments_and_a_status_count(
    db: Any, make_comment: Callable[..., Comment]
) -> None:
    await db[COMMENTS].delete_many({})
    rows = [
        make_comment(
            f"{n:024x}",
            status="pending" if n < 3 else "approved",
            author_email_hash="ann" if n % 2 == 0 else "bob",
            client="2001:db8::1" if n == 4 else "198.51.100.1",
            created_at=START + timedelta(seconds=n),
            path=root_path(n + 1),
        )
        for n in range(5)
    ]
    await db[COMMENTS].insert_many([_comment_doc(row) for row in rows])
    comments = MongoCommentRepository(db)
    keys = [row.sort_key for row in rows]

    oldest = await comments.by_status("pending", None, 2, oldest_first=True)
    assert [c.id for c in oldest] == [rows[0].id, rows[1].id]
    rest = await comments.by_status("pending", keys[1], 2, oldest_first=True)
    assert [c.id for c in rest] == [rows[2].id]
    newest = await comments.by_status("pending", None, 2)
    assert [c.id for c in newest] == [rows[2].id, rows[1].id]
    assert await comments.count_status("pending") == 3

    ann = await comments.by_author("email", "ann", None, 2)
    assert [c.id for c in ann] == [rows[4].id, rows[2].id]
    assert [c.id for c in await comments.by_author("email", "ann", keys[2], 2)] == [rows[0].id]
    by_address = await comments.by_author("client", "198.51.100.1", None, 10)
    assert [c.id for c in by_address] == [rows[3].id, rows[2].id, rows[1].id, rows[0].id]


async def test_an_authors_comments_are_found_by_digest_and_their_replies_renamed(
    db: Any, make_comment: Callable[..., Comment]
) -> None:
    await db[COMMENTS].delete_many({})
    first = make_comment("first", author_name="Ada", author_email_hash="d1", created_at=START)
    reply = make_comment("reply", first, author_name="Bob", author_email_hash="d2")
    later = make_comment(
        "later", author_email_hash="d1", created_at=START + timedelta(hours=1), status="pending"
    )
    await db[COMMENTS].insert_many([_comment_doc(c) for c in (later, first, reply)])
    comments = MongoCommentRepository(db)
    assert [c.id for c in await comments.all_by_email_hash("d1", None)] == ["first", "later"]
    await run_in_transaction(
        db.client, lambda session: comments.rename_parent_author(["first"], "[deleted]", session)
    )
    assert (await comments.get("reply")).parent_author_name == "[deleted]"  # type: ignore[union-attr]
    assert (await comments.get("first")).parent_author_name is None  # type: ignore[union-attr]


async def test_votes_count_once_per_voter_and_go_with_their_comment(
    db: Any, make_comment: Callable[..., Comment]
) -> None:
    await db[COMMENTS].delete_many({})
    await db[COMMENTS].insert_one(_comment_doc(make_comment("liked")))
    comments = MongoCommentRepository(db)
    async with db.client.start_session() as session:
        assert not await comments.has_vote("liked", ["client-a", "cookie-a"], session)
        await comments.add_vote("liked", ["client-a", "cookie-a"], START, session)
        assert await comments.has_vote("liked", ["client-b", "cookie-a"], session)
        assert not await comments.has_vote("other", ["client-a"], session)
        await comments.add_vote("liked", ["client-b"], START, session)
        assert (await comments.get("liked")).votes == 2  # type: ignore[union-attr]
        # The comment is saved (an edit): its votes stay, as they move by $inc only.
        await comments.save(make_comment("liked", body_html="<p>edited</p>"), session)
        assert (await comments.get("liked")).votes == 2  # type: ignore[union-attr]
        # An erased reader's vote: its identities go, the count stays.
        await comments.add_vote(
            "liked", ["client-c", "mailbox-c"], START, session, address_digest="c"
        )
        await comments.forget_votes_of("c", session)
        assert not await comments.has_vote("liked", ["client-c", "mailbox-c"], session)
        assert await comments.has_vote("liked", ["client-b"], session)
        assert (await comments.get("liked")).votes == 3  # type: ignore[union-attr]
        await comments.drop_votes("liked", session)
        assert (await comments.get("liked")).votes == 0  # type: ignore[union-attr]
        assert not await comments.has_vote("liked", ["client-a", "client-b"], session)


async def test_concurrent_first_replies_each_get_their_own_number(db: Any) -> None:
    """Replicas answering the first replies to a comment at once race to create its counter."""
    comments = MongoCommentRepository(db)
    for parent in range(5):
        numbers = await asyncio.gather(
            *(comments.next_child_seq(f"parent-{parent}") for _ in range(8))
        )
        # Each its own number (a loser's retry may leave a gap: numbers only order siblings).
        assert len(set(numbers)) == 8
        assert min(numbers) >= 1


async def test_as_many_concurrent_posters_as_count_shards_never_conflict(db: Any) -> None:
    """Each open posting transaction moves its own shard of the public count: none waits for
    another's commit or is aborted by it (a WriteConflict would end this test with an error)."""
    articles = MongoArticleRepository(db)
    article = new_article("busy")
    await run_in_transaction(db.client, lambda session: articles.save(article, session))
    sessions = [db.client.start_session() for _ in range(COUNT_SHARDS)]
    try:
        # A shard another open transaction holds would block this one (or abort it).
        with pymongo.timeout(10):
            for session in sessions:
                await session.start_transaction()
                await articles.add_to_count(article.article_id, 1, session)
            for session in sessions:
                await session.commit_transaction()
    finally:
        for session in sessions:
            await session.end_session()
    assert await articles.counts([article]) == {article.article_id: COUNT_SHARDS}
