"""A reader's comments: exported only on a valid grant for their digest, erased to "[deleted]"
in place when ``reader.erased`` arrives (replies keep their place), once however often the
event is delivered."""

from datetime import UTC, datetime
from typing import Any

import pytest

from broadsheet_comments.commands import VoteForComment
from broadsheet_comments.mydata import ERASED
from broadsheet_shared.errors import Forbidden
from broadsheet_shared.events import CommentEditedV1, ReaderErasedData, ReaderErasedV1
from broadsheet_shared.grants import DataGrants
from broadsheet_shared.testing import DEV_DIGEST, tampered

pytestmark = pytest.mark.unit
ADA = "ada@example.org"


def erasure(email: str = ADA) -> ReaderErasedV1:
    digest = DEV_DIGEST(email)
    return ReaderErasedV1(
        subject=digest,
        data=ReaderErasedData(address_digest=digest, erased_at=datetime(2026, 1, 1, tzinfo=UTC)),
    )


async def thread(world: Any) -> dict[str, str]:
    """Ada's comment with Bob's reply and Ada's answer to it, and Bob's own comment."""
    world.add_article("hello")
    ada = await world.post("hello", author_name="Ada", author_email=ADA, body="First!")
    bob = await world.post(
        "hello",
        author_name="Bob",
        author_email="bob@example.org",
        body="Reply to Ada",
        parent_id=ada.comment.id,
    )
    again = await world.post(
        "hello",
        author_name="Ada",
        author_email="Ada@Example.org",
        body="Thanks Bob",
        parent_id=bob.comment.id,
        client="198.51.100.7",
        notify_replies=True,
    )
    other = await world.post("hello", author_name="Bob", author_email="bob@example.org")
    return {
        "ada": ada.comment.id,
        "bob": bob.comment.id,
        "again": again.comment.id,
        "other": other.comment.id,
    }


async def test_the_export_holds_the_grants_address_comments_and_nothing_else(
    world: Any,
) -> None:
    ids = await thread(world)
    export = await world.reader_data.export(world.grants.issue(DEV_DIGEST(ADA)))
    assert [c["id"] for c in export] == [ids["ada"], ids["again"]]
    assert [c["body"] for c in export] == ["First!", "Thanks Bob"]
    assert {c["author_email"] for c in export} == {ADA}
    assert export[1]["client"] == "198.51.100.7"
    assert export[0]["article_title"] == "Title of hello"
    assert "bob@example.org" not in str(export)


async def test_a_forged_expired_or_foreign_grant_is_refused(world: Any) -> None:
    await thread(world)
    grant = world.grants.issue(DEV_DIGEST(ADA))
    for bad in (
        tampered(grant),
        DataGrants("another-key").issue(DEV_DIGEST(ADA)),
        "",
    ):
        with pytest.raises(Forbidden):
            await world.reader_data.export(bad)
    expired = DataGrants("test-grant-key", max_age_seconds=-1)
    with pytest.raises(Forbidden):
        await type(world.reader_data)(world.articles, world.comments, world.uow, expired).export(
            grant
        )


async def test_erasure_leaves_deleted_in_place_and_tells_the_pages(world: Any) -> None:
    ids = await thread(world)
    await world.router.dispatch(erasure())
    for key in ("ada", "again"):
        c = world.comments.rows[ids[key]]
        assert (c.author_name, c.body_markdown, c.author_email, c.author_email_hash) == (
            ERASED,
            ERASED,
            None,
            None,
        )
        assert (c.client, c.notify_replies, c.status) == ("", False, "approved")
        assert ERASED in c.body_html
    # Bob's reply keeps its place under the erased comment, and says whom it answers no more.
    reply = world.comments.rows[ids["bob"]]
    assert (reply.parent_id, reply.author_name, reply.body_markdown) == (
        ids["ada"],
        "Bob",
        "Reply to Ada",
    )
    assert reply.parent_author_name == ERASED
    assert world.comments.rows[ids["again"]].parent_id == ids["bob"]
    assert world.comments.rows[ids["again"]].parent_author_name == "Bob"
    edited = [e for e in world.uow.of_type(CommentEditedV1)]
    assert sorted(e.data.comment_id for e in edited) == sorted([ids["ada"], ids["again"]])
    assert all(ERASED in e.data.body_html and e.data.article_slug == "hello" for e in edited)
    assert await world.reader_data.export(world.grants.issue(DEV_DIGEST(ADA))) == []


async def test_a_replayed_erasure_changes_and_announces_nothing(world: Any) -> None:
    ids = await thread(world)
    await world.router.dispatch(erasure())
    before = dict(world.comments.rows)
    announced = len(world.uow.of_type(CommentEditedV1))
    await world.router.dispatch(erasure())
    assert world.comments.rows == before
    assert len(world.uow.of_type(CommentEditedV1)) == announced
    assert world.comments.rows[ids["other"]].author_name == "Bob"


async def test_erasure_forgets_the_votes_given_with_the_address_and_keeps_the_count(
    world: Any,
) -> None:
    ids = await thread(world)

    async def vote(client: str, email: str) -> None:
        await world.service.vote(
            VoteForComment("hello", ids["other"], client, voter=None, email=email)
        )

    await vote("198.51.100.7", "Ada@Example.org")
    await vote("198.51.100.8", "bob@example.org")
    before = set(world.comments.votes[ids["other"]])
    await world.router.dispatch(erasure())
    left = world.comments.votes[ids["other"]]
    assert len(before) == 4  # each reader's client and mailbox
    assert len(left) == 2  # Bob's
    assert left < before
    assert world.comments.rows[ids["other"]].votes == 2
