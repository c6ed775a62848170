"""Data grants: a short-lived, signed "the holder of this address's my-data link may read its
data now", issued by the service that mailed and checked the link (notifications) and honoured
by another service that holds data about the address (comments).

HMAC-signed with itsdangerous under the platform's data grant key (the ``DATA_GRANT_KEY``
setting, shared by exactly the services that issue and honour grants) and a salt of its own.
The payload is the address's keyed digest, never the address. A grant lives five minutes: long
enough for the gateway to gather one download, too short to be worth stealing from a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from itsdangerous import BadData, URLSafeTimedSerializer

GRANT_MAX_AGE_SECONDS = 300


class BadGrant(Exception):
    """Tampered, malformed, signed with another key or expired."""


@dataclass(frozen=True)
class DataGrants:
    key: str = field(repr=False)
    max_age_seconds: int = GRANT_MAX_AGE_SECONDS

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.key, salt="broadsheet-data-grant")

    def issue(self, address_digest: str) -> str:
        return str(self._serializer().dumps(address_digest))

    def read(self, grant: str) -> str:
        """The address digest the grant names."""
        try:
            payload = self._serializer().loads(grant, max_age=self.max_age_seconds)
        except BadData as exc:
            raise BadGrant(str(exc)) from None
        if not isinstance(payload, str):
            raise BadGrant("unexpected payload")
        return payload
