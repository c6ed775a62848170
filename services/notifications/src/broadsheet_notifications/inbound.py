"""Inbound SMTP for ``mailto:`` unsubscribes: the mail a reader's client sends when they choose
"unsubscribe" on a message whose ``List-Unsubscribe`` offers our mailto address.

Every message we send carries ``<mailto:{unsubscribe_mailto}?subject=unsubscribe%20{token}>``
(see mail.py) with the same signed token as the https link, so the mailbox is one fixed address
and the token travels in the Subject (RFC 2369 / RFC 6068 ``subject`` hfield). The token is not
put in the address itself (``unsubscribe+token@…``): it is ~100 characters, beyond the 64-octet
local part RFC 5321 allows, and relays may change the case of a local part, which a
case-sensitive signature would not survive.

The listener answers in SMTP terms what the one-click POST answers in HTTP terms:

- RCPT for any other address → 550; DATA larger than the cap → 552 (aiosmtpd);
- a Subject without a token, a tampered token or an unknown subscription → 550, nothing changes;
- a valid token → the one-click use case (``SubscriptionService.unsubscribe``), idempotent,
  then 250;
- anything else (the database unreachable) → 451, so the sending server retries later.

A refusal comes back from the use case as an application error (``InvalidLink``, ``NotFound``):
the sender's request is wrong for good, so 550 with the error's detail.

It trusts the token, never the sender: anyone holding the token (the reader, or whoever they
forwarded the email to) may unsubscribe, exactly as with the https link.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from broadsheet_notifications.commands import Unsubscribe
from broadsheet_shared.errors import ApplicationError

log = structlog.get_logger(__name__)

# itsdangerous URL-safe tokens: base64url, "." between payload and signature (and in front of a
# compressed payload). Bounded, so a Subject full of junk costs nothing.
_TOKEN = re.compile(r"(?:^|\s)unsubscribe\s+([A-Za-z0-9_.-]{16,512})(?:\s|$)", re.IGNORECASE)
MAX_RECIPIENTS = 10
COMMAND_TIMEOUT_SECONDS = 60.0

UnsubscribeUseCase = Callable[[Unsubscribe], Awaitable[Any]]


class Mailbox:
    """The one address we accept mail for, compared the way mail systems compare addresses:
    the domain case-insensitively and, since relays are known to fold it, the local part too."""

    def __init__(self, address: str) -> None:
        local, at, domain = address.strip().rpartition("@")
        if not at or not local or not domain:
            raise ValueError(f"not a mailbox address: {address!r}")
        self.address = f"{local}@{domain}".lower()
        self.domain = domain.lower()

    def accepts(self, recipient: str) -> bool:
        return recipient.strip().strip("<>").lower() == self.address


def token_from_subject(subject: str) -> str | None:
    """The token in ``unsubscribe <token>``, wherever the client put it (``Re:``, folding)."""
    match = _TOKEN.search(" ".join(subject.split()))
    return match.group(1) if match else None


def subject_of(message: bytes) -> str:
    """The decoded Subject (RFC 2047 words included), or "" when there is none or it is broken."""
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(message)
        return str(headers.get("Subject", ""))
    except Exception:  # a malformed header is the sender's problem: no token
        return ""


class UnsubscribeHandler:
    """aiosmtpd handler hooks: RCPT filters recipients, DATA applies the unsubscribe."""

    def __init__(self, mailbox: Mailbox, unsubscribe: UnsubscribeUseCase) -> None:
        self._mailbox = mailbox
        self._unsubscribe = unsubscribe

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not self._mailbox.accepts(address):
            return "550 5.1.1 No such mailbox here"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        return await self.process(subject_of(envelope.original_content or b""))

    async def process(self, subject: str) -> str:
        token = token_from_subject(subject)
        if token is None:
            return "550 5.7.1 No unsubscribe token in the Subject"
        try:
            await self._unsubscribe(Unsubscribe(token))
        except ApplicationError as error:
            log.info("mailto unsubscribe refused", error=type(error).__name__)
            return f"550 5.7.1 {error.detail}"
        except Exception as exc:  # the sending server retries: nothing is lost
            log.warning("mailto unsubscribe failed", error=repr(exc))
            return "451 4.3.0 Please try again later"
        log.info("mailto unsubscribe applied")
        return "250 2.0.0 Unsubscribed"


class InboundSmtpServer:
    """The listener, on the service's own event loop (the use case's database client lives
    there). ``start`` binds, so a taken port fails the service start; ``serve`` runs as a
    runtime task until cancelled, which closes the listening socket."""

    def __init__(
        self,
        handler: UnsubscribeHandler,
        *,
        host: str,
        port: int,
        max_message_bytes: int,
        hostname: str,
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._max_message_bytes = max_message_bytes
        # Given explicitly: aiosmtpd otherwise asks socket.getfqdn(), which can wait on DNS.
        self._hostname = hostname
        self._server: asyncio.Server | None = None

    def _protocol(self) -> SMTP:
        return SMTP(
            self._handler,
            data_size_limit=self._max_message_bytes,
            enable_SMTPUTF8=True,
            hostname=self._hostname,
            timeout=COMMAND_TIMEOUT_SECONDS,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self._host, self._port)
        log.info("inbound smtp listening", host=self._host, port=self._port)

    async def serve(self) -> None:
        assert self._server is not None, "start() first"
        await self._server.serve_forever()
