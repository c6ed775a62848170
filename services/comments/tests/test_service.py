from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from broadsheet_comments.commands import (
    BanAuthor,
    DeleteComment,
    EditComment,
    LiftBan,
    ModerateComment,
    ModerateComments,
    VoteForComment,
)
from broadsheet_comments.domain import ModerationPolicy
from broadsheet_shared.errors import ApplicationError, Conflict, NotFound, RateLimited
from broadsheet_shared.events import (
    CommentApprovedV1,
    CommentDeletedV1,
    CommentEditedV1,
    CommentPostedV1,
    CommentRejectedV1,
    StaffActionRecordedV1,
)
from broadsheet_shared.http.problems import status_of

pytestmark = pytest.mark.unit


async def test_an_approved_comment_emits_posted_and_approved(world: Any) -> None:
    world.add_article("hello")
    posted = await world.post("hello", client="1.2.3.4")
    assert posted.comment.status == "approved"
    [event] = world.uow.of_type(CommentPostedV1)
    assert event.data.status == "approved"
    assert event.data.author_email is None
    [approved] = world.uow.of_type(CommentApprovedV1)
    assert approved.data.article_title == "Title of hello"
    assert approved.data.article_url_path == "/articles/hello"
    assert approved.data.body_html == "<p>A fine article.</p>"
    assert approved.article_key() == "art-hello"
    assert (await world.queries.count("hello"))[1] == 1


async def test_email_travels_only_with_notify_replies(world: Any) -> None:
    world.add_article("hello")
    await world.post("hello", author_email="a@example.com", client="c")
    await world.post(
        "hello", author_email="b@example.com", notify_replies=True, body="x", client="c"
    )
    first, second = world.uow.of_type(CommentPostedV1)
    assert first.data.author_email is None
    assert first.data.author_email_hash is not None
    assert second.data.author_email == "b@example.com"
    for event in world.uow.of_type(CommentApprovedV1):
        assert "@" not in event.model_dump_json()


async def test_a_held_comment_is_not_public_until_approved_once(make_world: Any) -> None:
    world = make_world(ModerationPolicy(premoderate_first_time=True))
    world.add_article("hello")
    posted = await world.post("hello", author_email="n@example.com", client="c")
    assert posted.public_status == "pending"
    assert world.uow.of_type(CommentApprovedV1) == []
    page = await world.queries.thread("hello", sort="oldest", cursor=None, limit=50)
    assert page.items == []
    await world.service.moderate(ModerateComment(posted.comment.id, "approve"), world.moderator)
    await world.service.moderate(ModerateComment(posted.comment.id, "approve"), world.moderator)
    assert len(world.uow.of_type(CommentApprovedV1)) == 1
    assert (await world.queries.count("hello"))[1] == 1
    # Now known, the same address is no longer held.
    again = await world.post("hello", author_email="n@example.com", body="y", client="c")
    assert again.public_status == "approved"


async def test_reject_and_spam_emit_rejected_and_uncount(world: Any) -> None:
    world.add_article("hello")
    a = await world.post("hello", body="one", client="c")
    b = await world.post("hello", body="two", client="c")
    await world.service.moderate(ModerateComment(a.comment.id, "reject"), world.moderator)
    await world.service.moderate(ModerateComment(b.comment.id, "spam"), world.moderator)
    reasons = [event.data.reason for event in world.uow.of_type(CommentRejectedV1)]
    assert reasons == ["rejected", "spam"]
    assert (await world.queries.count("hello"))[1] == 0


async def test_honeypot_is_accepted_silently_and_never_shown(world: Any) -> None:
    world.add_article("hello")
    posted = await world.post("hello", website="http://spam", client="c")
    assert posted.public_status == "pending"
    assert posted.comment.status == "spam"
    assert world.uow.of_type(CommentApprovedV1) == []
    assert (await world.queries.thread("hello", sort="oldest", cursor=None, limit=5)).items == []


async def test_banned_word_is_422(make_world: Any) -> None:
    world = make_world(ModerationPolicy(banned_words=("darn",)))
    world.add_article("hello")
    with pytest.raises(ApplicationError) as caught:
        await world.post("hello", body="Darn it", client="c")
    assert status_of(caught.value) == 422


async def test_duplicates_are_held(world: Any) -> None:
    world.add_article("hello")
    await world.post("hello", body="Same  text", client="c")
    second = await world.post("hello", body="same text", client="d")
    assert second.comment.status == "pending"
    assert "duplicate" in second.comment.moderation_reasons


@pytest.mark.parametrize(
    ("changes", "status"),
    [({"published": False}, 404), ({"comments_open": False}, 409)],
)
async def test_closed_or_unpublished_articles_refuse(
    world: Any, changes: dict[str, Any], status: int
) -> None:
    world.add_article("hello", **changes)
    with pytest.raises(ApplicationError) as caught:
        await world.post("hello", client="c")
    assert status_of(caught.value) == status


async def test_unknown_article_is_404(world: Any) -> None:
    with pytest.raises(ApplicationError) as caught:
        await world.post("nope", client="c")
    assert status_of(caught.value) == 404


async def test_rate_limit_per_client(make_world: Any) -> None:
    world = make_world(per_client=2)
    world.add_article("hello")
    for n in range(2):
        await world.post("hello", body=f"b{n}", client="c")
    with pytest.raises(ApplicationError) as caught:
        await world.post("hello", body="b3", client="c")
    assert status_of(caught.value) == 429
    assert isinstance(caught.value, RateLimited)
    assert caught.value.retry_after == 60


async def test_banned_email_and_client(world: Any) -> None:
    world.add_article("hello")
    await world.service.ban(
        BanAuthor("email", "Bad@Example.com", timedelta(hours=1), "spam", "u1"), world.moderator
    )
    with pytest.raises(ApplicationError) as caught:
        await world.post("hello", author_email="bad@example.com", client="c")
    assert status_of(caught.value) == 403
    await world.service.ban(
        BanAuthor("client", "9.9.9.9", timedelta(hours=1), "", "u1"), world.moderator
    )
    with pytest.raises(ApplicationError):
        await world.post("hello", client="9.9.9.9")
    world.clock.advance(timedelta(hours=2))
    await world.post("hello", client="9.9.9.9")


async def test_plus_addressing_is_one_mailbox_for_bans_and_limits(make_world: Any) -> None:
    world = make_world()  # five comments a minute per address
    world.add_article("hello")
    for n in range(5):
        await world.post("hello", body=f"b{n}", author_email=f"ann+{n}@example.com", client=f"c{n}")
    with pytest.raises(RateLimited):
        await world.post("hello", body="b5", author_email="Ann+5@example.com", client="c5")
    await world.service.ban(
        BanAuthor("email", "bad+x@example.com", timedelta(hours=1), "", "u1"), world.moderator
    )
    for address in ("bad@example.com", "bad+y@example.com"):
        with pytest.raises(ApplicationError) as caught:
            await world.post("hello", author_email=address, client="c4")
        assert status_of(caught.value) == 403


async def test_an_ipv6_client_is_its_64_for_bans_and_limits(make_world: Any) -> None:
    world = make_world(per_client=2)
    world.add_article("hello")
    await world.post("hello", body="b1", client="2001:db8:1:2::1")
    await world.post("hello", body="b2", client="2001:db8:1:2:ffff::9")
    with pytest.raises(RateLimited):
        await world.post("hello", body="b3", client="2001:db8:1:2::abcd")
    await world.post("hello", body="b4", client="2001:db8:1:3::1")  # the next /64: another client
    await world.service.ban(
        BanAuthor("client", "2001:db8:9:9::1", timedelta(hours=1), "", "u1"), world.moderator
    )
    with pytest.raises(ApplicationError) as caught:
        await world.post("hello", body="b5", client="2001:db8:9:9:1::2")
    assert status_of(caught.value) == 403


async def test_idempotency_key_replays_the_first_answer(world: Any) -> None:
    world.add_article("hello")
    first = await world.post("hello", client="c", idempotency_key="k1")
    second = await world.post("hello", client="c", idempotency_key="k1")
    assert second.comment.id == first.comment.id
    assert len(world.comments.rows) == 1
    assert len(world.uow.of_type(CommentPostedV1)) == 1
    with pytest.raises(ApplicationError) as caught:
        await world.post("hello", body="other", client="c", idempotency_key="k1")
    assert status_of(caught.value) == 422


async def test_replies_nest_and_count(world: Any) -> None:
    world.add_article("hello")
    root = (await world.post("hello", author_name="Root", client="c")).comment
    parent = root
    for level in range(1, 7):
        parent = (
            await world.post(
                "hello",
                body=f"level {level}",
                parent_id=parent.id,
                author_name=f"L{level}",
                client="c",
            )
        ).comment
    page = await world.queries.thread("hello", sort="oldest", cursor=None, limit=50)
    assert [i.comment.display_depth for i in page.items] == [0, 1, 2, 3, 4, 4, 4]
    assert page.items[5].in_reply_to == "L4"
    assert page.items[0].comment.reply_count == 1
    approved = world.uow.of_type(CommentApprovedV1)[-1]
    assert approved.data.parent_author_name == "L5"
    assert approved.data.depth == 4


async def test_reply_to_another_articles_comment_is_422(world: Any) -> None:
    world.add_article("one")
    world.add_article("two")
    other = await world.post("one", client="c")
    with pytest.raises(ApplicationError) as caught:
        await world.post("two", parent_id=other.comment.id, client="c")
    assert status_of(caught.value) == 422
    # The problem document clients have always seen: a detail plus a field-shaped error.
    assert caught.value.detail == "parent_id does not name a comment of this article."
    assert caught.value.extensions == {
        "errors": [{"loc": ["body", "parent_id"], "msg": "unknown comment", "type": "value"}]
    }


async def test_edit_and_delete_with_the_token_within_15_minutes(world: Any) -> None:
    world.add_article("hello")
    posted = await world.post("hello", client="c")
    edited = await world.service.edit(
        EditComment("hello", posted.comment.id, posted.edit_token, "*new*")
    )
    assert edited.body_html == "<p><em>new</em></p>"
    assert edited.edited_at is not None
    [event] = world.uow.of_type(CommentEditedV1)
    assert event.data.article_slug == "hello"  # live pages are open by slug
    with pytest.raises(ApplicationError) as caught:
        await world.service.edit(EditComment("hello", posted.comment.id, "forged", "x"))
    assert status_of(caught.value) == 403
    world.clock.advance(timedelta(minutes=16))
    with pytest.raises(ApplicationError) as caught:
        await world.service.delete_own(DeleteComment("hello", posted.comment.id, posted.edit_token))
    assert status_of(caught.value) == 403


async def test_author_delete_uncounts_and_emits(world: Any) -> None:
    world.add_article("hello")
    posted = await world.post("hello", client="c")
    await world.service.delete_own(DeleteComment("hello", posted.comment.id, posted.edit_token))
    [event] = world.uow.of_type(CommentDeletedV1)
    assert event.data.article_slug == "hello"
    assert (await world.queries.count("hello"))[1] == 0
    with pytest.raises(ApplicationError) as caught:
        await world.service.edit(EditComment("hello", posted.comment.id, posted.edit_token, "x"))
    assert status_of(caught.value) == 409


async def test_an_edit_with_links_goes_back_to_the_queue(world: Any) -> None:
    world.add_article("hello")
    posted = await world.post("hello", client="c")
    reply = await world.post("hello", body="re", parent_id=posted.comment.id, client="c")
    edited = await world.service.edit(
        EditComment("hello", posted.comment.id, posted.edit_token, "http://a http://b http://c")
    )
    assert edited.status == "pending"
    assert edited.moderation_reasons == ("links",)
    assert world.comments.rows[posted.comment.id].status == "pending"
    page = await world.queries.thread("hello", sort="oldest", cursor=None, limit=50)
    assert page.items == []
    assert page.total == 0
    [event] = world.uow.of_type(CommentEditedV1)
    assert event.data.comment_id == posted.comment.id
    assert event.data.body_html == ""  # the held text is not handed out
    await world.service.moderate(ModerateComment(posted.comment.id, "approve"), world.moderator)
    page = await world.queries.thread("hello", sort="oldest", cursor=None, limit=50)
    assert [i.comment.id for i in page.items] == [posted.comment.id, reply.comment.id]
    assert page.total == 2


async def test_an_edit_with_a_banned_word_is_still_422(make_world: Any) -> None:
    world = make_world(ModerationPolicy(banned_words=("darn",)))
    world.add_article("hello")
    posted = await world.post("hello", client="c")
    with pytest.raises(ApplicationError) as caught:
        await world.service.edit(EditComment("hello", posted.comment.id, posted.edit_token, "darn"))
    assert status_of(caught.value) == 422


async def test_a_comment_without_email_is_held_while_premoderation_is_on(make_world: Any) -> None:
    world = make_world(ModerationPolicy(premoderate_first_time=True))
    world.add_article("hello")
    posted = await world.post("hello", client="c")
    assert posted.comment.status == "pending"
    assert posted.comment.moderation_reasons == ("first_time",)


# -- the audit log -------------------------------------------------------------------------------


def audited(world: Any) -> list[tuple[str, str, str | None, str]]:
    return [
        (e.data.action, e.data.target, e.data.actor_id, e.data.client)
        for e in world.uow.of_type(StaffActionRecordedV1)
    ]


async def test_each_moderation_decision_is_recorded_with_who_and_from_where(
    make_world: Any,
) -> None:
    world = make_world(ModerationPolicy(premoderate_first_time=True))
    world.add_article("hello")
    ids = [
        (await world.post("hello", author_email=f"{n}@example.com", body=n)).comment.id
        for n in ("a", "b", "c")
    ]
    for comment_id, action in zip(ids, ("approve", "reject", "spam"), strict=True):
        await world.service.moderate(ModerateComment(comment_id, action), world.moderator)
    await world.service.moderate(ModerateComment(ids[0], "delete"), world.moderator)
    here = ("m1", "203.0.113.9")
    assert audited(world) == [
        ("comment.approved", ids[0], *here),
        ("comment.rejected", ids[1], *here),
        ("comment.marked_spam", ids[2], *here),
        ("comment.deleted", ids[0], *here),
    ]
    first = world.uow.of_type(StaffActionRecordedV1)[0]
    assert (first.source, first.subject, first.data.details) == (
        "comments",
        "m1",
        {"article_id": "art-hello"},
    )


async def test_a_refused_or_idle_moderation_and_an_authors_own_deletion_record_nothing(
    world: Any,
) -> None:
    world.add_article("hello")
    posted = await world.post("hello")
    await world.service.moderate(ModerateComment(posted.comment.id, "approve"), world.moderator)
    await world.service.delete_own(DeleteComment("hello", posted.comment.id, posted.edit_token))
    with pytest.raises(Conflict):
        await world.service.moderate(ModerateComment(posted.comment.id, "approve"), world.moderator)
    with pytest.raises(NotFound):
        await world.service.moderate(ModerateComment("f" * 24, "reject"), world.moderator)
    assert audited(world) == []


async def test_bans_created_and_lifted_are_recorded(world: Any) -> None:
    ban = await world.service.ban(
        BanAuthor("client", "9.9.9.9", timedelta(hours=1), "flood", "m1"), world.moderator
    )
    await world.service.lift_ban(LiftBan(ban.id), world.moderator)
    with pytest.raises(NotFound):
        await world.service.lift_ban(LiftBan(ban.id), world.moderator)
    assert audited(world) == [
        ("ban.created", "client:9.9.9.9", "m1", "203.0.113.9"),
        ("ban.lifted", "client:9.9.9.9", "m1", "203.0.113.9"),
    ]
    created = world.uow.of_type(StaffActionRecordedV1)[0]
    assert created.data.details == {"until": ban.until.isoformat(), "reason": "flood"}


async def test_several_comments_are_moderated_at_once_each_answered_on_its_own(
    make_world: Any,
) -> None:
    world = make_world(ModerationPolicy(premoderate_first_time=True))
    world.add_article("hello")
    held = [
        (await world.post("hello", author_email=f"{n}@example.com", body=n)).comment.id
        for n in ("a", "b", "c")
    ]
    # One of them was already rejected by someone else: approving it now is refused.
    await world.service.moderate(ModerateComment(held[2], "reject"), world.moderator)
    missing = "0" * 24
    outcomes = await world.service.moderate_many(
        ModerateComments((held[0], held[1], held[0], held[2], missing), "spam"), world.moderator
    )
    assert [(o.comment_id, o.comment.status if o.comment else None) for o in outcomes] == [
        (held[0], "spam"),
        (held[1], "spam"),
        (held[2], "spam"),
        (missing, None),
    ]
    assert outcomes[3].refused == "There is no such comment."
    approved = await world.service.moderate_many(
        ModerateComments((held[0], held[1]), "approve"), world.moderator
    )
    assert [o.comment.status for o in approved if o.comment] == ["approved", "approved"]
    deleted = await world.service.moderate_many(
        ModerateComments((held[0],), "delete"), world.moderator
    )
    assert deleted[0].comment is not None
    assert deleted[0].comment.status == "deleted"
    refused = await world.service.moderate_many(
        ModerateComments((held[0],), "approve"), world.moderator
    )
    assert refused[0].comment is None
    assert refused[0].refused


# --- votes -------------------------------------------------------------------------------------


async def test_one_vote_per_reader_by_client_cookie_and_mailbox(world: Any) -> None:
    world.add_article("hello")
    comment = (await world.post("hello", client="c")).comment

    async def vote(client: str, voter: str | None = None, email: str | None = None) -> Any:
        return await world.service.vote(
            VoteForComment("hello", comment.id, client, voter=voter, email=email)
        )

    first = await vote("2001:db8::1", voter="cookie-aaaaaaaaaaaa", email="ann@example.com")
    assert (first.votes, first.counted) == (1, True)
    # The same reader again: once more, or from another address of the same IPv6 /64 ...
    assert (await vote("2001:db8::1", voter="cookie-aaaaaaaaaaaa")).counted is False
    assert (await vote("2001:db8::ffff")).counted is False
    # ... with the same cookie from elsewhere, or the same mailbox (plus-addressing is one).
    assert (await vote("198.51.100.7", voter="cookie-aaaaaaaaaaaa")).counted is False
    assert (await vote("198.51.100.8", email="Ann+x@example.com")).counted is False
    # Someone else counts.
    other = await vote("198.51.100.9", voter="cookie-bbbbbbbbbbbb", email="bob@example.com")
    assert (other.votes, other.counted) == (2, True)
    assert (await world.comments.get(comment.id)).votes == 2
    # No address is kept in the clear.
    stored = world.comments.votes[comment.id]
    assert not any("198.51" in voter or "example.com" in voter for voter in stored)


async def test_only_public_comments_take_votes_and_deletion_takes_them_away(
    make_world: Any,
) -> None:
    world = make_world(ModerationPolicy(suspect_words=("casino",)))
    world.add_article("hello")
    world.add_article("other")
    comment = (await world.post("hello", client="c")).comment
    with pytest.raises(NotFound):
        await world.service.vote(VoteForComment("other", comment.id, "1.1.1.1"))
    await world.service.vote(VoteForComment("hello", comment.id, "1.1.1.1"))
    assert (await world.comments.get(comment.id)).votes == 1
    await world.service.moderate(ModerateComment(comment.id, "delete"), world.moderator)
    assert (await world.comments.get(comment.id)).votes == 0
    assert comment.id not in world.comments.votes
    with pytest.raises(NotFound):
        await world.service.vote(VoteForComment("hello", comment.id, "2.2.2.2"))
    # Nor does a held one.
    held = (await world.post("hello", body="casino", client="c")).comment
    assert held.status == "pending"
    with pytest.raises(NotFound):
        await world.service.vote(VoteForComment("hello", held.id, "3.3.3.3"))


async def test_a_closed_conversation_takes_no_votes(world: Any) -> None:
    world.add_article("hello")
    comment = (await world.post("hello", client="c")).comment
    world.add_article("hello", comments_open=False)
    with pytest.raises(Conflict):
        await world.service.vote(VoteForComment("hello", comment.id, "1.1.1.1"))
