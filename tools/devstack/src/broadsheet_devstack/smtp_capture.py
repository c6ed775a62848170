"""SMTP capture: a real SMTP server that keeps every message as one file in a Maildir.

aiosmtpd accepts the mail and :class:`MaildirWriter` stores the bytes as received, in front of
them X-Peer, X-MailFrom and X-RcptTo headers recording the envelope (as aiosmtpd's own
``Mailbox`` handler does). Each file is written to ``tmp/`` and renamed into ``new/``, so readers
never see half a message. Unlike ``Mailbox`` it does not parse and re-serialise every message:
that cost more CPU than the sender being measured in the delivery benchmark. A small read-only
page lists the messages, newest first.

Run it on its own::

    python -m broadsheet_devstack.smtp_capture --port 1025 --maildir .data/mail --web-port 8025

:class:`SmtpCapture` runs that command as a child process, for ``make run`` and the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import itertools
import mailbox
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import quote

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from broadsheet_devstack.mailstore import StoredMessage, find_message, read_messages
from broadsheet_devstack.processes import (
    ManagedProcess,
    ensure_port_free,
    http_ok,
    port_open,
    wait_until,
)

# Given explicitly: aiosmtpd otherwise calls socket.getfqdn(), which can wait on DNS.
SMTP_HOSTNAME = "smtp-capture.broadsheet.local"
MAX_MESSAGE_BYTES = 10 * 1024 * 1024

_STYLE = """
body{font:15px/1.4 system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}
tr:hover td{background:#f6f6f6} a{color:#0645ad} .muted{color:#777}
pre{white-space:pre-wrap;background:#f7f7f7;padding:1rem;border:1px solid #ddd}
iframe{width:100%;height:30rem;border:1px solid #ddd}
"""


def _page(title: str, body: str, *, refresh: bool = False) -> HTMLResponse:
    meta = '<meta http-equiv="refresh" content="5">' if refresh else ""
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _link(message: StoredMessage) -> str:
    return f"/messages/{quote(message.key, safe='')}"


def create_web_app(maildir: Path) -> Starlette:
    """The mail viewer: a list page, one page per message, its raw source, and a JSON API."""

    async def index(request: Request) -> Response:
        messages = read_messages(maildir)
        rows = "".join(
            "<tr>"
            f'<td><a href="{_link(m)}">{html.escape(m.subject or "(no subject)")}</a></td>'
            f"<td>{html.escape(m.sender)}</td><td>{html.escape(m.to)}</td>"
            f'<td class="muted">{m.delivered:%Y-%m-%d %H:%M:%S} UTC</td>'
            "</tr>"
            for m in messages
        )
        table = (
            "<table><tr><th>Subject</th><th>From</th><th>To</th><th>Received</th></tr>"
            f"{rows}</table>"
            if messages
            else '<p class="muted">No messages yet.</p>'
        )
        body = (
            f"<h1>Captured mail</h1><p class=muted>{len(messages)} message(s) in "
            f"{html.escape(str(maildir))}, newest first.</p>{table}"
        )
        return _page("Captured mail", body, refresh=True)

    def _message_or_404(request: Request) -> StoredMessage | Response:
        try:
            return find_message(maildir, request.path_params["key"])
        except KeyError:
            return PlainTextResponse("no such message", status_code=404)

    async def show(request: Request) -> Response:
        found = _message_or_404(request)
        if isinstance(found, Response):
            return found
        m = found
        headers = "".join(
            f"<tr><th>{name}</th><td>{html.escape(value)}</td></tr>"
            for name, value in (
                ("Subject", m.subject),
                ("From", m.sender),
                ("To", m.to),
                ("Date", m.date),
                ("Envelope to", ", ".join(m.envelope_to)),
            )
        )
        text = f"<h2>Text</h2><pre>{html.escape(m.text)}</pre>" if m.text is not None else ""
        # The HTML part is shown sandboxed: no scripts, no same-origin access.
        rendered = (
            f'<h2>HTML</h2><iframe sandbox srcdoc="{html.escape(m.html, quote=True)}"></iframe>'
            if m.html is not None
            else ""
        )
        body = (
            f'<p><a href="/">← all messages</a> · <a href="{_link(m)}/raw">raw source</a></p>'
            f"<h1>{html.escape(m.subject or '(no subject)')}</h1><table>{headers}</table>"
            f"{text}{rendered}"
        )
        return _page(m.subject or "(no subject)", body)

    async def raw(request: Request) -> Response:
        found = _message_or_404(request)
        if isinstance(found, Response):
            return found
        return PlainTextResponse(found.raw.decode("utf-8", "replace"))

    async def api_messages(request: Request) -> Response:
        return JSONResponse([m.as_dict() for m in read_messages(maildir)])

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/messages/{key}", show),
            Route("/messages/{key}/raw", raw),
            Route("/api/messages", api_messages),
            Route("/healthz", healthz),
        ]
    )


class MaildirWriter:
    """aiosmtpd handler: each message into the Maildir as one file, bytes as received."""

    def __init__(self, maildir: Path) -> None:
        self._tmp = maildir / "tmp"
        self._new = maildir / "new"
        self._host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
        self._counter = itertools.count()

    def _unique_name(self) -> str:
        # The Maildir convention (time.MmicrosecondsPpidQcounter.host): unique per delivery.
        now = time.time()
        micros = int((now % 1) * 1e6)
        return f"{int(now)}.M{micros}P{os.getpid()}Q{next(self._counter)}.{self._host}"

    async def handle_DATA(  # noqa: N802 (the name aiosmtpd calls)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        trace = (
            f"X-Peer: {session.peer}\n"
            f"X-MailFrom: {envelope.mail_from}\n"
            f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\n"
        ).encode()
        # Stored with LF line ends, as the stdlib's Maildir writes them.
        data = trace + content.replace(b"\r\n", b"\n")
        name = self._unique_name()
        tmp = self._tmp / name
        tmp.write_bytes(data)
        os.rename(tmp, self._new / name)
        return "250 OK"


class _Server(uvicorn.Server):
    # serve() below owns SIGINT/SIGTERM; uvicorn would otherwise re-raise them on exit.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(host: str, port: int, maildir: Path, web_host: str, web_port: int) -> None:
    """Run SMTP and the viewer until SIGINT or SIGTERM."""
    maildir.parent.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(maildir, create=True)  # new/, cur/ and tmp/ exist before the first message
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(
        partial(
            SMTP,
            MaildirWriter(maildir),
            hostname=SMTP_HOSTNAME,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
        ),
        host=host,
        port=port,
    )
    web = _Server(
        uvicorn.Config(
            create_web_app(maildir),
            host=web_host,
            port=web_port,
            log_level="warning",
            lifespan="off",
        )
    )
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    web_task = asyncio.create_task(web.serve())
    print(f"SMTP capture on {host}:{port}, storing into {maildir}", flush=True)
    print(f"Mail viewer on http://{web_host}:{web_port}/", flush=True)
    stop_task = asyncio.create_task(stopping.wait())
    await asyncio.wait({web_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    web.should_exit = True
    smtp.close()
    await smtp.wait_closed()
    await web_task
    stop_task.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m broadsheet_devstack.smtp_capture",
        description="SMTP server storing every message in a Maildir, with a web viewer.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--maildir", type=Path, default=Path(".data/mail"))
    parser.add_argument("--web-host", default="127.0.0.1")
    parser.add_argument("--web-port", type=int, default=8025)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.maildir.resolve(), args.web_host, args.web_port))
    return 0


class SmtpCapture:
    """:func:`main` as a child process; can be stopped and started again (same ports)."""

    name = "smtp-capture"

    def __init__(
        self,
        maildir: Path,
        *,
        log_path: Path,
        host: str = "127.0.0.1",
        port: int = 1025,
        web_port: int = 8025,
    ) -> None:
        self.maildir = maildir
        self.log_path = log_path
        self.host = host
        self.port = port
        self.web_port = web_port
        self._process: ManagedProcess | None = None

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}/"

    @property
    def process(self) -> ManagedProcess | None:
        return self._process

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def start(self) -> None:
        ensure_port_free(self.name, self.host, self.port)
        ensure_port_free(f"{self.name} web page", self.host, self.web_port)
        self._process = ManagedProcess(
            self.name,
            [
                sys.executable,
                "-m",
                "broadsheet_devstack.smtp_capture",
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--maildir",
                str(self.maildir),
                "--web-host",
                self.host,
                "--web-port",
                str(self.web_port),
            ],
            log_path=self.log_path,
            stop_timeout=10.0,
        )
        self._process.start()

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self._process is None:
            raise RuntimeError("start() first")
        wait_until(
            lambda: port_open(self.host, self.port) and http_ok(f"{self.web_url}healthz"),
            timeout=timeout,
            what="accepting SMTP and serving the viewer",
            process=self._process,
        )

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()


if __name__ == "__main__":
    raise SystemExit(main())
