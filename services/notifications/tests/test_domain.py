from datetime import UTC, datetime, timedelta

import pytest

from broadsheet_notifications.domain import (
    Address,
    AddressState,
    AddressSuppressed,
    Delivery,
    DeliveryState,
    DigestPolicy,
    RetryPolicy,
    Subscription,
    SubscriptionState,
    Transitions,
    delivery_id,
    goes_to_digest,
    header_safe,
    mask_email,
    message_id,
    plan_recipients,
    subscription_id,
)
from broadsheet_shared.testing import DEV_DIGEST

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def confirmed(email: str) -> Address:
    a = Address.new(email, NOW, DEV_DIGEST)
    a.confirm(NOW)
    return a


def active(sub: Subscription) -> Subscription:
    sub.confirm(NOW)
    return sub


def test_address_is_normalised_and_hashed_like_comments_service() -> None:
    a = Address.new("  Ada@Example.ORG ", NOW, DEV_DIGEST)
    assert a.email == "ada@example.org"
    assert a.recipient_hash == DEV_DIGEST("ada@example.org")
    assert a.state == AddressState.PENDING


def test_unsubscribed_address_receives_nothing_until_its_owner_confirms_again() -> None:
    a = confirmed("ada@example.org")
    a.unsubscribe()
    assert a.state == AddressState.UNSUBSCRIBED
    assert not a.can_receive
    a.confirm(NOW + timedelta(days=1))
    assert a.can_receive


def test_unsubscribing_a_suppressed_address_keeps_it_suppressed() -> None:
    a = Address.new("ada@example.org", NOW, DEV_DIGEST)
    a.suppress(NOW)
    a.unsubscribe()
    assert a.state == AddressState.SUPPRESSED


def test_a_subscription_is_a_pending_request_until_confirmed() -> None:
    sub = Subscription.to_article("a1", "h", NOW)
    assert sub.pending
    assert not sub.active
    sub.confirm(NOW)
    assert sub.active


def test_requesting_again_moves_neither_a_pending_nor_an_active_subscription() -> None:
    pending = Subscription.to_article("a1", "h", NOW)
    assert pending.request(NOW + timedelta(hours=1)) is False
    # Still covered by the link mailed for the first request: a stranger repeating it cannot
    # take it out of the owner's reach.
    assert pending.requested_at == NOW
    assert pending.covered_by(NOW)
    active = Subscription.to_article("a1", "h", NOW)
    active.confirm(NOW)
    assert active.request(NOW + timedelta(hours=1)) is False
    assert active.active


def test_an_ended_subscription_requested_again_is_a_new_request_no_old_link_confirms() -> None:
    sub = Subscription.to_article("a1", "h", NOW)
    sub.mailed_at = NOW
    sub.confirm(NOW)
    sub.state = SubscriptionState.ENDED
    later = NOW + timedelta(hours=2)
    assert sub.request(later) is True
    assert sub.pending
    assert not sub.active
    assert sub.mailed_at is None  # a new mail is worth sending
    assert not sub.covered_by(NOW + timedelta(hours=1))  # links mailed before the new request
    assert sub.covered_by(later)


def test_a_link_covers_only_pending_requests_made_before_its_mail() -> None:
    sub = Subscription.to_article("a1", "h", NOW)
    assert sub.covered_by(NOW)
    assert not sub.covered_by(NOW - timedelta(microseconds=1))
    sub.state = SubscriptionState.ENDED
    assert not sub.covered_by(NOW + timedelta(days=1))


def test_suppressed_address_cannot_be_confirmed() -> None:
    a = Address.new("ada@example.org", NOW, DEV_DIGEST)
    a.suppress(NOW)
    with pytest.raises(AddressSuppressed):
        a.confirm(NOW)
    assert not a.can_receive


def test_ids_are_deterministic() -> None:
    assert delivery_id("e1", "h1") == delivery_id("e1", "h1")
    assert delivery_id("e1", "h1") != delivery_id("e1", "h2")
    assert subscription_id("reply", "c1", "h") == subscription_id("reply", "c1", "h")
    assert message_id("abc", "news.example") == "<abc@news.example>"


def test_mask_email() -> None:
    assert mask_email("ada@example.org") == "a***@example.org"


def test_plan_skips_self_unconfirmed_and_duplicates() -> None:
    parent = confirmed("parent@example.org")
    follower = confirmed("follower@example.org")
    pending = Address.new("pending@example.org", NOW, DEV_DIGEST)
    author = confirmed("author@example.org")
    requester = confirmed("requester@example.org")  # confirmed, but never confirmed this follow
    reply_sub = active(Subscription.to_replies("c1", "a1", parent.recipient_hash, NOW))
    followers = [
        # also the parent: one mail
        active(Subscription.to_article("a1", parent.recipient_hash, NOW)),
        active(Subscription.to_article("a1", follower.recipient_hash, NOW)),
        active(Subscription.to_article("a1", pending.recipient_hash, NOW)),
        active(Subscription.to_article("a1", author.recipient_hash, NOW)),
        Subscription.to_article("a1", requester.recipient_hash, NOW),
    ]
    addresses = {a.recipient_hash: a for a in (parent, follower, pending, author, requester)}
    planned = plan_recipients(
        author_hash=author.recipient_hash,
        reply_subscription=reply_sub,
        followers=followers,
        addresses=addresses,
    )
    assert [(r.email, r.kind) for r in planned] == [
        ("parent@example.org", "reply"),
        ("follower@example.org", "follow"),
    ]


def test_self_reply_plans_nothing() -> None:
    me = confirmed("me@example.org")
    planned = plan_recipients(
        author_hash=me.recipient_hash,
        reply_subscription=active(Subscription.to_replies("c1", "a1", me.recipient_hash, NOW)),
        followers=[],
        addresses={me.recipient_hash: me},
    )
    assert planned == []


def test_retry_backoff_is_exponential_and_gives_up_at_deadline() -> None:
    policy = RetryPolicy(timedelta(seconds=5), timedelta(minutes=1), timedelta(hours=1))
    assert [policy.backoff(n).total_seconds() for n in (1, 2, 3, 10, 500)] == [5, 10, 20, 60, 60]
    d = Delivery(
        id="d",
        kind="reply",
        recipient_hash="h",
        email="a@example.org",
        article_id="a",
        source_event_id="e",
        created_at=NOW,
        next_attempt_at=NOW,
        deadline=NOW + timedelta(hours=1),
        attempts=1,
    )
    assert policy.next_step(d, NOW) == NOW + timedelta(seconds=5)
    assert policy.next_step(d, NOW + timedelta(minutes=59, seconds=58)) is None


def test_digest_threshold() -> None:
    policy = DigestPolicy(3, timedelta(minutes=10))
    assert not goes_to_digest(2, policy)
    assert goes_to_digest(3, policy)


@pytest.mark.parametrize(
    "raw", ["Hi\r\nBcc: evil@example.org", "Hi\nX: y", "Hi\u2028there", "a\x00b"]
)
def test_header_safe_removes_line_breaks(raw: str) -> None:
    safe = header_safe(raw)
    assert "\r" not in safe
    assert "\n" not in safe
    assert "\u2028" not in safe
    assert "\x00" not in safe


def test_ledger_transitions_name_every_move_of_a_row() -> None:
    pending, sending, failed = DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.FAILED
    assert [s for s in DeliveryState if Transitions.CLAIM.allows(s)] == [pending]
    assert [s for s in DeliveryState if Transitions.RELEASE.allows(s)] == [sending]
    assert [s for s in DeliveryState if Transitions.CANCEL.allows(s)] == [pending]
    assert [s for s in DeliveryState if Transitions.RETRY.allows(s)] == [failed]
    # What a worker records about its attempt applies only to a row it still holds (the
    # repository also fences on its claim token): a sent row never goes back to pending.
    for transition in (
        Transitions.SEND,
        Transitions.FAIL,
        Transitions.RESCHEDULE,
        Transitions.ABANDON,
    ):
        assert [s for s in DeliveryState if transition.allows(s)] == [sending], transition.name
    assert {
        t.target
        for t in (Transitions.SEND, Transitions.FAIL, Transitions.CANCEL, Transitions.ABANDON)
    } == {s for s in DeliveryState if s.finished}
    assert not any(
        t.target.finished
        for t in (Transitions.CLAIM, Transitions.RELEASE, Transitions.RESCHEDULE, Transitions.RETRY)
    )
