"""Managing an address's subscriptions by a mailed link: one public answer for every address,
mails limited per mailbox and client, the page lists what the address follows and receives, and
ends one subscription or all of them."""

import time
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from typing import Any

import itsdangerous.timed
import pytest

from broadsheet_notifications.commands import (
    EndSubscription,
    FollowArticle,
    RequestManageLink,
    SuppressAddress,
)
from broadsheet_notifications.domain import Delivery, DeliveryState, subscription_id
from broadsheet_notifications.tokens import BadToken
from broadsheet_shared.errors import InvalidLink, NotFound, RateLimited
from broadsheet_shared.testing import DEV_DIGEST, tampered

pytestmark = pytest.mark.unit
READER = "reader@example.org"


def manage_mails(w: Any, email: str = READER) -> list[Delivery]:
    recipient = DEV_DIGEST(email)
    return [
        d
        for d in w.repos.ledger.deliveries.values()
        if d.kind == "manage" and d.recipient_hash == recipient
    ]


def kinds(deliveries: list[Delivery]) -> list[str]:
    return [d.kind for d in deliveries]


async def ask(w: Any, email: str = READER, client: str = "1.1.1.1") -> None:
    await w.subscriptions.request_manage_link(RequestManageLink(email, client))


async def following_and_replies(w: Any, ev: Any) -> Any:
    """READER confirmed a follow of art-1 and asked (not yet confirmed) for replies to c1."""
    await w.subscriptions.follow(FollowArticle("foreign-affairs-1", READER, "1.1.1.1"))
    await w.confirm(READER)
    await w.planner.comment_posted(ev.posted("c1", READER).data, None)
    return w


async def test_the_page_lists_what_the_address_follows_and_receives(
    published: Any, ev: Any
) -> None:
    w = await following_and_replies(published, ev)
    await ask(w)
    (mail,) = manage_mails(w)
    # The mail carries the link to the page; the page shows and changes nothing.
    message = message_from_bytes(w.composer.compose(mail).data, policy=default)
    assert "/subscriptions/manage/" in message.get_body(("plain",)).get_content()
    assert "List-Unsubscribe" not in message
    view = await w.subscriptions.manage(w.signer.manage_token(DEV_DIGEST(READER)))
    assert view["email"] == "r***@example.org"
    assert [(s["kind"], s["state"], s["article_title"]) for s in view["subscriptions"]] == [
        ("follow", "active", "Talks resume in Geneva"),
        ("reply", "pending", "Talks resume in Geneva"),
    ]


async def test_one_answer_whatever_the_address_and_mail_only_to_known_ones(
    published: Any, ev: Any
) -> None:
    w = await following_and_replies(published, ev)
    await w.staff.suppress(SuppressAddress("gone@example.org"), w.moderator)
    for email in ("stranger@example.org", "gone@example.org", READER):
        assert await ask(w, email) is None  # no answer tells the addresses apart
    assert manage_mails(w, "stranger@example.org") == []
    assert manage_mails(w, "gone@example.org") == []
    assert len(manage_mails(w)) == 1


async def test_manage_mails_are_limited_per_mailbox_and_per_client(published: Any) -> None:
    w = published
    await w.subscriptions.follow(FollowArticle("foreign-affairs-1", READER, "1.1.1.1"))
    for n in range(5):
        # Whoever asks, three mails a day at most.
        await ask(w, READER, client=f"10.0.0.{n}")
        w.clock.advance(timedelta(minutes=1))
    assert len(manage_mails(w)) == 3
    with pytest.raises(RateLimited):
        # The mailbox's request allowance (5): plus-addressed variants count as one.
        await ask(w, "reader+x@example.org", client="10.0.0.99")
    for n in range(10):
        await ask(w, f"other{n}@example.org", client="10.9.9.9")
    with pytest.raises(RateLimited):
        await ask(w, "one-more@example.org", client="10.9.9.9")


async def test_unsubscribe_one_then_all_from_the_page(published: Any, ev: Any) -> None:
    w = await following_and_replies(published, ev)
    token = w.signer.manage_token(DEV_DIGEST(READER))
    follow_id = subscription_id("follow", "art-1", DEV_DIGEST(READER))
    await w.planner.comment_approved("e2", ev.approved("c2").data, None)
    assert "follow" in kinds(w.repos.ledger.in_state(DeliveryState.PENDING))
    view = await w.subscriptions.end_subscription(EndSubscription(token, follow_id))
    assert [s["kind"] for s in view["subscriptions"]] == ["reply"]
    # Its pending mail is cancelled.
    assert "follow" in kinds(w.repos.ledger.in_state(DeliveryState.CANCELLED))
    assert "follow" not in kinds(w.repos.ledger.in_state(DeliveryState.PENDING))
    again = await w.subscriptions.end_subscription(EndSubscription(token, follow_id))
    assert again == view  # idempotent
    view = await w.subscriptions.end_subscription(EndSubscription(token, None))
    assert (view["status"], view["subscriptions"]) == ("unsubscribed", [])


async def test_manage_links_are_refused_when_forged_expired_or_for_another_address(
    published: Any, ev: Any
) -> None:
    w = await following_and_replies(published, ev)
    mine = w.signer.manage_token(DEV_DIGEST(READER))
    with pytest.raises(InvalidLink):
        await w.subscriptions.manage(tampered(mine))
    with pytest.raises(InvalidLink):  # an unsubscribe token is no manage token
        await w.subscriptions.manage(w.signer.unsubscribe_token("all", DEV_DIGEST(READER)))
    with pytest.raises(NotFound):
        await w.subscriptions.manage(w.signer.manage_token(DEV_DIGEST("nobody@example.org")))
    # A stranger's link cannot end READER's subscription.
    await w.subscriptions.follow(FollowArticle("foreign-affairs-1", "s@example.org", "2.2.2.2"))
    theirs = w.signer.manage_token(DEV_DIGEST("s@example.org"))
    follow_id = subscription_id("follow", "art-1", DEV_DIGEST(READER))
    with pytest.raises(NotFound):
        await w.subscriptions.end_subscription(EndSubscription(theirs, follow_id))
    assert w.repos.subscriptions.by_id[follow_id].active


def test_a_manage_link_expires_with_the_confirmation_links_lifetime(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = world.signer.manage_token("r" * 64)
    assert world.signer.read_manage(token) == "r" * 64
    later = time.time() + 3601  # the world's signer: confirm_max_age_seconds=3600
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    with pytest.raises(BadToken):
        world.signer.read_manage(token)
