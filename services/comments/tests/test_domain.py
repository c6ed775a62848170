from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from broadsheet_comments.domain import (
    BannedContent,
    InvalidTransition,
    ModerationPolicy,
    Signals,
    count_links,
    excerpt,
    first_time_signal,
    moderate,
)

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_display_depth_is_capped_at_five_levels_and_names_the_parent(make_comment: Any) -> None:
    chain = [make_comment("c0", author_name="N0")]
    for level in range(1, 8):
        chain.append(make_comment(f"c{level}", chain[-1], author_name=f"N{level}"))
    assert [c.display_depth for c in chain] == [0, 1, 2, 3, 4, 4, 4, 4]
    assert [c.in_reply_to for c in chain[:5]] == [None] * 5
    assert chain[5].in_reply_to == "N4"
    assert chain[7].in_reply_to == "N6"


def test_policy_approves_plain_comments() -> None:
    assert ModerationPolicy().judge("Ann", "Nice piece.", Signals()).status == "approved"


@pytest.mark.parametrize(
    ("body", "signals", "reason"),
    [
        ("see http://a.com http://b.com www.c.com", Signals(), "links"),
        ("buy cheap viagra now", Signals(), "suspect_word"),
        ("Nice piece.", Signals(duplicate=True), "duplicate"),
        ("Nice piece.", Signals(first_time=True), "first_time"),
    ],
)
def test_policy_holds_when_a_signal_fires(body: str, signals: Signals, reason: str) -> None:
    policy = ModerationPolicy(suspect_words=("viagra",), premoderate_first_time=True)
    verdict = policy.judge("Ann", body, signals)
    assert verdict.status == "pending"
    assert reason in verdict.reasons


def test_two_links_are_fine() -> None:
    body = "[one](http://a.com) and http://b.com"
    assert count_links(body) == 2
    assert ModerationPolicy().judge("Ann", body, Signals()).status == "approved"


def test_first_time_only_matters_when_premoderation_is_on() -> None:
    verdict = ModerationPolicy().judge("Ann", "hi", Signals(first_time=True))
    assert verdict.status == "approved"


def test_banned_words_refuse_whole_words_only() -> None:
    policy = ModerationPolicy(banned_words=("ass",))
    with pytest.raises(BannedContent):
        policy.judge("Ann", "You ASS!", Signals())
    assert policy.judge("Ann", "A classic passage.", Signals()).status == "approved"
    with pytest.raises(BannedContent):
        policy.judge("ass", "hello", Signals())


def test_honeypot_is_spam_before_anything_else() -> None:
    policy = ModerationPolicy(banned_words=("ass",))
    assert policy.judge("Ann", "ass", Signals(honeypot=True)).status == "spam"


def test_moderation_transitions(make_comment: Any) -> None:
    pending = make_comment("p", status="pending", author_email="a@b.c", notify_replies=True)
    approved = moderate(pending, "approve", T0)
    assert approved.status == "approved"
    assert approved.approved_at == T0
    assert moderate(approved, "approve", T0) is approved
    deleted = moderate(approved, "delete", T0)
    assert deleted.status == "deleted"
    assert deleted.author_email is None
    assert not deleted.notify_replies
    with pytest.raises(InvalidTransition):
        moderate(deleted, "approve", T0)
    assert moderate(pending, "spam", T0).status == "spam"


def test_excerpt_flattens_and_shortens() -> None:
    assert excerpt("a\n\n b") == "a b"
    long = excerpt("word " * 100, 20)
    assert len(long) <= 20
    assert long.endswith("…")


def test_premoderation_holds_a_comment_without_email() -> None:
    assert first_time_signal(None, has_approved_history=False)
    assert first_time_signal(None, has_approved_history=True)  # no address to vouch for it
    assert not first_time_signal("hash", has_approved_history=True)
    policy = ModerationPolicy(premoderate_first_time=True)
    verdict = policy.judge("Ann", "Hi", Signals(first_time=first_time_signal(None, False)))
    assert verdict.status == "pending"
    assert verdict.reasons == ("first_time",)
