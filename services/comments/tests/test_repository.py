"""Thread pages on the real database: outlines, planned windows and the index ranges."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from broadsheet_comments.domain import Comment
from broadsheet_comments.queries import CommentQueries
from broadsheet_comments.repository import (
    ARTICLES,
    COMMENTS,
    INDEXES,
    OUTLINES,
    MongoArticleRepository,
    MongoCommentRepository,
    _comment_doc,
    outline_docs,
)
from broadsheet_comments.threads import Sort, child_path, root_path
from broadsheet_shared.mongo import ensure_indexes

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
        root = comment(n * 100, root_path(n + 1), status=status)
        hidden = root.reply_hidden_by
        reply = comment(n * 100 + 1, child_path(root.path, 1), root, hidden_by=hidden)
        deeper = comment(n * 100 + 2, child_path(reply.path, 1), reply, hidden_by=hidden)
        docs += [root, reply, deeper]
        if n % 5 == 0:
            for k in range(12):
                path = child_path(root.path, k + 2)
                docs.append(comment(n * 100 + 10 + k, path, root, hidden_by=hidden))
    return docs, 40


async def walk(db: Any, sort: Sort) -> list[Comment]:
    queries = CommentQueries(
        articles=MongoArticleRepository(db), comments=MongoCommentRepository(db)
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


async def test_concurrent_first_replies_each_get_their_own_number(db: Any) -> None:
    """Replicas answering the first replies to a comment at once race to create its counter."""
    comments = MongoCommentRepository(db)
    for parent in range(5):
        numbers = await asyncio.gather(
            *(comments.next_child_seq(f"parent-{parent}") for _ in range(8))
        )
        assert sorted(numbers) == list(range(1, 9))
