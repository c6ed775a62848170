"""The readers' use cases over fakes."""

from typing import Any

import pytest

from broadsheet_notifications.commands import (
    ConfirmAddress,
    FollowArticle,
    Unsubscribe,
)
from broadsheet_notifications.domain import DeliveryState, recipient_hash
from broadsheet_shared.errors import InvalidLink, NotFound, RateLimited

pytestmark = pytest.mark.unit
SLUG = "foreign-affairs-1"


async def test_follow_unknown_article_is_404(world: Any) -> None:
    with pytest.raises(NotFound):
        await world.subscriptions.follow(FollowArticle("nope", "a@example.org", "1.1.1.1"))


async def test_follow_by_previous_slug_works(world: Any, ev: Any) -> None:
    data = ev.article().data.model_copy(update={"slug": "new", "previous_slugs": [SLUG]})
    await world.planner.article_changed(data)
    assert await world.subscriptions.follow(FollowArticle(SLUG, "a@example.org", "1.1.1.1")) == (
        "confirmation_sent"
    )


async def test_follow_sends_one_confirmation_per_day(published: Any) -> None:
    w = published
    for _ in range(3):
        assert await w.subscriptions.follow(FollowArticle(SLUG, "a@example.org", "1.1.1.1")) == (
            "confirmation_sent"
        )
    assert len([d for d in w.repos.ledger.deliveries.values() if d.kind == "confirmation"]) == 1
    w.clock.advance(hours=25)
    await w.subscriptions.follow(FollowArticle(SLUG, "a@example.org", "1.1.1.2"))
    assert len([d for d in w.repos.ledger.deliveries.values() if d.kind == "confirmation"]) == 2
    assert w.queued == 4


async def test_confirmed_address_is_subscribed_at_once(published: Any) -> None:
    w = published
    await w.subscriptions.follow(FollowArticle(SLUG, "a@example.org", "1.1.1.1"))
    token = w.signer.confirm_token(recipient_hash("a@example.org"))
    assert (await w.subscriptions.confirmation(token))["status"] == "pending"
    assert (await w.subscriptions.confirm(ConfirmAddress(token)))["status"] == "confirmed"
    assert (await w.subscriptions.confirm(ConfirmAddress(token)))["status"] == "confirmed"
    assert (
        await w.subscriptions.follow(FollowArticle(SLUG, "a@example.org", "1.1.1.1"))
        == "subscribed"
    )


async def test_confirm_with_tampered_or_unknown_token(published: Any) -> None:
    w = published
    token = w.signer.confirm_token(recipient_hash("nobody@example.org"))
    with pytest.raises(NotFound):
        await w.subscriptions.confirm(ConfirmAddress(token))
    with pytest.raises(InvalidLink):
        await w.subscriptions.confirm(ConfirmAddress(token[:-2] + "xx"))


async def test_follow_rate_limits_per_client_and_per_address(published: Any) -> None:
    w = published
    for n in range(5):
        await w.subscriptions.follow(FollowArticle(SLUG, "a@example.org", f"10.0.0.{n}"))
    with pytest.raises(RateLimited) as limited:
        await w.subscriptions.follow(FollowArticle(SLUG, "a@example.org", "10.0.0.99"))
    assert limited.value.retry_after == 60
    for n in range(10):
        await w.subscriptions.follow(FollowArticle(SLUG, f"b{n}@example.org", "10.9.9.9"))
    with pytest.raises(RateLimited) as limited:
        await w.subscriptions.follow(FollowArticle(SLUG, "c@example.org", "10.9.9.9"))
    assert limited.value.retry_after == 60


async def test_unsubscribe_one_subscription_and_all(published: Any, ev: Any) -> None:
    w = published
    await w.subscriptions.follow(FollowArticle(SLUG, "a@example.org", "1.1.1.1"))
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
    all_token = w.signer.unsubscribe_token("all", recipient_hash("a@example.org"))
    await w.subscriptions.unsubscribe(Unsubscribe(all_token))
    assert not any(s.active for s in w.repos.subscriptions.by_id.values())
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
        await w.subscriptions.unsubscribe(Unsubscribe(w.signer.confirm_token("x")))
