"""Sessions: an opaque random id in the cookie, everything else here in memory.

The cookie carries no token: the access and refresh tokens stay in this process, so no script
and no stolen cookie jar can read them, and signing out forgets the session at once (an old
cookie names nothing). The price: a gateway restart signs staff out, and more than one gateway
replica needs sticky sessions (docs/newsroom.md says why this is the right trade here).
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from broadsheet_shared.auth import Principal

COOKIE = "newsroom_session"


@dataclass
class Session:
    id: str
    principal: Principal
    access_token: str
    access_expires: datetime
    refresh_token: str
    created: datetime
    last_seen: datetime
    # The synchronizer token every form of this session carries.
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    time_zone: str | None = None
    flash: list[str] = field(default_factory=list)

    def csrf_matches(self, submitted: str | None) -> bool:
        return submitted is not None and hmac.compare_digest(self.csrf, submitted)

    def take_flash(self) -> list[str]:
        messages, self.flash = self.flash, []
        return messages


class SessionStore:
    def __init__(
        self,
        *,
        idle: timedelta,
        lifetime: timedelta,
        max_sessions: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._idle = idle
        self._lifetime = lifetime
        self._max = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def start(
        self, principal: Principal, access_token: str, expires_in: int, refresh_token: str
    ) -> Session:
        now = self._clock()
        session = Session(
            id=secrets.token_urlsafe(32),
            principal=principal,
            access_token=access_token,
            access_expires=now + timedelta(seconds=expires_in),
            refresh_token=refresh_token,
            created=now,
            last_seen=now,
        )
        self._sessions[session.id] = session
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of this id (touched), or None; an expired one is forgotten."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen > self._idle or now - session.created > self._lifetime:
            del self._sessions[session_id]
            return None
        session.last_seen = now
        self._sessions.move_to_end(session_id)
        return session

    def end(self, session_id: str) -> Session | None:
        return self._sessions.pop(session_id, None)

    def renew(self, session: Session, access_token: str, expires_in: int, refresh: str) -> None:
        session.access_token = access_token
        session.access_expires = self._clock() + timedelta(seconds=expires_in)
        session.refresh_token = refresh

    @property
    def lifetime(self) -> timedelta:
        return self._lifetime
