"""Application errors: what a use case answers when it refuses a command.

Use cases speak the domain and raise these; each edge translates them for its protocol — the
HTTP edge into RFC 9457 problem documents (one handler, :mod:`broadsheet_shared.http.problems`),
the inbound SMTP edge into SMTP replies. No use case knows a status code.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A command was refused. ``detail`` is written for the person who sent it; a kind that
    clients must tell apart from others of its status names itself in ``problem_type`` (a
    URI reference, RFC 9457's ``type``)."""

    problem_type = "about:blank"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidField(ApplicationError):
    """A field's value breaks a rule only the service knows (shaped like a validation error)."""

    def __init__(self, field: str, msg: str, type_: str, *, location: str = "body") -> None:
        super().__init__(
            "The request is not valid.",
            errors=[{"loc": [location, field], "msg": msg, "type": type_}],
        )
        self.field = field


class InvalidRequest(ApplicationError):
    """The request as a whole cannot be processed (a bad cursor, a rule the input breaks)."""


class InvalidLink(ApplicationError):
    """A signed link or token was tampered with, has expired or names nothing."""


class Unauthenticated(ApplicationError):
    """No valid credentials."""


class Forbidden(ApplicationError):
    """The caller is known but may not do this."""


class NotFound(ApplicationError):
    """The thing the command names does not exist (or is not public)."""


class Conflict(ApplicationError):
    """The command clashes with the current state."""


class StaleRevision(ApplicationError):
    """The command was based on a revision that is no longer the current one."""


class RateLimited(ApplicationError):
    """Too many commands from this client or for this address; try again after a while."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many requests. Please wait a moment and try again.", retry_after=retry_after
        )
        self.retry_after = retry_after
