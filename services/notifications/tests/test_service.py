"""The readers' use cases over fakes: every request waits for its owner's click, whatever the
address's state; confirmation mail is rate-limited per mailbox and bundles what is pending."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from broadsheet_notifications.commands import (
    ConfirmAddress,
    ConfirmRequest,
    FollowArticle,
    SuppressAddress,
    Unsubscribe,
)
from broadsheet_notifications.domain import (
    AddressState,
    DeliveryState,
    Subscription,
    SubscriptionState,
    subscription_id,
)
from broadsheet_shared.errors import Conflict, InvalidLink, NotFound, RateLimited
from broadsheet_shared.testing import DEV_DIGEST, tampered

pytestmark = pytest.mark.unit
SLUG = "foreign-affairs-1"
OTHER = "markets-2"
VICTIM = "victim@example.org"


@pytest.fixture
async def two_articles(published: Any, ev: Any) -> Any:
    """Two published articles: "foreign-affairs-1" (art-1) and "markets-2" (art-2)."""
    other = ev.article(OTHER, "art-2").data.model_copy(update={"title": "Markets rally"})
    await published.planner.article_changed(other)
    return published


def follow(w: Any, slug: str, email: str = VICTIM, client: str = "1.1.1.1") -> Awaitable[None]:
    return w.subscriptions.follow(FollowArticle(slug, email, client))


def subscription(w: Any, article_id: str, email: str = VICTIM) -> Subscription:
    sub: Subscription = w.repos.subscriptions.by_id[
        subscription_id("follow", article_id, DEV_DIGEST(email))
    ]
    return sub


def listed(mail: Any) -> list[str]:
    return [r["article_title"] for r in mail.content["requests"]]


async def test_follow_unknown_article_is_404(world: Any) -> None:
    with pytest.raises(NotFound):
        await follow(world, "nope")


async def test_follow_by_previous_slug_works(world: Any, ev: Any) -> None:
    data = ev.article().data.model_copy(update={"slug": "new", "previous_slugs": [SLUG]})
    await world.planner.article_changed(data)
    await follow(world, SLUG)
    assert subscription(world, "art-1").pending


async def test_a_follow_takes_effect_only_when_its_owner_confirms(published: Any) -> None:
    w = published
    await follow(w, SLUG)
    assert subscription(w, "art-1").pending
    assert (await w.repos.subscriptions.of_new_comment("art-1", None, None))[1] == []
    token = w.confirm_token(VICTIM)
    view = await w.subscriptions.confirmation(token)  # GET: shows, changes nothing
    assert (view["status"], [r["kind"] for r in view["requests"]]) == ("pending", ["follow"])
    assert subscription(w, "art-1").pending
    confirmed = await w.subscriptions.confirm(ConfirmAddress(token))
    assert confirmed["status"] == "confirmed"
    assert [r["article_title"] for r in confirmed["requests"]] == ["Talks resume in Geneva"]
    assert subscription(w, "art-1").active
    # Pressing again confirms nothing more and is no error.
    again = await w.subscriptions.confirm(ConfirmAddress(token))
    assert (again["status"], again["requests"]) == ("confirmed", [])


async def _new(w: Any) -> None:
    pass


async def _pending(w: Any) -> None:
    await follow(w, SLUG)


async def _confirmed(w: Any) -> None:
    await follow(w, SLUG)
    await w.confirm(VICTIM)


async def _suppressed(w: Any) -> None:
    await w.staff.suppress(SuppressAddress(VICTIM), w.moderator)


async def _unsubscribed(w: Any) -> None:
    await _confirmed(w)
    all_token = w.signer.unsubscribe_token("all", DEV_DIGEST(VICTIM))
    await w.subscriptions.unsubscribe(Unsubscribe(all_token))


async def _ended(w: Any) -> None:
    """The victim followed the other article, then left it: a stranger brings it back."""
    await follow(w, OTHER)
    await w.confirm(VICTIM)
    sub_token = w.signer.unsubscribe_token("subscription", subscription(w, "art-2").id)
    await w.subscriptions.unsubscribe(Unsubscribe(sub_token))


STATES: dict[str, Callable[[Any], Awaitable[None]]] = {
    "new": _new,
    "pending": _pending,
    "confirmed": _confirmed,
    "suppressed": _suppressed,
    "unsubscribed": _unsubscribed,
    "ended": _ended,
}


@pytest.mark.parametrize("state", list(STATES))
async def test_a_strangers_follow_never_takes_effect_whatever_the_address_state(
    two_articles: Any, state: str
) -> None:
    w = two_articles
    await STATES[state](w)
    w.clock.advance(minutes=1)
    mails_before = len(w.confirmations_to(VICTIM))
    # The use case answers nothing (the API's one answer); it raises nothing either.
    assert await follow(w, OTHER, client="6.6.6.6") is None
    assert (await w.repos.subscriptions.of_new_comment("art-2", None, None))[1] == []
    mails = w.confirmations_to(VICTIM)
    if state == "suppressed":
        assert mails == []
        assert "follow-" not in str(w.repos.subscriptions.by_id)
        return
    assert subscription(w, "art-2").pending
    # At most the one rate-limited confirmation mail, which lists the request.
    assert len(mails) == mails_before + 1
    assert "Markets rally" in listed(mails[-1])


async def test_a_link_confirms_only_the_requests_its_mail_listed(two_articles: Any) -> None:
    w = two_articles
    await follow(w, SLUG)
    victims_link = w.confirm_token(VICTIM)
    w.clock.advance(minutes=5)
    await follow(w, OTHER, client="6.6.6.6")  # a stranger, after the victim's mail
    view = await w.subscriptions.confirmation(victims_link)
    assert [r["id"] for r in view["requests"]] == [subscription(w, "art-1").id]
    assert [r["id"] for r in view["later_requests"]] == [subscription(w, "art-2").id]
    result = await w.subscriptions.confirm(ConfirmAddress(victims_link))
    assert [r["id"] for r in result["later_requests"]] == [subscription(w, "art-2").id]
    assert subscription(w, "art-1").active
    assert subscription(w, "art-2").pending
    assert (await w.repos.subscriptions.of_new_comment("art-2", None, None))[1] == []


async def test_a_second_follow_the_same_day_gets_a_mail_listing_everything_pending(
    two_articles: Any,
) -> None:
    w = two_articles
    await follow(w, SLUG)
    w.clock.advance(minutes=5)
    await follow(w, OTHER)
    mails = w.confirmations_to(VICTIM)
    assert len(mails) == 2
    assert len(listed(mails[-1])) == 2  # the bundle: both pending requests
    await w.confirm(VICTIM)
    assert subscription(w, "art-1").active
    assert subscription(w, "art-2").active


async def test_repeating_a_request_sends_no_new_mail(published: Any) -> None:
    w = published
    for n in range(4):
        await follow(w, SLUG, client=f"10.0.0.{n}")
        w.clock.advance(minutes=1)
    assert len(w.confirmations_to(VICTIM)) == 1
    assert w.queued == 4


async def test_a_hundred_requests_for_one_mailbox_send_a_handful_of_mails(
    world: Any, ev: Any
) -> None:
    w = world
    for n in range(100):
        # Plus-addressing reaches the same mailbox: it shares one allowance.
        email = VICTIM if n % 2 else f"victim+{n}@example.org"
        await w.planner.request_subscription(
            email,
            lambda recipient, now, n=n: Subscription.to_article(f"art-{n}", recipient, now),
            None,
        )
        w.clock.advance(seconds=30)
    mails = [d for d in w.repos.ledger.deliveries.values() if d.kind == "confirmation"]
    assert len(mails) == 3  # the mailbox's allowance per day (conftest: 3)
    # Nothing took effect; the victim's own address has 50 requests waiting for a click.
    assert not any(s.active for s in w.repos.subscriptions.by_id.values())
    assert len(await w.repos.subscriptions.pending_of(DEV_DIGEST(VICTIM), None)) == 50


async def test_beyond_the_allowance_a_later_request_is_confirmed_by_its_own_click(
    two_articles: Any, ev: Any
) -> None:
    w = two_articles
    # A stranger spends the mailbox's allowance on requests the victim does not want.
    for n in range(3):
        await w.planner.request_subscription(
            VICTIM,
            lambda recipient, now, n=n: Subscription.to_replies(f"c{n}", "art-1", recipient, now),
            None,
        )
        w.clock.advance(minutes=1)
    link = w.confirm_token(VICTIM)
    # The victim really follows the other article: no mail is left for today.
    await follow(w, OTHER)
    assert len(w.confirmations_to(VICTIM)) == 3
    mine = subscription(w, "art-2")
    view = await w.subscriptions.confirmation(link)
    assert [r["id"] for r in view["later_requests"]] == [mine.id]
    # On the page of a link mailed to them, they confirm it alone, by its own button.
    result = await w.subscriptions.confirm_request(ConfirmRequest(link, mine.id))
    assert [r["id"] for r in result["requests"]] == [mine.id]
    assert subscription(w, "art-2").active
    assert not any(s.active for s in w.repos.subscriptions.by_id.values() if s.kind == "reply")


async def test_a_link_confirms_no_request_of_another_address(two_articles: Any) -> None:
    w = two_articles
    await follow(w, SLUG)
    await follow(w, OTHER, email="other@example.org")
    others = subscription(w, "art-2", "other@example.org")
    with pytest.raises(NotFound):
        await w.subscriptions.confirm_request(ConfirmRequest(w.confirm_token(VICTIM), others.id))
    assert subscription(w, "art-2", "other@example.org").pending


async def test_an_ended_subscription_stays_ended_until_its_owner_confirms_again(
    published: Any,
) -> None:
    w = published
    await follow(w, SLUG)
    old_link = w.confirm_token(VICTIM)
    await w.subscriptions.confirm(ConfirmAddress(old_link))
    sub = subscription(w, "art-1")
    await w.subscriptions.unsubscribe(
        Unsubscribe(w.signer.unsubscribe_token("subscription", sub.id))
    )
    w.clock.advance(minutes=1)
    await follow(w, SLUG, client="6.6.6.6")  # a stranger brings it back
    assert subscription(w, "art-1").pending
    # The old link (still within its age) confirms nothing asked for after its mail.
    assert (await w.subscriptions.confirm(ConfirmAddress(old_link)))["requests"] == []
    assert (await w.repos.subscriptions.of_new_comment("art-1", None, None))[1] == []
    await w.confirm(VICTIM)  # the new mail's link: the owner's choice
    assert subscription(w, "art-1").active


async def test_unsubscribe_all_leaves_the_address_unsubscribed(published: Any) -> None:
    w = published
    await follow(w, SLUG)
    old_link = w.confirm_token(VICTIM)
    await w.subscriptions.confirm(ConfirmAddress(old_link))
    all_token = w.signer.unsubscribe_token("all", DEV_DIGEST(VICTIM))
    await w.subscriptions.unsubscribe(Unsubscribe(all_token))
    address = w.repos.addresses.by_recipient[DEV_DIGEST(VICTIM)]
    assert address.state == AddressState.UNSUBSCRIBED
    # An old link with nothing left to confirm does not make the address confirmed again.
    await w.subscriptions.confirm(ConfirmAddress(old_link))
    address = w.repos.addresses.by_recipient[DEV_DIGEST(VICTIM)]
    assert address.state == AddressState.UNSUBSCRIBED


async def test_confirm_with_tampered_or_unknown_token(published: Any) -> None:
    w = published
    await follow(w, SLUG)
    token = w.signer.confirm_token(DEV_DIGEST("nobody@example.org"), w.clock.now)
    with pytest.raises(NotFound):
        await w.subscriptions.confirm(ConfirmAddress(token))
    with pytest.raises(InvalidLink):
        await w.subscriptions.confirm(ConfirmAddress(tampered(w.confirm_token(VICTIM))))


async def test_confirming_a_suppressed_address_is_refused(published: Any) -> None:
    w = published
    await follow(w, SLUG)
    await w.staff.suppress(SuppressAddress(VICTIM), w.moderator)
    with pytest.raises(Conflict):
        await w.confirm(VICTIM)
    assert subscription(w, "art-1").state == SubscriptionState.PENDING


async def test_follow_rate_limits_per_client_and_per_mailbox(published: Any) -> None:
    w = published
    for n in range(5):
        # Plus-addressed variants count as one mailbox.
        await follow(w, SLUG, email=f"a+{n}@example.org", client=f"10.0.0.{n}")
    with pytest.raises(RateLimited) as limited:
        await follow(w, SLUG, email="a@example.org", client="10.0.0.99")
    assert limited.value.retry_after == 60
    for n in range(10):
        await follow(w, SLUG, email=f"b{n}@example.org", client="10.9.9.9")
    with pytest.raises(RateLimited) as limited:
        await follow(w, SLUG, email="c@example.org", client="10.9.9.9")
    assert limited.value.retry_after == 60


async def test_unsubscribe_one_subscription_and_all(published: Any, ev: Any) -> None:
    w = published
    await follow(w, SLUG, email="a@example.org")
    await w.confirm("a@example.org")
    sub = next(iter(w.repos.subscriptions.by_id.values()))
    token = w.signer.unsubscribe_token("subscription", sub.id)
    view = await w.subscriptions.unsubscription(token)
    assert view == {
        "scope": "subscription",
        "email": "a***@example.org",
        "kind": "follow",
        "active": True,
    }
    assert (await w.subscriptions.unsubscribe(Unsubscribe(token)))["status"] == "unsubscribed"
    assert not w.repos.subscriptions.by_id[sub.id].active
    # All mail: every subscription ends and pending mail is cancelled.
    await w.planner.comment_posted(ev.posted("c1", "a@example.org").data, None)
    all_token = w.signer.unsubscribe_token("all", DEV_DIGEST("a@example.org"))
    await w.subscriptions.unsubscribe(Unsubscribe(all_token))
    assert all(s.state == SubscriptionState.ENDED for s in w.repos.subscriptions.by_id.values())
    assert w.repos.ledger.in_state(DeliveryState.PENDING) == []


async def test_unsubscribe_bad_tokens(published: Any) -> None:
    w = published
    with pytest.raises(InvalidLink):
        await w.subscriptions.unsubscribe(Unsubscribe("garbage"))
    with pytest.raises(NotFound):
        await w.subscriptions.unsubscribe(
            Unsubscribe(w.signer.unsubscribe_token("subscription", "nope"))
        )
    # A confirmation token is not an unsubscribe token (different salt).
    with pytest.raises(InvalidLink):
        await w.subscriptions.unsubscribe(Unsubscribe(w.signer.confirm_token("x", w.clock.now)))
