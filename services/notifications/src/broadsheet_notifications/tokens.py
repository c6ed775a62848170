"""Signed links: confirm an address, leave one subscription, stop all mail to an address,
manage an address's subscriptions, or download and erase its data.

HMAC-signed with itsdangerous; the payload names what the token acts on, never the address
itself. Unsubscribe tokens never expire (an old email must still let its reader leave);
confirmation tokens do, and also carry when their mail was written: a link confirms only the
requests made up to then, the ones its mail listed. Manage and my-data links expire too (they
show what is held about an address, so an old forwarded mail should not keep showing it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from itsdangerous import BadData, URLSafeSerializer, URLSafeTimedSerializer

Scope = Literal["subscription", "all"]


class BadToken(Exception):
    """Tampered, malformed or expired (the use cases answer it as an ``InvalidLink``)."""


@dataclass(frozen=True)
class LinkClaim:
    scope: Scope
    target: str  # a recipient hash ("all") or a subscription id


@dataclass(frozen=True)
class ConfirmClaim:
    recipient: str  # the recipient hash the link was mailed to
    issued_at: datetime  # when its mail was written (the ledger row's created_at)


class LinkSigner:
    def __init__(self, secret: str, *, confirm_max_age_seconds: int) -> None:
        self._unsubscribe = URLSafeSerializer(secret, salt="broadsheet-notifications-unsubscribe")
        self._confirm = URLSafeTimedSerializer(secret, salt="broadsheet-notifications-confirm")
        self._manage = URLSafeTimedSerializer(secret, salt="broadsheet-notifications-manage")
        self._data = URLSafeTimedSerializer(secret, salt="broadsheet-notifications-data")
        self._confirm_max_age = confirm_max_age_seconds

    def confirm_token(self, recipient_hash: str, issued_at: datetime) -> str:
        return str(self._confirm.dumps([recipient_hash, issued_at.isoformat()]))

    def manage_token(self, recipient_hash: str) -> str:
        return str(self._manage.dumps(recipient_hash))

    def data_token(self, recipient_hash: str) -> str:
        return str(self._data.dumps(recipient_hash))

    def unsubscribe_token(self, scope: Literal["subscription", "all"], target: str) -> str:
        return str(self._unsubscribe.dumps([scope, target]))

    def read_confirm(self, token: str) -> ConfirmClaim:
        try:
            payload = self._confirm.loads(token, max_age=self._confirm_max_age)
        except BadData as exc:
            raise BadToken(str(exc)) from None
        if (
            not isinstance(payload, list)
            or len(payload) != 2
            or not all(isinstance(part, str) for part in payload)
        ):
            raise BadToken("unexpected payload")
        try:
            issued_at = datetime.fromisoformat(payload[1])
        except ValueError:
            raise BadToken("unexpected payload") from None
        if issued_at.tzinfo is None:
            raise BadToken("unexpected payload")
        return ConfirmClaim(payload[0], issued_at)

    def read_unsubscribe(self, token: str) -> LinkClaim:
        try:
            payload = self._unsubscribe.loads(token)
        except BadData as exc:
            raise BadToken(str(exc)) from None
        if (
            not isinstance(payload, list)
            or len(payload) != 2
            or payload[0] not in ("subscription", "all")
            or not isinstance(payload[1], str)
        ):
            raise BadToken("unexpected payload")
        return LinkClaim(payload[0], payload[1])

    def read_manage(self, token: str) -> str:
        """The recipient hash a manage link was mailed to."""
        return self._read_digest(self._manage, token)

    def read_data(self, token: str) -> str:
        """The recipient hash a my-data link was mailed to."""
        return self._read_digest(self._data, token)

    def _read_digest(self, serializer: URLSafeTimedSerializer, token: str) -> str:
        try:
            payload = serializer.loads(token, max_age=self._confirm_max_age)
        except BadData as exc:
            raise BadToken(str(exc)) from None
        if not isinstance(payload, str):
            raise BadToken("unexpected payload")
        return payload
