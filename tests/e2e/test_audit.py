"""The audit log across services, through the gateway: an admin publishes (articles), a moderator
approves a comment (comments), someone fails to sign in (articles, no transaction of its own);
each service records its action through its outbox, and the articles service's log lists all
three for an admin, with who, what, when and from where (each actor from its own loopback
address), filtered by actor and by action. An editor may not read it."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from .conftest import Platform

pytestmark = pytest.mark.e2e

PASSWORD = "a-long-enough-password"


def _client(platform: Platform, address: str, token: str | None = None) -> httpx.Client:
    # 127.0.0.2, .3, … are this machine too: each actor comes from an address of its own.
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(
        base_url=platform.gateway_url,
        timeout=30,
        headers=headers,
        transport=httpx.HTTPTransport(local_address=address),
    )


def _staff(admin: httpx.Client, role: str) -> tuple[str, str]:
    """A new account with ``role``: its id and email."""
    email = f"{role}-{secrets.token_hex(4)}@example.org"
    created = admin.post(
        "/api/editor/users",
        json={"email": email, "name": f"A {role}", "password": PASSWORD, "role": role},
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], email


def _sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/auth/token", data={"username": email, "password": password})


def _audit(admin: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = admin.get("/api/editor/audit", params={"limit": "100", **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _wait_for_entries(admin: httpx.Client, wanted: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """The log once every (action, target) in ``wanted`` is in it (consumed from Kafka)."""
    deadline = time.monotonic() + 30
    while True:
        items = _audit(admin)
        if wanted <= {(e["action"], e["target"]) for e in items}:
            return items
        assert time.monotonic() < deadline, f"missing {wanted} in {items}"
        time.sleep(0.2)


def test_staff_actions_of_every_service_are_in_the_admins_audit_log(platform: Platform) -> None:
    started = datetime.now(UTC)
    with (
        _client(platform, "127.0.0.2", platform.token) as admin,
        _client(platform, "127.0.0.3") as moderator,
        _client(platform, "127.0.0.4") as stranger,
        _client(platform, "127.0.0.5") as editor,
    ):
        created = admin.post(
            "/api/editor/articles",
            json={"title": "Audit trail", "body": "Who did what.", "section": "Foreign Affairs"},
        )
        assert created.status_code == 201, created.text
        article_id = created.json()["id"]
        published = admin.post(f"/api/editor/articles/{article_id}/publish")
        assert published.status_code == 200, published.text

        moderator_id, moderator_email = _staff(admin, "moderator")
        signed_in = _sign_in(moderator, moderator_email)
        assert signed_in.status_code == 200, signed_in.text
        moderator.headers["Authorization"] = f"Bearer {signed_in.json()['access_token']}"
        # Three links are more than the default policy lets through: the comment is held.
        held = stranger.post(
            f"/api/articles/{platform.article_slug}/comments",
            json={
                "author_name": "Linker",
                "body": "See https://a.example, https://b.example and https://c.example",
            },
        )
        assert held.status_code == 201, held.text
        assert held.json()["status"] == "pending"
        comment_id = held.json()["id"]
        approved = moderator.post(f"/api/editor/comments/{comment_id}/approve")
        assert approved.status_code == 200, approved.text

        tried = f"intruder-{secrets.token_hex(4)}@example.org"
        assert _sign_in(stranger, tried, "wrong-password").status_code == 401

        entries = _wait_for_entries(
            admin,
            {
                ("article.published", article_id),
                ("comment.approved", comment_id),
                ("staff.sign_in_failed", tried),
            },
        )
        by_action = {(e["action"], e["target"]): e for e in entries}
        published_entry = by_action[("article.published", article_id)]
        assert published_entry["source"] == "articles"
        assert (published_entry["actor_role"], published_entry["client"]) == ("admin", "127.0.0.2")
        approved_entry = by_action[("comment.approved", comment_id)]
        assert approved_entry["source"] == "comments"
        assert (approved_entry["actor_id"], approved_entry["actor_role"]) == (
            moderator_id,
            "moderator",
        )
        assert approved_entry["client"] == "127.0.0.3"
        failed_entry = by_action[("staff.sign_in_failed", tried)]
        assert (failed_entry["actor_id"], failed_entry["actor_name"]) == (None, tried)
        assert failed_entry["client"] == "127.0.0.4"
        for entry in (published_entry, approved_entry, failed_entry):
            at = datetime.fromisoformat(entry["at"])
            assert started - timedelta(seconds=5) <= at <= datetime.now(UTC)
        # Newest first.
        times = [datetime.fromisoformat(e["at"]) for e in entries]
        assert times == sorted(times, reverse=True)

        mine = _audit(admin, actor=moderator_id)
        assert {(e["action"], e["actor_id"]) for e in mine} == {
            ("staff.signed_in", moderator_id),
            ("comment.approved", moderator_id),
        }
        failed = _audit(admin, action="staff.sign_in_failed")
        assert {e["action"] for e in failed} == {"staff.sign_in_failed"}
        assert tried in {e["target"] for e in failed}
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert _audit(admin, since=later) == []

        _, editor_email = _staff(admin, "editor")
        editor_token = _sign_in(editor, editor_email).json()["access_token"]
        refused = editor.get(
            "/api/editor/audit", headers={"Authorization": f"Bearer {editor_token}"}
        )
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
