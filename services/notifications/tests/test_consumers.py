"""The event handlers over fakes: who gets a delivery recorded for which event."""

from datetime import UTC, datetime
from typing import Any

import pytest

from broadsheet_notifications.commands import FollowArticle
from broadsheet_notifications.consumers import build_router
from broadsheet_notifications.domain import AddressState, DeliveryState
from broadsheet_notifications.projection import RestorableArticles
from broadsheet_shared.events import (
    ArticleDeletedV2,
    ArticleRevisionRef,
    ArticleStateData,
    ArticleUnpublishedV2,
    ArticleUpdatedV1,
    CommentImportedData,
    CommentImportedV1,
)
from broadsheet_shared.events.staff import (
    StaffAccountChangedV1,
    StaffAccountData,
    StaffPasswordLinkData,
    StaffPasswordLinkIssuedV1,
)
from broadsheet_shared.testing import DEV_DIGEST

pytestmark = pytest.mark.unit


@pytest.fixture
def router(world: Any) -> Any:
    return build_router(world.planner, world.inbox, world._queued, world.staff_access)


async def test_notify_replies_is_a_request_and_each_mail_lists_every_pending_one(
    world: Any, router: Any, ev: Any
) -> None:
    posted = ev.posted("c1", "ada@example.org")
    await router.dispatch(posted)
    await router.dispatch(posted)  # redelivered: handled once
    world.clock.advance(minutes=1)
    await router.dispatch(ev.posted("c2", "Ada@Example.org"))
    address = world.repos.addresses.by_recipient[DEV_DIGEST("ada@example.org")]
    assert address.state == AddressState.PENDING
    confirmations = world.confirmations_to("ada@example.org")
    assert [len(d.content["requests"]) for d in confirmations] == [1, 2]
    replies = [s for s in world.repos.subscriptions.by_id.values() if s.kind == "reply"]
    assert [s.pending for s in replies] == [True, True]


async def test_notify_replies_of_a_confirmed_address_waits_for_its_owner_too(
    world: Any, router: Any, ev: Any
) -> None:
    await router.dispatch(ev.posted("c1", "ada@example.org"))
    await world.confirm("ada@example.org")
    world.clock.advance(minutes=1)
    # Anyone can type Ada's address into a comment form and tick "notify me of replies".
    await router.dispatch(ev.posted("c3", "ada@example.org"))
    await router.dispatch(ev.approved("c4", parent_id="c3"))
    assert not any(d.kind == "reply" for d in world.repos.ledger.deliveries.values())
    latest = world.confirmations_to("ada@example.org")[-1]
    assert [r["kind"] for r in latest.content["requests"]] == ["reply"]
    await world.confirm("ada@example.org")
    await router.dispatch(ev.approved("c5", parent_id="c3"))
    assert [d.comment_ids for d in world.repos.ledger.deliveries.values() if d.kind == "reply"] == [
        ["c5"]
    ]


async def test_posted_without_notify_records_nothing(world: Any, router: Any, ev: Any) -> None:
    await router.dispatch(ev.posted("c1", None))
    await router.dispatch(ev.posted("c2", "ada@example.org", status="spam"))
    assert world.repos.addresses.by_recipient == {}
    assert world.repos.ledger.deliveries == {}
    # Nothing done, nothing to remember: not even the inbox's row.
    assert world.inbox.handled == set()


async def test_reply_to_unconfirmed_author_sends_nothing(world: Any, router: Any, ev: Any) -> None:
    await router.dispatch(ev.posted("c1", "ada@example.org"))
    await router.dispatch(ev.approved("c2", parent_id="c1"))
    assert [d.kind for d in world.repos.ledger.deliveries.values()] == ["confirmation"]


async def test_reply_to_confirmed_author_records_one_delivery_even_when_redelivered(
    world: Any, router: Any, ev: Any
) -> None:
    await router.dispatch(ev.posted("c1", "ada@example.org"))
    await world.confirm("ada@example.org")
    reply = ev.approved("c2", parent_id="c1")
    await router.dispatch(reply)
    await router.dispatch(reply)
    replies = [d for d in world.repos.ledger.deliveries.values() if d.kind == "reply"]
    assert len(replies) == 1
    assert replies[0].content["comment_url_path"] == "/articles/foreign-affairs-1#comment-c2"


async def test_self_reply_records_nothing(world: Any, router: Any, ev: Any) -> None:
    await router.dispatch(ev.posted("c1", "ada@example.org"))
    await world.confirm("ada@example.org")
    await router.dispatch(ev.approved("c2", parent_id="c1", author_email="ADA@example.org"))
    assert [d.kind for d in world.repos.ledger.deliveries.values()] == ["confirmation"]


async def test_rejected_or_deleted_reply_is_never_sent(world: Any, router: Any, ev: Any) -> None:
    await router.dispatch(ev.posted("c1", "ada@example.org"))
    await world.confirm("ada@example.org")
    await router.dispatch(ev.approved("c2", parent_id="c1"))
    await router.dispatch(ev.approved("c3", parent_id="c1"))
    await router.dispatch(ev.rejected("c2"))
    await router.dispatch(ev.deleted("c3"))
    states = {
        d.comment_ids[0]: d.state for d in world.repos.ledger.deliveries.values() if d.comment_ids
    }
    assert states == {"c2": DeliveryState.CANCELLED, "c3": DeliveryState.CANCELLED}


async def test_digest_after_three_emails_in_window(world: Any, router: Any, ev: Any) -> None:
    await router.dispatch(ev.posted("c1", "ada@example.org"))
    await world.confirm("ada@example.org")
    start = world.clock.now
    for n in range(2, 8):
        await router.dispatch(ev.approved(f"c{n}", parent_id="c1"))
        world.clock.advance(seconds=30)
    replies = [d for d in world.repos.ledger.deliveries.values() if d.kind == "reply"]
    digests = [d for d in world.repos.ledger.deliveries.values() if d.kind == "digest"]
    assert len(replies) == 3
    assert len(digests) == 1
    assert [i.comment_id for i in digests[0].items] == ["c5", "c6", "c7"]
    assert digests[0].next_attempt_at == start + world.planner._policies.digest.window
    # A withdrawn comment leaves the digest; the digest survives with the rest.
    await router.dispatch(ev.deleted("c6"))
    digest = world.repos.ledger.deliveries[digests[0].id]
    assert [i.comment_id for i in digest.items] == ["c5", "c7"]
    # After the window, individual emails again.
    world.clock.advance(minutes=11)
    await router.dispatch(ev.approved("c9", parent_id="c1"))
    assert len([d for d in world.repos.ledger.deliveries.values() if d.kind == "reply"]) == 4


async def test_followers_get_one_email_per_comment(world: Any, router: Any, ev: Any) -> None:
    await router.dispatch(ev.article())
    await world.subscriptions.follow(
        FollowArticle("foreign-affairs-1", "fan@example.org", "1.2.3.4")
    )
    await world.confirm("fan@example.org")
    await router.dispatch(ev.approved("c1"))
    await router.dispatch(ev.approved("c2", author_email="fan@example.org"))  # their own
    follows = [d for d in world.repos.ledger.deliveries.values() if d.kind == "follow"]
    assert [d.comment_ids for d in follows] == [["c1"]]


async def test_a_comment_to_many_followers_costs_one_query_and_one_insert(
    world: Any, router: Any, ev: Any
) -> None:
    # Each round trip happens inside the event's transaction: a fan-out must not add one per
    # follower, whether a follower gets an email or (past the window's allowance) a digest.
    await router.dispatch(ev.article())
    for n in range(4):
        fan = f"fan{n}@example.org"
        await world.subscriptions.follow(FollowArticle("foreign-affairs-1", fan, "1.2.3.4"))
        await world.confirm(fan)
    for n in range(4):
        await router.dispatch(ev.approved(f"c{n}"))
    assert (world.repos.digests.queries, world.repos.ledger.batches) == (4, 4)
    kinds = sorted(d.kind for d in world.repos.ledger.deliveries.values() if d.comment_ids)
    assert kinds == ["digest"] * 4 + ["follow"] * 12


async def test_unpublished_article_is_forgotten(world: Any, router: Any, ev: Any) -> None:
    from broadsheet_shared.events import ArticleRef, ArticleUnpublishedV1

    await router.dispatch(ev.article())
    assert await world.repos.articles.live_by_slug("foreign-affairs-1") is not None
    await router.dispatch(
        ArticleUnpublishedV1(
            subject="art-1",
            data=ArticleRef(article_id="art-1", slug="foreign-affairs-1", url_path="/x"),
        )
    )
    assert await world.repos.articles.live_by_slug("foreign-affairs-1") is None


async def test_a_late_unpublish_v2_after_a_republish_is_ignored(
    world: Any, router: Any, ev: Any
) -> None:
    article = ev.article()
    republished = article.data.model_copy(update={"revision": article.data.revision + 2})
    late = ArticleRevisionRef(
        article_id=article.data.article_id,
        slug=article.data.slug,
        url_path=article.data.url_path,
        revision=article.data.revision + 1,
    )
    await router.dispatch(article)
    await router.dispatch(ArticleUpdatedV1(subject=article.subject, data=republished))
    await router.dispatch(ArticleUnpublishedV2(subject=article.subject, data=late))
    assert await world.repos.articles.live_by_slug(article.data.slug) is not None
    # The current one (after the republication) does hide it.
    current = late.model_copy(update={"revision": republished.revision + 1})
    await router.dispatch(ArticleUnpublishedV2(subject=article.subject, data=current))
    assert await world.repos.articles.live_by_slug(article.data.slug) is None


async def test_a_late_publication_after_a_delete_v2_stays_deleted(
    world: Any, router: Any, ev: Any
) -> None:
    article = ev.article()
    deleted = ArticleRevisionRef(
        article_id=article.data.article_id,
        slug=article.data.slug,
        url_path=article.data.url_path,
        revision=article.data.revision + 1,
    )
    await router.dispatch(ArticleDeletedV2(subject=article.subject, data=deleted))
    await router.dispatch(article)  # delivered after the deletion
    assert await world.repos.articles.live_by_slug(article.data.slug) is None


async def test_an_imported_comment_is_nobody_s_business_here(
    world: Any, router: Any, ev: Any
) -> None:
    imported = CommentImportedV1(
        subject="c1",
        data=CommentImportedData(
            comment_id="c1",
            article_id="a1",
            article_slug="s",
            parent_id=None,
            status="approved",
            created_at=datetime(2007, 9, 4, tzinfo=UTC),
            wordpress_id=12,
        ),
    )
    # History sends no mail and creates no subscription: no handler here takes the type (the
    # consumer runner skips such records, shared/tests/test_consumer.py).
    assert not router.handles(imported)
    await router.dispatch(imported)
    assert world.repos.ledger.deliveries == {}
    assert world.repos.subscriptions.by_id == {}


async def test_a_staff_account_change_reaches_the_staff_access_projection(
    world: Any, router: Any
) -> None:
    later = datetime(2025, 1, 2, tzinfo=UTC)
    for at in (later, datetime(2025, 1, 1, tzinfo=UTC)):  # the older one arrives late
        data = StaffAccountData(staff_id="ed", role="editor", disabled=True, changed_at=at)
        await router.dispatch(StaffAccountChangedV1(subject="ed", data=data))
    assert await world.staff_access.changed_at("ed") == later


async def test_a_set_password_link_is_mailed_once_per_event(world: Any, router: Any) -> None:
    data = StaffPasswordLinkData(
        staff_id="s1",
        email="Nell@Example.org",
        name="Nell",
        token="t" * 43,
        expires_at=datetime(2026, 12, 2, 19, 0, tzinfo=UTC),
    )
    issued = StaffPasswordLinkIssuedV1(subject="s1", data=data)
    await router.dispatch(issued)
    await router.dispatch(issued)  # redelivered: one mail
    [mail] = world.repos.ledger.deliveries.values()
    assert (mail.kind, mail.email, mail.source_event_id) == (
        "staff_password",
        "nell@example.org",
        str(issued.id),
    )
    assert mail.content["token"] == "t" * 43
    # A second link (another event) is a second mail.
    await router.dispatch(StaffPasswordLinkIssuedV1(subject="s1", data=data))
    assert len(world.repos.ledger.deliveries) == 2


async def test_a_rebuild_goes_through_the_planners_article_rules(world: Any, ev: Any) -> None:
    restorable = RestorableArticles(world.planner, world.repos.articles)
    assert await restorable.is_empty()
    live = ev.article().data
    withdrawn = ev.article("wrong-report", "art-2").data

    await restorable.restore(ArticleStateData(**dict(live), public=True))
    await restorable.restore(ArticleStateData(**dict(withdrawn), public=False))
    stale = live.model_copy(update={"title": "Older", "revision": 0})
    await restorable.restore(ArticleStateData(**dict(stale), public=True))

    articles = world.repos.articles
    assert (await articles.live_by_slug(live.slug)).title == live.title
    assert await articles.live_by_slug("wrong-report") is None
    assert await restorable.article_ids() == {"art-1"}  # only live ones are ever removed
    await restorable.forget("art-1")
    assert await articles.live_by_slug(live.slug) is None
