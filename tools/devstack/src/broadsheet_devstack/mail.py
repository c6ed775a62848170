"""``broadsheet-mail``: read the messages SMTP capture stored (``$DATA_DIR/mail``).

broadsheet-mail                 # same as `list`
broadsheet-mail list [--json]
broadsheet-mail show 1 [--json] # 1 = newest; a Maildir key works too
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from broadsheet_devstack.mailstore import StoredMessage, find_message, read_messages
from broadsheet_devstack.paths import default_data_dir


def _print_list(messages: list[StoredMessage]) -> None:
    if not messages:
        print("No messages.")
        return
    for number, m in enumerate(messages, start=1):
        print(f"{number:>4}  {m.delivered:%Y-%m-%d %H:%M:%S}  {m.subject or '(no subject)'}")
        print(f"      from {m.sender}  to {m.to}")


def _print_message(m: StoredMessage) -> None:
    print(f"Subject: {m.subject}")
    print(f"From:    {m.sender}")
    print(f"To:      {m.to}")
    print(f"Date:    {m.date}")
    print(f"Key:     {m.key}")
    print()
    if m.text is not None:
        print(m.text.rstrip("\n"))
    elif m.html is not None:
        print("(HTML only)")
        print(m.html.rstrip("\n"))


def _add_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # Accepted before and after the subcommand; SUPPRESS keeps a subcommand's defaults from
    # overwriting what was given before it.
    parser.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS)
    parser.add_argument(
        "--maildir",
        type=Path,
        default=None if top else argparse.SUPPRESS,
        help="the Maildir to read (default: $DATA_DIR/mail, DATA_DIR defaulting to .data)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="broadsheet-mail", description="Read the mail captured by SMTP capture."
    )
    _add_options(parser, top=True)
    sub = parser.add_subparsers(dest="command")
    _add_options(sub.add_parser("list", help="list messages, newest first"), top=False)
    show = sub.add_parser("show", help="print one message")
    _add_options(show, top=False)
    show.add_argument("ref", help="its number in `list` (1 = newest) or its Maildir key")
    args = parser.parse_args(argv)

    maildir: Path = args.maildir or default_data_dir() / "mail"
    if args.command == "show":
        try:
            message = find_message(maildir, args.ref)
        except KeyError as error:
            print(f"broadsheet-mail: {error.args[0]} (in {maildir})", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(message.as_dict(), indent=2, ensure_ascii=False))
        else:
            _print_message(message)
        return 0

    messages = read_messages(maildir)
    if args.json:
        print(json.dumps([m.as_dict(body=False) for m in messages], indent=2, ensure_ascii=False))
    else:
        _print_list(messages)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
