"""Staff access through the gateway of the running platform: roles, sign-in throttling from
distinct clients, sign-out, and a disabled account losing access in every service."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from broadsheet_devstack.services import DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD

from .conftest import Platform

pytestmark = pytest.mark.e2e

PASSWORD = "a long staff password"


def client_from(platform: Platform, address: str = "127.0.0.1") -> httpx.Client:
    """A client whose socket is bound to ``address``: 127.0.0.2, 127.0.0.3 … are all this
    machine, and the gateway and the services see each as another client."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=platform.gateway_url, transport=transport, timeout=30)


def new_account(platform: Platform, role: str) -> str:
    """A fresh staff account with ``role``; its email."""
    email = f"{role}-{secrets.token_hex(4)}@example.org"
    with client_from(platform) as client:
        created = client.post(
            "/api/editor/users",
            json={"email": email, "name": role.title(), "password": PASSWORD, "role": role},
            headers={"Authorization": f"Bearer {platform.token}"},
        )
    assert created.status_code == 201, created.text
    return email


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/auth/token", data={"username": email, "password": password})


def bearer(tokens: httpx.Response) -> dict[str, str]:
    assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def test_an_editor_cannot_moderate_and_a_moderator_cannot_write(platform: Platform) -> None:
    editor, moderator = new_account(platform, "editor"), new_account(platform, "moderator")
    with client_from(platform) as client:
        as_editor, as_moderator = (
            bearer(sign_in(client, editor)),
            bearer(sign_in(client, moderator)),
        )
        # The moderation queue shows commenters' emails and addresses: not to editors.
        assert client.get("/api/editor/comments", headers=as_editor).status_code == 403
        assert client.get("/api/editor/comments", headers=as_moderator).status_code == 200
        article = {"title": "Not mine to write", "body": "Text.", "section": "Foreign Affairs"}
        refused = client.post("/api/editor/articles", json=article, headers=as_moderator)
        assert refused.status_code == 403


def test_failing_sign_ins_throttle_their_client_not_the_account(platform: Platform) -> None:
    with client_from(platform, "127.0.0.2") as attacker:
        for _ in range(10):
            assert sign_in(attacker, DEFAULT_EDITOR_EMAIL, "guess").status_code == 401
        throttled = sign_in(attacker, DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD)
        assert throttled.status_code == 429
        assert "retry-after" in throttled.headers
    # The owner, from a client that has not been failing, signs in with the right password.
    with client_from(platform, "127.0.0.3") as owner:
        bearer(sign_in(owner, DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD))


def test_signing_out_revokes_the_refresh_token(platform: Platform) -> None:
    email = new_account(platform, "editor")
    with client_from(platform) as client:
        refresh = {"refresh_token": sign_in(client, email).json()["refresh_token"]}
        assert client.post("/api/auth/logout", json=refresh).status_code == 204
        assert client.post("/api/auth/refresh", json=refresh).status_code == 401


def test_a_disabled_account_loses_access_in_every_service_within_a_minute(
    platform: Platform,
) -> None:
    email = new_account(platform, "moderator")
    admin = {"Authorization": f"Bearer {platform.token}"}
    with client_from(platform) as client:
        tokens = sign_in(client, email)
        moderator = bearer(tokens)
        assert client.get("/api/editor/comments", headers=moderator).status_code == 200
        deliveries = "/api/editor/notifications/deliveries"
        assert client.get(deliveries, headers=moderator).status_code == 200
        account_id = next(
            user["id"]
            for user in client.get("/api/editor/users", headers=admin).json()["items"]
            if user["email"] == email
        )
        disabled = client.patch(
            f"/api/editor/users/{account_id}", json={"disabled": True}, headers=admin
        )
        assert disabled.status_code == 200, disabled.text
        # The access token has minutes left; comments and notifications learn of the change
        # from the event, in seconds.
        deadline = time.monotonic() + 60
        pending = {"/api/editor/comments", deliveries}
        while pending and time.monotonic() < deadline:
            pending = {p for p in pending if client.get(p, headers=moderator).status_code != 401}
            time.sleep(0.2)
        assert pending == set()
        refresh = {"refresh_token": tokens.json()["refresh_token"]}
        assert client.post("/api/auth/refresh", json=refresh).status_code == 401
