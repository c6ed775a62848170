"""Sending mail: a fixed pool of reusable SMTP connections, behind the ``Mailer`` port the
delivery worker uses (tests pass a fake)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import aiosmtplib

from broadsheet_notifications.mail import OutgoingMail


class PermanentFailure(Exception):
    """The server refused the message for good (5xx): retrying will not help."""


class Mailer(Protocol):
    async def send(self, mail: OutgoingMail) -> None: ...
    async def close(self) -> None: ...


class SmtpPool:
    """A fixed number of reusable SMTP connections, (re)opened lazily."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        size: int = 8,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._starttls = starttls
        self._username = username
        self._password = password
        self._timeout = timeout
        self._slots: asyncio.Queue[aiosmtplib.SMTP | None] = asyncio.Queue()
        for _ in range(size):
            self._slots.put_nowait(None)

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            timeout=self._timeout,
            start_tls=self._starttls,
        )
        await client.connect()
        if self._username:
            await client.login(self._username, self._password or "")
        return client

    async def send(self, mail: OutgoingMail) -> None:
        client = await self._slots.get()
        try:
            if client is None or not client.is_connected:
                client = await self._connect()
            await client.sendmail(mail.sender, [mail.recipient], mail.data)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(str(exc)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                if client is not None:
                    with contextlib.suppress(aiosmtplib.SMTPException):
                        await client.rset()
                raise PermanentFailure(f"{exc.code} {exc.message}") from exc
            await _discard(client)
            client = None
            raise
        except BaseException:
            await _discard(client)
            client = None
            raise
        finally:
            self._slots.put_nowait(client)

    async def close(self) -> None:
        while not self._slots.empty():
            client = self._slots.get_nowait()
            await _discard(client)


async def _discard(client: aiosmtplib.SMTP | None) -> None:
    if client is not None:
        with contextlib.suppress(Exception):
            client.close()
