"""mailto: unsubscribe: which recipients and subjects the inbound SMTP accepts, and what it does
with them (the one-click use case over fakes)."""

from collections.abc import Callable
from email.header import Header
from typing import Any

import pytest
from aiosmtpd.smtp import Envelope

from broadsheet_notifications.commands import FollowArticle, Unsubscribe
from broadsheet_notifications.domain import Delivery, DeliveryState
from broadsheet_notifications.inbound import (
    MAX_RECIPIENTS,
    Mailbox,
    UnsubscribeHandler,
    subject_of,
    token_from_subject,
)
from broadsheet_shared.testing import DEV_DIGEST, tampered

pytestmark = pytest.mark.unit
SLUG = "foreign-affairs-1"
TOKEN = "WyJzdWJzY3JpcHRpb24iLCJmb2xsb3ctYWJjIl0.Zq3x_-9aBcDeFgHiJkLmNoPqRsT"

Mailto = Callable[[bytes], tuple[str, str]]


@pytest.fixture
async def followed(world: Any, ev: Any) -> Any:
    """a@example.org follows the article, confirmed, with one reply mail still pending."""
    await world.planner.article_changed(ev.article().data)
    await world.subscriptions.follow(FollowArticle(SLUG, "a@example.org", "1.1.1.1"))
    await world.confirm("a@example.org")
    await world.planner.comment_approved("e1", ev.approved("c1").data, None)
    return world


def handler(world: Any) -> UnsubscribeHandler:
    return UnsubscribeHandler(Mailbox("unsubscribe@news.example"), world.subscriptions.unsubscribe)


def follow_mail(world: Any) -> Delivery:
    return next(d for d in world.repos.ledger.deliveries.values() if d.kind == "follow")


def test_mailbox_accepts_only_its_address() -> None:
    box = Mailbox("Unsubscribe@News.Example")
    assert box.accepts("unsubscribe@news.example")
    assert box.accepts("<UNSUBSCRIBE@news.EXAMPLE>")
    assert box.domain == "news.example"
    for other in (
        "postmaster@news.example",
        "unsubscribe@news.example.evil",
        "unsubscribe+x@news.example",
        "unsubscribe@other.example",
        "",
    ):
        assert not box.accepts(other), other


@pytest.mark.parametrize("configured", ["", "unsubscribe", "@news.example", "unsubscribe@"])
def test_mailbox_refuses_a_configuration_that_is_no_address(configured: str) -> None:
    with pytest.raises(ValueError, match="not a mailbox address"):
        Mailbox(configured)


@pytest.mark.parametrize(
    "subject",
    [
        f"unsubscribe {TOKEN}",
        f"Unsubscribe {TOKEN}",
        f"Re: unsubscribe   {TOKEN}",
        f"unsubscribe\r\n {TOKEN}",  # folded by the client
        f"unsubscribe {TOKEN} (sent from my phone)",
        f"unsubscribe .{TOKEN}",  # itsdangerous marks compressed payloads with a leading dot
    ],
)
def test_token_found_in_the_subject(subject: str) -> None:
    assert token_from_subject(subject) in (TOKEN, f".{TOKEN}")


@pytest.mark.parametrize(
    "subject",
    [
        "",
        "unsubscribe",
        "please unsubscribe me",
        f"unsubscribe{TOKEN}",
        f"unsubscribe {TOKEN}<script>",
        "unsubscribe short",
        f"unsubscribe {'A' * 600}",
    ],
)
def test_no_token_in_other_subjects(subject: str) -> None:
    assert token_from_subject(subject) is None


def test_subject_decoded_from_encoded_words_and_missing_subject_is_empty() -> None:
    encoded = Header(f"unsubscribe {TOKEN} merci à vous", "utf-8").encode()
    message = f"From: a@example.org\r\nSubject: {encoded}\r\n\r\nbody\r\n".encode()
    assert token_from_subject(subject_of(message)) == TOKEN
    assert subject_of(b"From: a@example.org\r\n\r\nno subject\r\n") == ""


async def test_the_mail_we_send_carries_an_address_and_subject_we_accept(
    followed: Any, mailto: Mailto
) -> None:
    delivery = follow_mail(followed)
    to, subject = mailto(followed.composer.compose(delivery).data)
    assert Mailbox("unsubscribe@news.example").accepts(to)
    token = token_from_subject(subject)
    assert token is not None
    claim = followed.signer.read_unsubscribe(token)  # the same token as the https link
    assert (claim.scope, claim.target) == ("subscription", delivery.subscription_id)


async def test_rcpt_refuses_other_addresses_and_too_many(world: Any) -> None:
    h, envelope = handler(world), Envelope()
    refused = await h.handle_RCPT(None, None, envelope, "editor@news.example", [])  # type: ignore[arg-type]
    assert refused.startswith("550 ")
    assert envelope.rcpt_tos == []
    for _ in range(MAX_RECIPIENTS):
        ok = await h.handle_RCPT(None, None, envelope, "unsubscribe@news.example", [])  # type: ignore[arg-type]
        assert ok.startswith("250 ")
    full = await h.handle_RCPT(None, None, envelope, "unsubscribe@news.example", [])  # type: ignore[arg-type]
    assert full.startswith("452 ")
    assert len(envelope.rcpt_tos) == MAX_RECIPIENTS


async def test_valid_token_unsubscribes_once_and_again_is_harmless(
    followed: Any, mailto: Mailto
) -> None:
    w = followed
    pending = follow_mail(w)
    assert pending.state == DeliveryState.PENDING
    _, subject = mailto(w.composer.compose(pending).data)
    envelope = Envelope()
    envelope.content = envelope.original_content = f"Subject: {subject}\r\n\r\n".encode()
    assert (await handler(w).handle_DATA(None, None, envelope)).startswith("250 ")  # type: ignore[arg-type]
    assert not w.repos.subscriptions.by_id[pending.subscription_id].active
    assert follow_mail(w).state == DeliveryState.CANCELLED
    assert (await handler(w).process(subject)).startswith("250 ")  # idempotent


async def test_scope_all_token_ends_every_subscription(followed: Any) -> None:
    w = followed
    token = w.signer.unsubscribe_token("all", DEV_DIGEST("a@example.org"))
    assert (await handler(w).process(f"unsubscribe {token}")).startswith("250 ")
    assert not any(s.active for s in w.repos.subscriptions.by_id.values())


async def test_tampered_unknown_or_missing_token_is_550_and_changes_nothing(followed: Any) -> None:
    w = followed
    sub_id = follow_mail(w).subscription_id
    token = w.signer.unsubscribe_token("subscription", sub_id)
    unknown = w.signer.unsubscribe_token("subscription", "follow-unknown")
    confirm = w.confirm_token("a@example.org")  # other salt
    invalid = "550 5.7.1 This unsubscribe link is not valid."
    for subject, reply in (
        (f"unsubscribe {tampered(token)}", invalid),
        (f"unsubscribe {unknown}", "550 5.7.1 There is no such subscription."),
        (f"unsubscribe {confirm}", invalid),
        ("unsubscribe", "550 5.7.1 No unsubscribe token in the Subject"),
    ):
        assert await handler(w).process(subject) == reply, subject
    assert w.repos.subscriptions.by_id[sub_id].active
    assert follow_mail(w).state == DeliveryState.PENDING


async def test_a_failing_database_is_451_so_the_sender_retries(world: Any) -> None:
    async def down(command: Unsubscribe) -> None:
        raise ConnectionError("database unreachable")

    h = UnsubscribeHandler(Mailbox("unsubscribe@news.example"), down)
    assert (await h.process(f"unsubscribe {TOKEN}")).startswith("451 ")
