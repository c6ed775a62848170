"""A reader's own data by a mailed link: one public answer for every address, mails limited per
mailbox and client; the export holds that address's subscriptions and mails and nothing of
another's, with a grant for the comments service; erasing removes them, keeps only the digest,
tells the other services by event, and nothing later brings the address back."""

from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest

from broadsheet_notifications.commands import (
    EraseData,
    FollowArticle,
    RequestDataLink,
    RequestManageLink,
    SuppressAddress,
)
from broadsheet_notifications.domain import AddressState, Delivery
from broadsheet_shared.errors import InvalidLink, NotFound, RateLimited
from broadsheet_shared.events import ReaderErasedV1
from broadsheet_shared.testing import DEV_DIGEST, tampered

pytestmark = pytest.mark.unit
READER = "reader@example.org"
OTHER = "other@example.org"


def data_mails(w: Any, email: str = READER) -> list[Delivery]:
    recipient = DEV_DIGEST(email)
    return [
        d
        for d in w.repos.ledger.deliveries.values()
        if d.kind == "data" and d.recipient_hash == recipient
    ]


async def ask(w: Any, email: str = READER, client: str = "1.1.1.1") -> None:
    await w.my_data.request_link(RequestDataLink(email, client))


def token(w: Any, email: str = READER) -> str:
    return str(w.signer.data_token(DEV_DIGEST(email)))


async def two_readers(w: Any, ev: Any) -> Any:
    """READER and OTHER each confirmed a follow of art-1; READER asked for replies to c1."""
    for email in (READER, OTHER):
        await w.subscriptions.follow(FollowArticle("foreign-affairs-1", email, "1.1.1.1"))
        await w.confirm(email)
    await w.planner.comment_posted(ev.posted("c1", READER).data, None)
    return w


async def test_the_mail_links_to_the_my_data_page_of_its_address(published: Any) -> None:
    w = published
    await ask(w, "Commenter@Example.org")  # never subscribed: comments may still hold data
    (mail,) = data_mails(w, "commenter@example.org")
    message = message_from_bytes(w.composer.compose(mail).data, policy=default)
    body = message.get_body(("plain",)).get_content()
    link = body.split("https://news.example/my-data/")[1].split()[0]
    assert w.signer.read_data(link) == DEV_DIGEST("commenter@example.org")
    assert "List-Unsubscribe" not in message
    # Asking records no address: only the mail's own row.
    assert DEV_DIGEST("commenter@example.org") not in w.repos.addresses.by_recipient


async def test_one_answer_whatever_the_address_and_mails_limited(published: Any) -> None:
    w = published
    await w.staff.suppress(SuppressAddress("gone@example.org"), w.moderator)
    for email in ("stranger@example.org", "gone@example.org", READER):
        assert await ask(w, email) is None  # no answer tells the addresses apart
    assert data_mails(w, "gone@example.org") == []
    for n in range(4):
        w.clock.advance(timedelta(minutes=1))
        await ask(w, READER, client=f"10.0.0.{n}")
    assert len(data_mails(w)) == 3  # whoever asks, three mails a day at most
    with pytest.raises(RateLimited):  # the mailbox's request allowance; name+tag@ is name@
        await ask(w, "reader+x@example.org", client="10.0.0.99")
    for n in range(10):
        await ask(w, f"someone{n}@example.org", client="10.9.9.9")
    with pytest.raises(RateLimited):  # and the client's
        await ask(w, "one-more@example.org", client="10.9.9.9")


async def test_the_export_holds_the_addresss_data_and_nothing_of_another(
    published: Any, ev: Any
) -> None:
    w = await two_readers(published, ev)
    await ask(w)
    export = await w.my_data.export(token(w))
    assert export["address"]["email"] == READER
    assert export["address"]["state"] == "confirmed"
    assert [(s["kind"], s["state"], s["article_title"]) for s in export["subscriptions"]] == [
        ("follow", "active", "Talks resume in Geneva"),
        ("reply", "pending", "Talks resume in Geneva"),
    ]
    assert [d["kind"] for d in export["deliveries"]] == ["confirmation", "confirmation", "data"]
    assert {d["email"] for d in export["deliveries"]} == {READER}
    assert OTHER not in str(export)
    assert w.grants.read(export["grant"]) == DEV_DIGEST(READER)


async def test_data_links_are_refused_when_forged_or_of_another_kind(published: Any) -> None:
    w = published
    with pytest.raises(InvalidLink):
        await w.my_data.export(tampered(token(w)))
    with pytest.raises(InvalidLink):  # a manage token is no data token
        await w.my_data.export(w.signer.manage_token(DEV_DIGEST(READER)))
    with pytest.raises(InvalidLink):
        await w.my_data.erase(EraseData(w.signer.manage_token(DEV_DIGEST(READER))))
    assert w.uow.of_type(ReaderErasedV1) == []


async def test_erasing_removes_the_data_keeps_the_digest_and_tells_the_others(
    published: Any, ev: Any
) -> None:
    w = await two_readers(published, ev)
    recipient = DEV_DIGEST(READER)
    await w.my_data.erase(EraseData(token(w)))
    assert [s for s in w.repos.subscriptions.by_id.values() if s.recipient_hash == recipient] == []
    assert [d for d in w.repos.ledger.deliveries.values() if d.recipient_hash == recipient] == []
    kept = w.repos.addresses.by_recipient[recipient]
    assert (kept.state, kept.email, kept.created_at) == (AddressState.ERASED, "", None)
    (event,) = w.uow.of_type(ReaderErasedV1)
    assert (event.subject, event.data.address_digest) == (recipient, recipient)
    assert READER not in event.model_dump_json()
    # The other reader keeps everything.
    other = await w.my_data.export(token(w, OTHER))
    assert [s["kind"] for s in other["subscriptions"]] == ["follow"]
    export = await w.my_data.export(token(w))
    assert (export["address"], export["subscriptions"], export["deliveries"]) == (None, [], [])
    # Idempotent: again, the same state, and the others are told again (a no-op for them).
    await w.my_data.erase(EraseData(token(w)))
    assert await w.my_data.export(token(w)) == {**export, "grant": export["grant"]}
    assert len(w.uow.of_type(ReaderErasedV1)) == 2


async def test_nothing_later_brings_an_erased_address_back(published: Any, ev: Any) -> None:
    w = await two_readers(published, ev)
    await w.my_data.erase(EraseData(token(w)))
    recipient = DEV_DIGEST(READER)
    # A late or replayed comment.posted with "notify me of replies", a stranger's re-follow, a
    # manage link asked for: nothing is recorded, nothing mailed.
    await w.planner.comment_posted(ev.posted("c9", READER).data, None)
    await w.subscriptions.follow(FollowArticle("foreign-affairs-1", READER, "2.2.2.2"))
    await w.subscriptions.request_manage_link(RequestManageLink(READER, "2.2.2.2"))
    assert [s for s in w.repos.subscriptions.by_id.values() if s.recipient_hash == recipient] == []
    assert [d for d in w.repos.ledger.deliveries.values() if d.recipient_hash == recipient] == []
    assert w.repos.addresses.by_recipient[recipient].email == ""
    # An old manage link finds nothing to show.
    with pytest.raises(NotFound):
        await w.subscriptions.manage(w.signer.manage_token(recipient))
