"""Issue 11, item 2, through the gateway of the running platform with the real SMTP capture: a
stranger who gives a confirmed reader's address subscribes nothing, learns nothing from the
answer, and can make us send that mailbox only a handful of confirmation mails."""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import urlsplit

import httpx
import pytest

from broadsheet_devstack.pytest_plugin import Infra, StoredMessage

from .conftest import Platform, _wait_for

pytestmark = pytest.mark.e2e

# The notifications service's default allowance of confirmation mails per mailbox and day.
ALLOWANCE = 3


def _publish(client: httpx.Client, token: str, title: str) -> str:
    auth = {"Authorization": f"Bearer {token}"}
    created = client.post(
        "/api/editor/articles",
        json={"title": title, "body": "Shares rose.", "section": "Foreign Affairs"},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    published = client.post(f"/api/editor/articles/{created.json()['id']}/publish", headers=auth)
    assert published.status_code == 200, published.text
    slug: str = published.json()["slug"]
    return slug


def _follow(client: httpx.Client, slug: str, email: str) -> httpx.Response:
    return client.post(f"/api/articles/{slug}/followers", json={"email": email})


def test_a_stranger_cannot_subscribe_a_confirmed_address(platform: Platform, infra: Infra) -> None:
    local = f"victim-{secrets.token_hex(3)}"
    victim = f"{local}@example.com"

    def to_mailbox(message: StoredMessage) -> bool:
        return any(r.startswith((f"{local}@", f"{local}+")) for r in message.envelope_to)

    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        title = f"Markets rally {secrets.token_hex(2)}"
        other = _publish(client, platform.token, title)

        # The victim follows the platform's article and confirms it, as a reader does.
        assert _follow(client, platform.article_slug, victim).status_code == 202
        confirmation = infra.wait_for_mail(to_mailbox, timeout=30)
        link = re.search(r"https?://\S+/subscriptions/confirm/\S+", confirmation.text or "")
        assert link, confirmation.text
        assert client.post(urlsplit(link.group(0)).path).status_code == 200

        # The other article reaches the comments and notifications services through its event.
        _wait_for(lambda: client.get(f"/api/articles/{other}/comments").status_code == 200)
        _wait_for(
            lambda: _follow(client, other, f"n-{secrets.token_hex(3)}@example.com").is_success
        )

        # A stranger gives the victim's address: the answer is a new address's answer.
        stranger = _follow(client, other, victim)
        fresh = _follow(client, other, f"new-{secrets.token_hex(3)}@example.com")
        assert (stranger.status_code, stranger.json()) == (fresh.status_code, fresh.json())
        assert stranger.json() == {"status": "confirmation_sent"}
        # ... and again, with plus-addressed variants of the same mailbox: 20 requests in all.
        for n in range(19):
            assert _follow(client, other, f"{local}+{n}@example.com").status_code == 202

        # A comment on the other article mails nobody at the victim's; one on the article they
        # confirmed does (posted second, so once it is here the first has been handled too).
        for slug in (other, platform.article_slug):
            posted = client.post(
                f"/api/articles/{slug}/comments",
                json={"author_name": "Bob", "author_email": "bob@example.com", "body": "Hm."},
            )
            assert posted.status_code == 201, posted.text
        infra.wait_for_mail(
            lambda m: to_mailbox(m) and m.subject.startswith("New comment on “Talks"), timeout=30
        )
        time.sleep(2)  # confirmation mails still in flight
        mails = [m for m in infra.mail() if to_mailbox(m)]
        assert not [m for m in mails if m.subject.startswith("New comment") and title in m.subject]
        confirmations = [m for m in mails if m.subject.startswith("Confirm:")]
        # The victim's own, then at most the allowance (the stranger's requests share it).
        assert 1 <= len(confirmations) <= ALLOWANCE, [m.subject for m in confirmations]
