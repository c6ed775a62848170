"""A reader's edit tokens, kept by the browser that posted the comment.

The comments service issues an edit token with every comment (signed, naming the comment and
its expiry; ``broadsheet_comments.tokens``). The reader site keeps it in a cookie of its own,
one per comment: HttpOnly (no script reads it), SameSite=Lax (no other site's form sends it),
Secure over https, scoped to the article's path and gone when the token expires. The site shows
**Edit** and **Delete** on the comments whose cookie the browser sends, and passes the token on
as ``X-Edit-Token``: the comments service decides, so a forged or foreign cookie gets a refusal,
never someone else's comment (docs/security.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from starlette.responses import Response

from broadsheet_gateway.routing import segment
from broadsheet_shared.identifiers import OBJECT_ID_PATTERN

PREFIX = "edit-"
_NAME = re.compile(rf"^{PREFIX}({OBJECT_ID_PATTERN.strip('^$')})$")


def cookie_name(comment_id: str) -> str:
    return f"{PREFIX}{comment_id}"


def own_comments(cookies: Mapping[str, str]) -> dict[str, str]:
    """The comment ids this browser holds an edit token for, with the tokens."""
    found: dict[str, str] = {}
    for name, token in cookies.items():
        matched = _NAME.match(name)
        if matched and token:
            found[matched.group(1)] = token
    return found


def _path(slug: str) -> str:
    return f"/articles/{segment(slug)}"


def remember(
    response: Response,
    *,
    slug: str,
    comment_id: str,
    token: str,
    expires_at: datetime,
    now: datetime,
    secure: bool,
) -> None:
    max_age = int((expires_at - now).total_seconds())
    if max_age <= 0:
        return
    response.set_cookie(
        cookie_name(comment_id),
        token,
        max_age=max_age,
        path=_path(slug),
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def forget(response: Response, *, slug: str, comment_id: str, secure: bool) -> None:
    response.delete_cookie(
        cookie_name(comment_id), path=_path(slug), secure=secure, httponly=True, samesite="lax"
    )
