"""The import use case (ImportService): history brought over by staff."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from broadsheet_comments.commands import ImportComment, ModerateComment
from broadsheet_comments.domain import ModerationPolicy
from broadsheet_comments.imports import ArticleNotVisible, ImportOutcome
from broadsheet_shared.errors import InvalidRequest
from broadsheet_shared.events import CommentApprovedV1, CommentImportedV1
from broadsheet_shared.http.problems import application_error_response

pytestmark = pytest.mark.unit

SOURCE = "https://old.example"
THEN = datetime(2007, 9, 4, 0, 49, 28, tzinfo=UTC)


def command(wordpress_id: int, **overrides: Any) -> ImportComment:
    fields: dict[str, Any] = {
        "source": SOURCE,
        "wordpress_id": wordpress_id,
        "article_id": "art-hello",
        "parent_id": None,
        "author_name": "Ann <b>",
        "author_email": "Ann@Example.com",
        "body": f"Comment {wordpress_id} <script>x</script> http://spam.example http://a.b",
        "status": "approved",
        "created_at": THEN,
        "fingerprint": "a" * 64,
    }
    fields.update(overrides)
    return ImportComment(**fields)


async def test_an_imported_thread_keeps_dates_depth_counts_and_announces_only_imported(
    make_world: Any,
) -> None:
    # The strictest policy there is: none of it applies to history.
    world = make_world(
        ModerationPolicy(max_links=0, suspect_words=("spam",), premoderate_first_time=True),
        per_client=1,
    )
    world.add_article("hello", comments_open=False)
    parent_id = None
    for depth in range(9):
        done = await world.import_service.import_comment(command(100 + depth, parent_id=parent_id))
        assert done.outcome is ImportOutcome.CREATED
        parent_id = done.comment.id
    stored = await world.comments.get(parent_id)
    assert (stored.depth, stored.created_at, stored.status) == (8, THEN, "approved")
    assert (stored.author_name, stored.author_email, stored.wordpress_id) == (
        "Ann",
        "ann@example.com",
        108,
    )
    assert "<script>" not in stored.body_html
    assert stored.client == "import"
    assert [type(e) for e in world.uow.events] == [CommentImportedV1] * 9
    assert world.uow.events[-1].data.wordpress_id == 108
    assert (await world.queries.count("hello"))[1] == 9
    page = await world.queries.thread("hello", sort="oldest", cursor=None, limit=50)
    assert [item.comment.wordpress_id for item in page.items] == list(range(100, 109))
    first = await world.comments.get(page.items[0].comment.id)
    assert first.reply_count == 1


async def test_an_imported_name_loses_invisible_characters_like_a_new_one(world: Any) -> None:
    world.add_article("hello")
    done = await world.import_service.import_comment(command(300, author_name="E\u200bd\u202ena"))
    assert (await world.comments.get(done.comment.id)).author_name == "Edna"
    only_invisible = await world.import_service.import_comment(
        command(301, author_name="\u200b\u2066", fingerprint="b" * 64)
    )
    assert (await world.comments.get(only_invisible.comment.id)).author_name == "Anonymous"


async def test_the_same_fingerprint_again_changes_nothing_a_new_one_updates(world: Any) -> None:
    world.add_article("hello")
    first = await world.import_service.import_comment(command(7))
    again = await world.import_service.import_comment(command(7))
    assert (again.outcome, again.comment.id) == (ImportOutcome.UNCHANGED, first.comment.id)
    assert len(world.uow.events) == 1
    held = await world.import_service.import_comment(
        command(7, status="pending", fingerprint="b" * 64)
    )
    assert (held.outcome, held.comment.id, held.comment.status) == (
        ImportOutcome.UPDATED,
        first.comment.id,
        "pending",
    )
    assert (await world.queries.count("hello"))[1] == 0
    assert len(world.comments.rows) == 1


async def test_a_pending_import_waits_in_the_queue_and_its_approval_is_ordinary(
    world: Any,
) -> None:
    world.add_article("hello")
    held = await world.import_service.import_comment(command(8, status="pending"))
    queue, _ = await world.queries.queue("pending", None, 10)
    assert [entry.comment.id for entry in queue] == [held.comment.id]
    await world.service.moderate(ModerateComment(held.comment.id, "approve"), world.moderator)
    assert len(world.uow.of_type(CommentApprovedV1)) == 1


async def test_an_article_the_projection_lacks_is_a_404_of_its_own_type(world: Any) -> None:
    with pytest.raises(ArticleNotVisible) as caught:
        await world.import_service.import_comment(command(9))
    response = application_error_response(caught.value, "/x")
    assert response.status_code == 404
    assert b'"type":"/problems/article-not-visible"' in response.body
    world.add_article("draft", article_id="art-hello", published=False)
    with pytest.raises(ArticleNotVisible):
        await world.import_service.import_comment(command(9))


async def test_a_parent_must_be_a_comment_of_the_same_article(world: Any) -> None:
    world.add_article("hello")
    world.add_article("other")
    elsewhere = await world.import_service.import_comment(command(1, article_id="art-other"))
    for parent in (elsewhere.comment.id, "nope"):
        with pytest.raises(InvalidRequest):
            await world.import_service.import_comment(command(2, parent_id=parent))
