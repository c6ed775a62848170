"""The composed email: parts, links, headers, and no header injection."""

from datetime import UTC, datetime
from email import message_from_bytes
from email.generator import Generator
from email.policy import compat32, default
from typing import Any

import pytest

from broadsheet_notifications import mail
from broadsheet_notifications.domain import Delivery
from broadsheet_shared.testing import DEV_DIGEST

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def delivery(**content: Any) -> Delivery:
    base = {
        "article_title": "Talks resume in Geneva",
        "article_url_path": "/articles/talks",
        "comment_url_path": "/articles/talks#comment-c2",
        "author_name": "Bob",
        "excerpt": "I disagree <b>strongly</b>",
    }
    base.update(content)
    return Delivery(
        id="d1",
        kind="reply",
        recipient_hash=DEV_DIGEST("ada@example.org"),
        email="ada@example.org",
        article_id="a1",
        source_event_id="e1",
        created_at=NOW,
        next_attempt_at=NOW,
        deadline=NOW,
        subscription_id="reply-x",
        comment_ids=["c2"],
        content=base,
    )


def roundtrip(world: Any, d: Delivery) -> Any:
    return message_from_bytes(world.composer.compose(d).data, policy=default)


def test_reply_mail_has_everything(world: Any) -> None:
    msg = roundtrip(world, delivery())
    assert msg["Subject"] == "New reply to your comment on “Talks resume in Geneva”"
    assert msg["From"] == "Broadsheet <notifications@news.example>"
    assert msg["Reply-To"] == "desk@news.example"
    assert msg["Message-ID"] == "<d1@news.example>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    lu = msg["List-Unsubscribe"]
    assert "<https://news.example/subscriptions/unsubscribe/" in lu
    assert "<mailto:" in lu
    token = lu.split("/subscriptions/unsubscribe/")[1].split(">")[0]
    assert world.signer.read_unsubscribe(token).target == "reply-x"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "https://news.example/articles/talks#comment-c2" in text
    assert "I disagree <b>strongly</b>" in text  # plain text is not escaped
    assert "&lt;b&gt;strongly&lt;/b&gt;" in html
    assert "<b>strongly" not in html


@pytest.mark.parametrize(
    "title",
    [
        "Evil\r\nBcc: victim@example.org",
        "Evil\nX-Injected: yes",
        "=?utf-8?q?Evil=0D=0ABcc:_victim@example.org?=",
        "Ünïcödé “quotes” " + "long " * 40,
    ],
)
def test_no_header_injection(world: Any, title: str) -> None:
    raw = world.composer.compose(delivery(article_title=title, author_name=title)).data
    msg = message_from_bytes(raw, policy=default)
    assert msg["Bcc"] is None
    assert msg["X-Injected"] is None
    assert "\n" not in str(msg["Subject"])
    assert "\r" not in str(msg["Subject"])
    if title.startswith("=?"):  # shown literally, never decoded as the attacker's word
        assert title in str(msg["Subject"])
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in header_block
    assert b"\nX-Injected" not in header_block


def request(kind: str, title: str, path: str) -> dict[str, str]:
    return {"id": f"{kind}-x", "kind": kind, "article_title": title, "article_url_path": path}


def test_confirmation_mail_lists_every_request_and_links_to_confirm_page(world: Any) -> None:
    d = delivery(
        requests=[
            request("follow", "Talks resume in Geneva", "/articles/talks"),
            request("reply", "Rain <b>again</b>", "/articles/rain"),
            request("follow", "Markets", "/articles/markets"),
        ]
    )
    d.kind = "confirmation"
    msg = roundtrip(world, d)
    assert msg["List-Unsubscribe"] is None
    assert str(msg["Subject"]) == (
        "Confirm: follow “Talks resume in Geneva”, replies to your comment on “Rain <b>again</b>”"
        " and 1 more"
    )
    text = msg.get_body(("plain",)).get_content()
    assert "- follow “Markets”: https://news.example/articles/markets" in text
    html = msg.get_body(("html",)).get_content()
    assert "Rain &lt;b&gt;again&lt;/b&gt;" in html
    token = text.split("/subscriptions/confirm/")[1].split()[0]
    claim = world.signer.read_confirm(token)
    # The link names the address and when its mail was written: what it may confirm.
    assert claim.recipient == DEV_DIGEST("ada@example.org")
    assert claim.issued_at == d.created_at


@pytest.mark.parametrize("kind", ["reply", "follow", "digest"])
def test_every_notification_mail_links_to_the_manage_page_of_its_address(
    world: Any, kind: str
) -> None:
    d = delivery()
    d.kind = kind
    msg = roundtrip(world, d)
    for part in ("plain", "html"):
        body = msg.get_body((part,)).get_content()
        assert "/subscriptions/unsubscribe/" in body  # the per-mail links stay
        token = body.split("https://news.example/subscriptions/manage/")[1].split('"')[0].split()[0]
        assert world.signer.read_manage(token) == DEV_DIGEST("ada@example.org")


def test_the_set_password_mail_links_to_the_newsroom_without_unsubscribe(world: Any) -> None:
    d = delivery()
    staff_mail = Delivery(
        **{
            **{f: getattr(d, f) for f in ("id", "recipient_hash", "email", "created_at")},
            "kind": "staff_password",
            "article_id": None,
            "source_event_id": "e1",
            "next_attempt_at": NOW,
            "deadline": NOW,
            "content": {"name": "Nell", "token": "tok-123", "expires_at": "2026-01-03T00:00:00"},
        }
    )
    msg = roundtrip(world, staff_mail)
    assert msg["Subject"] == "Set your password for the Broadsheet Newsroom"
    assert msg["List-Unsubscribe"] is None
    text = msg.get_body(("plain",)).get_content()
    assert "Hello Nell," in text
    assert "/newsroom/set-password/tok-123" in text
    assert "until 2026-01-03 00:00 UTC" in text
    assert (
        'href="https://news.example/newsroom/set-password/tok-123"'
        in msg.get_body(("html",)).get_content()
    )


@pytest.mark.parametrize(
    "title", ["Talks resume in Geneva", "Ünïcode, and a title long enough to fold " * 3, "a  b\tc"]
)
def test_the_wire_is_what_the_standard_policy_writes(
    world: Any, title: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The composer writes short ASCII headers itself (compat32 is slow at it); the bytes must be
    # the standard library's to the last one, long and encoded headers folded as before.
    monkeypatch.setattr(Generator, "_make_boundary", classmethod(lambda cls, text=None: "=="))
    d = delivery(article_title=title)
    ours = world.composer.compose(d).data
    monkeypatch.setattr(mail, "_WIRE", compat32.clone(linesep="\r\n"))
    assert ours == world.composer.compose(d).data
