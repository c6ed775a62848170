"""The reader's voter cookie: an opaque random id the reader site gives a browser on its first
vote, so that the comments service counts one vote per browser as well as per client address
(docs/security.md). It names no one: it is made here, at random, and holds nothing else.
HttpOnly (no script reads it), SameSite=Lax (no other site's form sends it), Secure over https,
for the whole site, kept for a year."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

from starlette.responses import Response

NAME = "voter"
MAX_AGE = 365 * 24 * 3600
# The comments service's pattern for it (schemas.VoteCreate.voter).
_VOTER = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def voter_of(cookies: Mapping[str, str]) -> str | None:
    """The browser's voter id, if it sent a well-formed one."""
    value = cookies.get(NAME, "")
    return value if _VOTER.match(value) else None


def new_voter() -> str:
    return secrets.token_urlsafe(24)  # 32 characters, 192 random bits


def remember(response: Response, voter: str, *, secure: bool) -> None:
    response.set_cookie(
        NAME, voter, max_age=MAX_AGE, path="/", secure=secure, httponly=True, samesite="lax"
    )
