"""Reading the messages SMTP capture stored in its Maildir (one file per message).

Shared by the mail viewer page, the ``broadsheet-mail`` command and the pytest fixtures.
"""

from __future__ import annotations

import email
import mailbox
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StoredMessage:
    key: str  # the Maildir key: stable, unlike a position in the list
    delivered: datetime  # when SMTP capture stored it (the file's time), UTC
    subject: str
    sender: str  # the From header
    to: str  # the To header
    date: str  # the Date header, as sent
    envelope_from: str  # SMTP MAIL FROM, as recorded by aiosmtpd (X-MailFrom)
    envelope_to: tuple[str, ...]  # SMTP RCPT TO (X-RcptTo): includes Bcc recipients
    text: str | None  # the text/plain body
    html: str | None  # the text/html body
    raw: bytes

    def header(self, name: str) -> str | None:
        value = _parse(self.raw)[name]
        return None if value is None else str(value)

    def as_dict(self, *, body: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "delivered": self.delivered.isoformat(),
            "subject": self.subject,
            "from": self.sender,
            "to": self.to,
            "date": self.date,
            "envelope_from": self.envelope_from,
            "envelope_to": list(self.envelope_to),
        }
        if body:
            data["text"] = self.text
            data["html"] = self.html
        return data


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)  # guaranteed by policy.default
    return message


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        return str(part.get_content())
    except (LookupError, ValueError):  # unknown charset, undecodable payload
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None


def _stored(maildir: mailbox.Maildir, key: str) -> StoredMessage:
    # MaildirMessage.get_date() is the delivery time (the file's mtime), not the Date header.
    delivered = datetime.fromtimestamp(maildir.get_message(key).get_date(), UTC)
    raw = maildir.get_bytes(key)
    message = _parse(raw)
    rcpt = str(message["X-RcptTo"] or "")
    return StoredMessage(
        key=key,
        delivered=delivered,
        subject=str(message["Subject"] or ""),
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        date=str(message["Date"] or ""),
        envelope_from=str(message["X-MailFrom"] or ""),
        envelope_to=tuple(addr.strip() for addr in rcpt.split(",") if addr.strip()),
        text=_body(message, "plain"),
        html=_body(message, "html"),
        raw=raw,
    )


def read_messages(path: Path) -> list[StoredMessage]:
    """Every stored message, newest first. An absent Maildir has no messages."""
    try:
        # A fresh object each call: Maildir caches its table of contents.
        maildir = mailbox.Maildir(path, factory=None, create=False)
        keys = list(maildir.iterkeys())
    except (mailbox.NoSuchMailboxError, FileNotFoundError):
        return []
    messages = []
    for key in keys:
        try:
            messages.append(_stored(maildir, key))
        except KeyError:  # removed while we read
            continue
    messages.sort(key=lambda message: (message.delivered, message.key), reverse=True)
    return messages


def find_message(path: Path, ref: str) -> StoredMessage:
    """A message by its number in the list (1 = newest) or by its Maildir key."""
    messages = read_messages(path)
    if ref.isdigit():
        index = int(ref)
        if 1 <= index <= len(messages):
            return messages[index - 1]
        raise KeyError(f"no message number {index}: there are {len(messages)}")
    for message in messages:
        if message.key == ref:
            return message
    raise KeyError(f"no message with key {ref!r}")
