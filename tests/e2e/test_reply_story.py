"""The reply story across every service, through the gateway, with the real SMTP capture:
comment with "notify me" → confirmation mail → confirm by POST → a reply → exactly one reply
mail with a working one-click unsubscribe → after unsubscribing, no more mail.

"No mail" is proven without sleeping: a sentinel comment posted after the comments under test
(same article, so same partition, so handled after them by notifications) asks for its own
confirmation mail, and that mail must arrive first. A fixed sleep proved nothing on a loaded
machine, where notifications may still be behind when it ends."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

import httpx
import pytest

from broadsheet_devstack.pytest_plugin import Infra, StoredMessage

from .conftest import Platform

pytestmark = pytest.mark.e2e

# How long a mail may take from the comment's POST: through the comments outbox, Kafka,
# notifications' consumer and its delivery worker.
MAIL_TIMEOUT = 30.0


def _path(url: str) -> str:
    # Links carry PUBLIC_BASE_URL; the test's gateway listens on its own port.
    return urlsplit(url).path


def _link(message: StoredMessage, kind: str) -> str:
    match = re.search(rf"https?://[^\s\"'<>]*/subscriptions/{kind}/[^\s\"'<>]+", message.text or "")
    assert match, f"no {kind} link in:\n{message.text}"
    return _path(match.group(0))


def _to(address: str) -> object:
    return lambda message: address in message.envelope_to


def _post_comment(
    client: httpx.Client, slug: str, name: str, email: str, body: str, **extra: object
) -> str:
    response = client.post(
        f"/api/articles/{slug}/comments",
        json={"author_name": name, "author_email": email, "body": body, **extra},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "approved"
    comment_id: str = response.json()["id"]
    return comment_id


def _mail_to(infra: Infra, address: str) -> list[StoredMessage]:
    return [m for m in infra.mail() if address in m.envelope_to]


def _sentinel(client: httpx.Client, infra: Infra, slug: str) -> None:
    """Returns once notifications has handled every comment posted on ``slug`` before."""
    token = secrets.token_hex(4)
    address = f"sentinel-{token}@example.com"
    # A body of its own: comments holds a repeated body as a duplicate, and a held comment asks
    # for no confirmation mail.
    _post_comment(client, slug, "Sentinel", address, f"Noted ({token}).", notify_replies=True)
    infra.wait_for_mail(_to(address), timeout=MAIL_TIMEOUT)  # type: ignore[arg-type]


def test_reply_story_from_comment_to_unsubscribe(platform: Platform, infra: Infra) -> None:
    slug = platform.article_slug
    alice = f"alice-{secrets.token_hex(3)}@example.com"
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        parent = _post_comment(
            client, slug, "Alice", alice, "Will the talks hold?", notify_replies=True
        )

        confirmation = infra.wait_for_mail(_to(alice), timeout=MAIL_TIMEOUT)  # type: ignore[arg-type]
        confirm_path = _link(confirmation, "confirm")
        # Fetching the link (as a mail scanner would) shows a button and confirms nothing.
        page = client.get(confirm_path)
        assert page.status_code == 200
        assert "<form" in page.text
        assert 'method="post"' in page.text.lower()
        confirmed = client.post(confirm_path)
        assert confirmed.status_code in (200, 303), confirmed.text

        _post_comment(client, slug, "Bob", "bob@example.com", "They will.", parent_id=parent)
        reply_mail = infra.wait_for_mail(
            lambda m: alice in m.envelope_to and "Bob" in (m.text or ""),
            timeout=MAIL_TIMEOUT,
        )
        assert "#comment-" in (reply_mail.text or "")
        assert reply_mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
        unsubscribe_header = reply_mail.header("List-Unsubscribe") or ""
        https_link = re.search(r"<(https?://[^>]+)>", unsubscribe_header)
        assert https_link, unsubscribe_header
        assert "mailto:" in unsubscribe_header
        # Delivered again or not, exactly one reply mail.
        _sentinel(client, infra, slug)
        assert len(_mail_to(infra, alice)) == 2  # the confirmation and the one reply

        # RFC 8058 one-click: a POST with that body, no cookie, no login.
        one_click = client.post(
            _path(https_link.group(1)),
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert one_click.status_code in (200, 303), one_click.text

        _post_comment(client, slug, "Carol", "carol@example.com", "Not so sure.", parent_id=parent)
        _sentinel(client, infra, slug)
        assert len(_mail_to(infra, alice)) == 2, "mail after unsubscribing"


def test_self_reply_sends_nothing(platform: Platform, infra: Infra) -> None:
    slug = platform.article_slug
    dana = f"dana-{secrets.token_hex(3)}@example.com"
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        parent = _post_comment(client, slug, "Dana", dana, "A first point.", notify_replies=True)
        confirmation = infra.wait_for_mail(_to(dana), timeout=MAIL_TIMEOUT)  # type: ignore[arg-type]
        assert client.post(_link(confirmation, "confirm")).status_code in (200, 303)
        _post_comment(client, slug, "Dana", dana, "And a second one.", parent_id=parent)
        _sentinel(client, infra, slug)
        assert len(_mail_to(infra, dana)) == 1, "emailed about her own reply"
