"""Turning a delivery into an email: Jinja2 templates (HTML autoescaped) and injection-proof
headers.

Everything a reader or an editor wrote (names, titles, excerpts) goes into headers only through
:func:`header_safe` and the ``email`` package's header registry, which encodes non-ASCII text as
RFC 2047 words itself; literal encoded-word lookalikes are neutralised so they cannot smuggle
text into a header either.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, parseaddr
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from broadsheet_notifications.domain import Delivery, header_safe, message_id
from broadsheet_notifications.tokens import LinkSigner

_SUBJECTS = {
    "reply": "New reply to your comment on “{title}”",
    "follow": "New comment on “{title}”",
    "digest": "{count} new comments on “{title}”",
    "manage": "Manage your Broadsheet subscriptions",
    "staff_password": "Set your password for the Broadsheet Newsroom",
    "data": "Your data at Broadsheet",
}
# Mail that is no subscription, so without List-Unsubscribe.
_NOT_SUBSCRIPTIONS = ("confirmation", "manage", "staff_password", "data")

# How a confirmation mail names each request it asks the reader to confirm.
_REQUESTS = {
    "follow": "follow “{title}”",
    "reply": "replies to your comment on “{title}”",
}
# A subject names this many requests, then says how many more the mail lists.
_SUBJECT_REQUESTS = 2

_REASONS = {
    "reply": "replies to your comment",
    "follow": "new comments on an article",
    "digest": "new comments on an article",
}


class _WirePolicy(Compat32):
    """compat32 with CRLF line ends, which writes a header that fits on its line in ASCII as it
    is. compat32 builds and encodes an ``email.header.Header`` for every header it writes, only
    to return such a value unchanged (checked on 40,000 values, tabs and runs of spaces among
    them): that was a fifth of the service's CPU in a burst of mail."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
            and len(name) + 2 + len(value) <= (self.max_line_length or 0)
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_WIRE = _WirePolicy(linesep="\r\n")


@dataclass(frozen=True)
class OutgoingMail:
    sender: str
    recipient: str
    data: bytes


def _header(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("line break in a header value")
    return value


def encoded_header_text(text: str) -> str | Header:
    """Header-safe text. Non-ASCII text, and text containing ``=?``, is sent as RFC 2047 encoded
    words, so a receiving client shows an attacker's "encoded word" as the literal characters."""
    safe = header_safe(text)
    if safe.isascii() and "=?" not in safe:
        return safe
    return Header(safe, "utf-8", header_name="Subject")


class MailComposer:
    def __init__(
        self,
        *,
        mail_from: str,
        reply_to: str | None,
        public_base_url: str,
        unsubscribe_mailto: str,
        signer: LinkSigner,
    ) -> None:
        self._mail_from = mail_from
        self._reply_to = reply_to
        self._base = public_base_url.rstrip("/")
        self._mailto = unsubscribe_mailto
        self._signer = signer
        self._envelope_from = parseaddr(mail_from)[1] or "notifications@broadsheet.localhost"
        self._domain = self._envelope_from.rpartition("@")[2] or "broadsheet.localhost"
        self._env = Environment(
            loader=PackageLoader("broadsheet_notifications", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def url(self, path: str) -> str:
        return f"{self._base}{path}"

    def unsubscribe_url(self, token: str) -> str:
        return self.url(f"/subscriptions/unsubscribe/{token}")

    def confirm_url(self, token: str) -> str:
        return self.url(f"/subscriptions/confirm/{token}")

    def manage_url(self, token: str) -> str:
        return self.url(f"/subscriptions/manage/{token}")

    def set_password_url(self, token: str) -> str:
        return self.url(f"/newsroom/set-password/{token}")

    def data_url(self, token: str) -> str:
        return self.url(f"/my-data/{token}")

    def message_id(self, delivery: Delivery) -> str:
        return message_id(delivery.id, self._domain)

    def compose(self, delivery: Delivery) -> OutgoingMail:
        """The message as bytes on the wire, with its envelope.

        Built with the classic MIME classes rather than ``EmailMessage``: the modern header
        registry re-parses and re-folds every header and costs several milliseconds a message,
        which caps a worker far below the throughput we need. Every value that did not come
        from configuration is made header-safe first, and :func:`_header` refuses line breaks.
        """
        context = self._context(delivery)
        text = self._env.get_template(f"{delivery.kind}.txt").render(context)
        html = self._env.get_template(f"{delivery.kind}.html").render(context)
        subject = self._subject(delivery, context)
        recipient = _header(delivery.email)
        msg = MIMEMultipart("alternative")
        msg["From"] = _header(self._mail_from)
        msg["To"] = recipient
        if self._reply_to:
            msg["Reply-To"] = _header(self._reply_to)
        msg["Subject"] = encoded_header_text(subject)  # type: ignore[assignment]
        msg["Date"] = format_datetime(delivery.created_at)
        msg["Message-ID"] = _header(self.message_id(delivery))
        msg["Auto-Submitted"] = "auto-generated"
        if delivery.kind not in _NOT_SUBSCRIPTIONS:
            token = context["unsubscribe_token"]
            mailto = f"mailto:{self._mailto}?subject=unsubscribe%20{token}"
            msg["List-Unsubscribe"] = _header(f"<{self.unsubscribe_url(token)}>, <{mailto}>")
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["X-Broadsheet-Delivery"] = _header(delivery.id)
        msg.attach(MIMEText(text, "plain", "utf-8"))
        msg.attach(MIMEText(html, "html", "utf-8"))
        data = msg.as_bytes(policy=_WIRE)
        return OutgoingMail(sender=self._envelope_from, recipient=recipient, data=data)

    def _subject(self, delivery: Delivery, context: dict[str, Any]) -> str:
        if delivery.kind == "confirmation":
            named = [header_safe(r["what"], 120) for r in context["requests"]]
            shown = ", ".join(named[:_SUBJECT_REQUESTS])
            more = len(named) - _SUBJECT_REQUESTS
            return f"Confirm: {shown} and {more} more" if more > 0 else f"Confirm: {shown}"
        title = str(delivery.content.get("article_title", ""))
        return _SUBJECTS[delivery.kind].format(
            title=header_safe(title, 150), count=len(delivery.items)
        )

    def _context(self, delivery: Delivery) -> dict[str, Any]:
        content = delivery.content
        all_token = self._signer.unsubscribe_token("all", delivery.recipient_hash)
        if delivery.subscription_id and delivery.kind in ("reply", "follow"):
            token = self._signer.unsubscribe_token("subscription", delivery.subscription_id)
        else:
            token = all_token
        context: dict[str, Any] = {
            "article_title": content.get("article_title", ""),
            "article_url": self.url(str(content.get("article_url_path", "/"))),
            "author_name": content.get("author_name", ""),
            "excerpt": content.get("excerpt", ""),
            "comment_url": self.url(str(content.get("comment_url_path", "/"))),
            "reason": _REASONS.get(delivery.kind, content.get("reason", "")),
            "unsubscribe_token": token,
            "unsubscribe_url": self.unsubscribe_url(token),
            "unsubscribe_all_url": self.unsubscribe_url(all_token),
            # Written when the mail is composed: the link's lifetime starts at each attempt.
            "manage_url": self.manage_url(self._signer.manage_token(delivery.recipient_hash)),
            "data_url": self.data_url(self._signer.data_token(delivery.recipient_hash)),
            "items": [
                {
                    "author_name": item.author_name,
                    "excerpt": item.excerpt,
                    "url": self.url(item.comment_url_path),
                }
                for item in delivery.items
            ],
        }
        if delivery.kind == "staff_password":
            context["name"] = content["name"]
            context["set_password_url"] = self.set_password_url(content["token"])
            context["expires_at"] = content["expires_at"][:16].replace("T", " ") + " UTC"
        if delivery.kind == "confirmation":
            # The link confirms the requests made up to when this mail was recorded: the ones
            # it lists (delivery.created_at, the same on every attempt).
            context["confirm_url"] = self.confirm_url(
                self._signer.confirm_token(delivery.recipient_hash, delivery.created_at)
            )
            context["requests"] = [
                {
                    "what": _REQUESTS[r["kind"]].format(title=r["article_title"] or "an article"),
                    "url": self.url(r["article_url_path"] or "/"),
                }
                for r in content.get("requests", [])
            ]
        return context
