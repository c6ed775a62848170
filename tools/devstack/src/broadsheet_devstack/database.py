"""The MongoDB wire-compatible server for local runs and tests: SecantusDB (``secantusd-py``).

``DEVSTACK_MONGO_SERVER`` may name a ``secantusd-rs`` binary (the Rust build of the same server,
same flags) instead: ``make bench`` builds one and uses it, as docs/database.md recommends for
performance work. Tests and ``make run`` keep the Python server unless the variable is set.

It speaks the MongoDB protocol over WiredTiger and advertises itself as a single-node replica
set primary, so multi-document transactions work (the outbox needs them) and the same code runs
unchanged against a real MongoDB replica set through ``MONGO_URL``. See docs/database.md for
why this server was chosen.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from broadsheet_devstack.processes import (
    ManagedProcess,
    ensure_port_free,
    port_open,
    wait_until,
)

SERVER_BINARY_ENV = "DEVSTACK_MONGO_SERVER"


def server_command() -> list[str]:
    """How to start the server: the Rust binary when one is configured, else secantusd-py."""
    binary = os.environ.get(SERVER_BINARY_ENV, "").strip()
    if binary:
        return [binary]
    # secantusd-py plus the background transaction reaper mongod has.
    return [sys.executable, "-m", "broadsheet_devstack.secantus_server"]


def mongo_url(host: str, port: int) -> str:
    # directConnection: talk to this one server, never to hosts from its replica-set reply.
    return f"mongodb://{host}:{port}/?directConnection=true"


def ping(url: str, timeout_ms: int = 1000) -> bool:
    """The server answers ``ping``."""
    client: MongoClient[dict[str, object]] = MongoClient(
        url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        return bool(client.admin.command("ping").get("ok"))
    except PyMongoError:
        return False
    finally:
        client.close()


class DatabaseServer:
    """``secantusd-py`` on ``host:port`` with its files in ``data_dir`` (``$DATA_DIR/db``)."""

    name = "database"

    def __init__(
        self,
        data_dir: Path,
        *,
        log_path: Path,
        host: str = "127.0.0.1",
        port: int = 27017,
        cache_size: str = "256M",
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.host = host
        self.port = port
        # WiredTiger's cache defaults to 1G; a dev box runs several servers at once.
        self.cache_size = cache_size
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return mongo_url(self.host, self.port)

    @property
    def process(self) -> ManagedProcess | None:
        return self._process

    def start(self) -> None:
        """Start the server. Does not wait: see wait_ready."""
        ensure_port_free(self.name, self.host, self.port)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # secantusd-py otherwise reads ./secantusd.toml, ~/.secantus/… or /etc/secantus/… when
        # present: an explicit, empty config keeps every run the same on every machine.
        config = self.data_dir / "secantusd.toml"
        config.touch()
        self._process = ManagedProcess(
            self.name,
            [
                *server_command(),
                "--config",
                str(config),
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--storage-path",
                str(self.data_dir / "data"),
                "--cache-size",
                self.cache_size,
                "--log-level",
                "WARNING",
            ],
            log_path=self.log_path,
            cwd=self.data_dir,
            stop_timeout=20.0,
        )
        self._process.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        if self._process is None:
            raise RuntimeError("start() first")
        wait_until(
            lambda: port_open(self.host, self.port) and ping(self.url),
            timeout=timeout,
            what="answering ping",
            process=self._process,
            interval=0.2,
        )

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
