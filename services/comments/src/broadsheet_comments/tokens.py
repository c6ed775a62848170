"""Edit tokens: a comment's author may edit or delete it for a short while after posting.

The token is the comment id and an expiry signed with itsdangerous (HMAC-SHA256) under the
service's signing secret; no database row is needed to check it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer


class EditTokens:
    def __init__(self, secret: str, window: timedelta) -> None:
        self._serializer = URLSafeSerializer(secret, salt="broadsheet.comments.edit")
        self.window = window

    def issue(self, comment_id: str, issued_at: datetime) -> tuple[str, datetime]:
        expires = issued_at + self.window
        token = self._serializer.dumps({"c": comment_id, "e": int(expires.timestamp())})
        return token, expires

    def allows(self, token: str, comment_id: str, now: datetime) -> bool:
        try:
            claims = self._serializer.loads(token)
        except BadSignature:
            return False
        if not isinstance(claims, dict):
            return False
        expiry = claims.get("e")
        return (
            claims.get("c") == comment_id and isinstance(expiry, int) and now.timestamp() < expiry
        )
