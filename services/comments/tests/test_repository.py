"""The thread page query and the root_seq backfill, on the real database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from broadsheet_comments.domain import Comment, Sort
from broadsheet_comments.repository import (
    ARTICLES,
    COMMENTS,
    INDEXES,
    MongoCommentRepository,
    _comment_doc,
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
    """60 roots, every 4th one not public (a gap in the numbering), each with two replies."""
    docs: list[Comment] = []
    seq = 0
    for n in range(60):
        seq += 1
        status = "approved" if n % 4 else "pending"
        root = replace(comment(n * 10, status=status), root_seq=seq)
        reply = replace(comment(n * 10 + 1, root), root_seq=seq)
        docs += [root, reply, replace(comment(n * 10 + 2, reply), root_seq=seq)]
    return docs, seq


async def walk(repo: MongoCommentRepository, sort: Sort, last_seq: int) -> list[list[Comment]]:
    pages, after = [], None
    while True:
        roots, replies = await repo.thread_page("a1", sort, after, 8, last_seq)
        assert {r.root_id for r in replies} <= {r.id for r in roots}
        assert len(replies) == 2 * len(roots)
        pages.append(roots[:7])
        if len(roots) <= 7:
            return pages
        after = roots[6].root_seq


@pytest.mark.asyncio(loop_scope="session")
async def test_thread_pages_walk_every_public_root_once_in_order(db: Any) -> None:
    docs, last_seq = seeded()
    await db[COMMENTS].insert_many([_comment_doc(c) for c in docs])
    repo = MongoCommentRepository(db)
    public = [c.id for c in docs if c.parent_id is None and c.status == "approved"]
    for sort, expected in (("oldest", public), ("newest", public[::-1])):
        pages = await walk(repo, sort, last_seq)  # type: ignore[arg-type]
        assert [c.id for page in pages for c in page] == expected
    # Numbers handed out after the page's article was read are not shown yet.
    roots, _ = await repo.thread_page("a1", "oldest", None, 100, 10)
    assert [c.root_seq for c in roots] == [2, 3, 4, 6, 7, 8, 10]


@pytest.mark.asyncio(loop_scope="session")
async def test_backfill_numbers_old_comments_after_the_articles_counter(db: Any) -> None:
    docs, _ = seeded()
    await db[ARTICLES].insert_one({"_id": "a1", "root_seq": 5})
    await db[COMMENTS].insert_many([_comment_doc(replace(c, root_seq=None)) for c in docs])
    repo = MongoCommentRepository(db)
    await repo.backfill_root_seqs()
    await repo.backfill_root_seqs()  # once only
    article = await db[ARTICLES].find_one({"_id": "a1"})
    assert article["root_seq"] == 65
    stored = {doc["_id"]: doc async for doc in db[COMMENTS].find({})}
    roots = [c for c in docs if c.parent_id is None]
    assert [stored[c.id]["root_seq"] for c in roots] == list(range(6, 66))
    for c in docs:
        assert stored[c.id]["root_seq"] == stored[c.root_id]["root_seq"]
