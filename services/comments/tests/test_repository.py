"""The thread page query and the sort-path backfill, on the real database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from broadsheet_comments.domain import Comment, Sort, child_path, placed, root_path
from broadsheet_comments.repository import (
    ARTICLES,
    COMMENTS,
    INDEXES,
    OUTLINES,
    MongoCommentRepository,
    _comment_doc,
    outline_docs,
    outline_id,
)
from broadsheet_shared.mongo import ensure_indexes

pytestmark = pytest.mark.integration

START = datetime(2025, 1, 1, tzinfo=UTC)


def comment(n: int, parent: Comment | None = None, status: Any = "approved") -> Comment:
    cid = f"{n:08x}{secrets.token_hex(8)}"
    return Comment(
        id=cid,
        article_id="a1",
        parent_id=parent.id if parent else None,
        root_id=parent.root_id if parent else cid,
        depth=parent.depth + 1 if parent else 0,
        author_name=f"Reader {n}",
        author_email=None,
        author_email_hash=None,
        body_markdown="x",
        body_html="<p>x</p>",
        body_hash=f"h{n}",
        status=status,
        created_at=START + timedelta(seconds=n),
        client="10.0.0.1",
    )


@pytest_asyncio.fixture(loop_scope="session")
async def db(infra: Any) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    database = client[f"t{secrets.token_hex(4)}_comments_repo"]
    await ensure_indexes(database, INDEXES)
    yield database
    await client.drop_database(database.name)
    await client.close()


def seeded() -> tuple[list[Comment], int]:
    """40 roots, every 4th one pending (its replies hidden with it), each with a reply that
    has a reply, and every 5th root with 12 more replies (threads longer than a page)."""
    docs: list[Comment] = []
    for n in range(40):
        status = "approved" if n % 4 else "pending"
        root = placed(comment(n * 100, status=status), root_path(n + 1), 0)
        hidden = 1 if status == "pending" else 0
        reply = placed(comment(n * 100 + 1, root), child_path(root.path or "", 1), hidden)
        deeper = placed(comment(n * 100 + 2, reply), child_path(reply.path or "", 1), hidden)
        docs += [root, reply, deeper]
        if n % 5 == 0:
            for k in range(12):
                more = comment(n * 100 + 10 + k, root)
                docs.append(placed(more, child_path(root.path or "", k + 2), hidden))
    return docs, 40


async def walk(repo: MongoCommentRepository, sort: Sort, last_seq: int) -> list[Comment]:
    shown: list[Comment] = []
    after = None
    while True:
        found = await repo.thread_page("a1", sort, after, 8, last_seq)
        assert len(found) <= 8
        shown += found[:7]
        if len(found) <= 7:
            return shown
        last = found[6]
        after = last.path if sort == "oldest" else last.path_newest


@pytest.mark.parametrize("with_outlines", [True, False])
@pytest.mark.asyncio(loop_scope="session")
async def test_thread_pages_walk_every_public_comment_once_in_thread_order(
    db: Any, with_outlines: bool
) -> None:
    docs, last_seq = seeded()
    await db[COMMENTS].insert_many([_comment_doc(c) for c in docs])
    if with_outlines:
        await db[OUTLINES].insert_many(outline_docs(docs))
    # Without outlines (lost, or not written yet) windows are planned too small: still right.
    repo = MongoCommentRepository(db)
    public = [c for c in docs if c.is_public]
    oldest = sorted(public, key=lambda c: c.path or "")
    newest = sorted(public, key=lambda c: c.path_newest or "")
    assert [c.id for c in await walk(repo, "oldest", last_seq)] == [c.id for c in oldest]
    assert [c.id for c in await walk(repo, "newest", last_seq)] == [c.id for c in newest]


@pytest.mark.asyncio(loop_scope="session")
async def test_backfill_gives_old_comments_paths_and_exact_counts(db: Any) -> None:
    docs, _ = seeded()
    old = [replace(c, root_seq=None, path=None, path_newest=None, hidden_by=0) for c in docs]
    await db[ARTICLES].insert_one({"_id": "a1", "root_seq": 5, "comment_count": len(docs)})
    await db[COMMENTS].insert_many([_comment_doc(c) for c in old])
    repo = MongoCommentRepository(db)
    await repo.backfill_paths()
    await repo.backfill_paths()  # once only
    stored = {doc["_id"]: doc async for doc in db[COMMENTS].find({})}
    by_id = {c.id: c for c in docs}
    for c in docs:
        doc = stored[c.id]
        assert doc["path"].startswith(stored[c.root_id]["path"])
        if c.parent_id:
            assert doc["path"][:-5] == stored[c.parent_id]["path"]
        assert doc["hidden_by"] == by_id[c.id].hidden_by
    # Thread order is posting order per parent, roots numbered after the article's counter.
    roots = sorted((c for c in docs if c.parent_id is None), key=lambda c: stored[c.id]["path"])
    assert [c.id for c in roots] == [c.id for c in docs if c.parent_id is None]
    assert stored[roots[0].id]["path"] == root_path(6)
    article = await db[ARTICLES].find_one({"_id": "a1"})
    assert article["comment_count"] == sum(1 for c in docs if c.is_public)
    seq = stored[roots[0].id]["root_seq"]
    outline = await db[OUTLINES].find_one({"_id": outline_id("a1", seq)})
    replies = [c for c in docs if c.root_id == roots[0].id and c.parent_id]
    expected = sorted(stored[c.id]["path"][7:] for c in replies)
    assert sorted(outline["roots"][str(seq)]) == expected
