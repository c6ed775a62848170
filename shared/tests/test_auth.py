from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from broadsheet_shared.auth import (
    AdminPrincipal,
    Principal,
    StaffPrincipal,
    TokenIssuer,
    TokenVerifier,
)
from broadsheet_shared.devkeys import DEV_JWT_PRIVATE_KEY, DEV_JWT_PUBLIC_KEY
from broadsheet_shared.http.problems import install_problem_handlers
from broadsheet_shared.testing import FakeStaffAccess

pytestmark = pytest.mark.unit

ISSUER, AUDIENCE = "broadsheet-articles", "broadsheet"
EDITOR = Principal(subject="u1", role="editor", name="Ed")
ADMIN = Principal(subject="u2", role="admin", name="Ad")


def issuer(key: str = DEV_JWT_PRIVATE_KEY, ttl: timedelta = timedelta(minutes=15)) -> TokenIssuer:
    return TokenIssuer(key, issuer=ISSUER, audience=AUDIENCE, ttl=ttl)


def app(access: FakeStaffAccess | None = None) -> FastAPI:
    api = FastAPI()
    install_problem_handlers(api)
    api.state.token_verifier = TokenVerifier(DEV_JWT_PUBLIC_KEY, issuer=ISSUER, audience=AUDIENCE)
    api.state.staff_access = access or FakeStaffAccess()
    api.state.settings = SimpleNamespace(trusted_proxies=["127.0.0.1"])

    @api.get("/staff")
    async def staff(principal: StaffPrincipal) -> dict[str, str]:
        return {"role": principal.role, "client": principal.client}

    @api.get("/admin")
    async def admin(principal: AdminPrincipal) -> dict[str, str]:
        return {"role": principal.role}

    return api


async def get(
    path: str, token: str | None = None, access: FakeStaffAccess | None = None, **headers: str
) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    transport = httpx.ASGITransport(app=app(access))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers=headers)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_valid_editor_token_is_accepted() -> None:
    response = await get("/staff", issuer().issue(EDITOR))
    assert response.status_code == 200
    # The principal carries the address the request came from: the audit log's "from where".
    assert response.json() == {"role": "editor", "client": "127.0.0.1"}


async def test_missing_token_is_401_problem() -> None:
    response = await get("/staff")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_token_is_401() -> None:
    token = issuer().issue(EDITOR, now=datetime.now(UTC) - timedelta(hours=1))
    assert (await get("/staff", token)).status_code == 401


async def test_token_signed_by_another_key_is_401() -> None:
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert (await get("/staff", issuer(other.decode()).issue(ADMIN))).status_code == 401


async def test_alg_none_token_is_401() -> None:
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": "x", "role": "admin", "typ": "access", "iss": ISSUER, "aud": AUDIENCE}
    claims |= {"iat": now, "exp": now + 600}
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert (await get("/staff", token)).status_code == 401


async def test_hmac_signed_token_is_401() -> None:
    now = datetime.now(UTC)
    claims = {"sub": "x", "role": "admin", "typ": "access", "iss": ISSUER, "aud": AUDIENCE}
    claims |= {"iat": now, "exp": now + timedelta(minutes=5)}
    forged = jwt.encode(claims, "a-guessed-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    assert (await get("/staff", forged)).status_code == 401


async def test_editor_on_admin_route_is_403() -> None:
    assert (await get("/admin", issuer().issue(EDITOR))).status_code == 403
    assert (await get("/admin", issuer().issue(ADMIN))).status_code == 200


async def test_client_headers_never_grant_a_role() -> None:
    response = await get("/admin", None, **{"X-Role": "admin", "X-User-Role": "admin"})
    assert response.status_code == 401


async def test_a_token_issued_before_its_account_changed_is_401() -> None:
    access = FakeStaffAccess()
    issued = datetime.now(UTC) - timedelta(minutes=5)
    old_token = issuer().issue(EDITOR, now=issued)
    access.changes[EDITOR.subject] = issued + timedelta(seconds=30)
    assert (await get("/staff", old_token, access)).status_code == 401
    # A token issued after the change is good, and other accounts are untouched.
    assert (await get("/staff", issuer().issue(EDITOR), access)).status_code == 200
    assert (await get("/staff", issuer().issue(ADMIN, now=issued), access)).status_code == 200


async def test_a_token_from_the_second_of_the_change_is_refused() -> None:
    # iat has whole seconds: 12:00:00 could be before or after a change at 12:00:00.4.
    access = FakeStaffAccess()
    second = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    access.changes[EDITOR.subject] = second + timedelta(milliseconds=400)
    token = issuer().issue(EDITOR, now=second + timedelta(milliseconds=700))
    assert (await get("/staff", token, access)).status_code == 401


async def test_the_principal_carries_the_client_address_the_service_sees() -> None:
    token = issuer().issue(EDITOR)
    behind_proxy = await get("/staff", token, **{"X-Forwarded-For": "203.0.113.5"})
    assert behind_proxy.json()["client"] == "203.0.113.5"
