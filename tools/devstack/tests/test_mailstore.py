"""Reading a Maildir: order, lookup, and the `broadsheet-mail` output, without a server."""

from __future__ import annotations

import json
import mailbox
import os
from email.message import EmailMessage
from pathlib import Path

import pytest

from broadsheet_devstack import mail
from broadsheet_devstack.mailstore import find_message, read_messages

pytestmark = pytest.mark.unit


def store(maildir: Path, subject: str, delivered: float) -> str:
    box = mailbox.Maildir(maildir, create=True)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "a@example.org"
    message["To"] = "b@example.org"
    message.set_content(f"body of {subject}")
    key = box.add(message)
    path = maildir / "new" / key
    os.utime(path, (delivered, delivered))  # the delivery time Maildir reports
    return key


def test_newest_first_and_found_by_number_or_key(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    old = store(maildir, "old", 1_700_000_000)
    new = store(maildir, "new", 1_700_000_100)
    middle = store(maildir, "middle", 1_700_000_050)

    assert [m.key for m in read_messages(maildir)] == [new, middle, old]
    assert find_message(maildir, "1").subject == "new"
    assert find_message(maildir, "3").subject == "old"
    assert find_message(maildir, middle).text == "body of middle\n"
    with pytest.raises(KeyError):
        find_message(maildir, "4")


def test_missing_maildir_has_no_messages(tmp_path: Path) -> None:
    assert read_messages(tmp_path / "nothing") == []
    assert not (tmp_path / "nothing").exists()  # reading never creates it


def test_mail_command_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    maildir = tmp_path / "mail"
    store(maildir, "Welcome", 1_700_000_000)

    assert mail.main(["--maildir", str(maildir), "list"]) == 0
    assert "Welcome" in capsys.readouterr().out
    assert mail.main(["show", "1", "--maildir", str(maildir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["text"] == "body of Welcome\n"
    assert mail.main(["--maildir", str(maildir), "show", "2"]) == 1
    assert "no message number 2" in capsys.readouterr().err
