"""SMTP capture: real SMTP in, one Maildir file per message out, readable by page and command."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from broadsheet_devstack.pytest_plugin import Infra

pytestmark = pytest.mark.integration


def send(infra: Infra, *, to: str, subject: str, body: str, bcc: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Broadsheet <no-reply@broadsheet.local>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    message.add_alternative(f"<p>{body}</p>", subtype="html")
    message.set_boundary("broadsheet-test-boundary")  # so the bytes sent can be compared
    with smtplib.SMTP(infra.smtp_host, infra.smtp_port, timeout=10) as smtp:
        smtp.send_message(message, to_addrs=[to, *([bcc] if bcc else [])])
    return message


def maildir_files(maildir: Path) -> list[Path]:
    return [path for sub in ("new", "cur") for path in (maildir / sub).iterdir()]


def test_message_lands_as_one_maildir_file(infra: Infra, unique_prefix: str) -> None:
    to = f"reader-{unique_prefix}@example.org"
    before = set(maildir_files(infra.maildir))

    sent = send(
        infra, to=to, subject=f"Hello {unique_prefix}", body="First line", bcc="bcc@example.org"
    )

    new_files = set(maildir_files(infra.maildir)) - before
    assert len(new_files) == 1  # stored before the server answered 250 to DATA
    raw = new_files.pop().read_bytes()
    assert raw.endswith(sent.as_bytes())  # the message as sent, after the envelope headers
    stored = infra.wait_for_mail(lambda m: m.to == to, timeout=5)
    assert stored.text is not None
    assert stored.text.strip() == "First line"
    assert stored.html is not None
    assert "<p>First line</p>" in stored.html
    assert stored.envelope_to == (to, "bcc@example.org")  # Bcc is only in the envelope
    assert stored.envelope_from == "no-reply@broadsheet.local"


def test_mail_command_lists_and_shows_messages(infra: Infra, unique_prefix: str) -> None:
    subject = f"Command {unique_prefix}"
    send(infra, to=f"cmd-{unique_prefix}@example.org", subject=subject, body="Read me")

    def mail(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "broadsheet_devstack.mail", *args],
            capture_output=True,
            text=True,
            check=True,
            env={"DATA_DIR": str(infra.data_dir), "PATH": "/usr/bin:/bin"},
        )
        return result.stdout

    listed = json.loads(mail("list", "--json"))  # DATA_DIR/mail by default
    assert listed[0]["subject"] == subject  # newest first
    assert "Read me" in mail("show", "1")
    shown = json.loads(mail("--json", "show", listed[0]["key"]))
    assert shown["text"].strip() == "Read me"
    assert subject in mail("list")


def test_viewer_page_lists_and_shows_messages(infra: Infra, unique_prefix: str) -> None:
    subject = f"Viewer <{unique_prefix}>"  # markup in a subject must be escaped
    send(infra, to=f"web-{unique_prefix}@example.org", subject=subject, body="Seen on the page")

    with httpx.Client(base_url=infra.mail_web_url, timeout=10) as web:
        index = web.get("/")
        assert index.status_code == 200
        assert f"Viewer &lt;{unique_prefix}&gt;" in index.text
        messages = web.get("/api/messages").json()
        assert messages[0]["subject"] == subject
        link = f"/messages/{messages[0]['key']}"
        page = web.get(link)
        assert page.status_code == 200
        assert "Seen on the page" in page.text
        assert web.get(f"{link}/raw").text.count("Seen on the page") == 2  # text and html parts
        assert web.get("/messages/no-such-key").status_code == 404


def test_smtp_can_be_stopped_and_started_again(infra: Infra, unique_prefix: str) -> None:
    send(infra, to=f"before-{unique_prefix}@example.org", subject="before", body="x")

    with infra.smtp_stopped():
        with pytest.raises(ConnectionRefusedError):
            send(infra, to=f"during-{unique_prefix}@example.org", subject="during", body="x")
        # Stored mail stays readable while the server is down.
        assert any(m.to == f"before-{unique_prefix}@example.org" for m in infra.mail())

    send(infra, to=f"after-{unique_prefix}@example.org", subject="after", body="x")
    recipients = {m.to for m in infra.mail()}
    assert f"after-{unique_prefix}@example.org" in recipients
    assert f"during-{unique_prefix}@example.org" not in recipients
