"""Staff tokens: issued by the articles service, verified by every service.

Tokens are EdDSA (Ed25519) JWTs: only the articles service holds the private key, every other
service verifies with the public key, so no service but articles can mint one. The algorithm is
pinned, so ``alg=none`` and HMAC-confusion tokens are refused. No request header other than a
valid ``Authorization: Bearer`` token ever grants a role, and a token issued before its account
last changed (disabled, new role or password) is refused (:mod:`broadsheet_shared.staff_access`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Protocol
from uuid import uuid4

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from broadsheet_shared.errors import Forbidden, Unauthenticated
from broadsheet_shared.http.clients import client_address

Role = Literal["admin", "editor", "moderator"]
ALGORITHM = "EdDSA"
ROLES: tuple[Role, ...] = ("admin", "editor", "moderator")


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    name: str
    # Where the request came from, as the service sees it (the audit log's "from where"); set
    # by :func:`current_principal`, empty where there is no request.
    client: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class InvalidToken(Exception):
    pass


class StaffAccess(Protocol):
    async def changed_at(self, staff_id: str) -> datetime | None:
        """When the account last changed in a way that ends its earlier tokens, if ever."""
        ...


def issued_before_change(issued_at: datetime, changed_at: datetime | None) -> bool:
    """``iat`` has whole seconds: a token from the second of the change counts as older, so
    the check errs on refusing (signing in again a second later works)."""
    return changed_at is not None and issued_at <= changed_at


class TokenVerifier:
    def __init__(self, public_key: str, *, issuer: str, audience: str) -> None:
        self._public_key = public_key
        self._issuer = issuer
        self._audience = audience

    def verify(self, token: str) -> Principal:
        return self.verify_issued(token)[0]

    def verify_issued(self, token: str) -> tuple[Principal, datetime]:
        """The token's principal and when it was issued (``iat``)."""
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        role = claims.get("role")
        if role not in ROLES or claims.get("typ") != "access":
            raise InvalidToken("not an access token")
        principal = Principal(
            subject=str(claims["sub"]), role=role, name=str(claims.get("name", ""))
        )
        return principal, datetime.fromtimestamp(int(claims["iat"]), UTC)


class TokenIssuer:
    def __init__(self, private_key: str, *, issuer: str, audience: str, ttl: timedelta) -> None:
        self._private_key = private_key
        self._issuer = issuer
        self._audience = audience
        self.ttl = ttl

    def issue(self, principal: Principal, *, now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": principal.subject,
            "role": principal.role,
            "name": principal.name,
            "typ": "access",
            "iss": self._issuer,
            "aud": self._audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.ttl,
            "jti": uuid4().hex,
        }
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM)


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from a valid bearer token of an account that has not changed since (401
    otherwise), with the client address it came from. Needs ``app.state.token_verifier``,
    ``app.state.staff_access`` and ``app.state.settings.trusted_proxies``."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("A bearer token is required.")
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal, issued_at = verifier.verify_issued(credentials.credentials)
    except InvalidToken:
        raise Unauthenticated("The token is invalid or expired.") from None
    access: StaffAccess = request.app.state.staff_access
    if issued_before_change(issued_at, await access.changed_at(principal.subject)):
        raise Unauthenticated("The token is invalid or expired.")
    trusted_proxies: list[str] = request.app.state.settings.trusted_proxies
    return replace(principal, client=client_address(request, trusted_proxies))


def _require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through only the given roles (403 for other staff)."""
    needed = " or ".join(roles)

    async def require(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"This needs the {needed} role.")
        return principal

    return require


# Least privilege: editors write and publish, moderators keep comments and addresses clean,
# admins do both and alone manage staff and sections.
StaffPrincipal = Annotated[Principal, Depends(current_principal)]
EditorPrincipal = Annotated[Principal, Depends(_require("admin", "editor"))]
ModeratorPrincipal = Annotated[Principal, Depends(_require("admin", "moderator"))]
AdminPrincipal = Annotated[Principal, Depends(_require("admin"))]
