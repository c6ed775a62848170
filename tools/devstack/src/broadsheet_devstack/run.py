"""``broadsheet-run`` (what ``make run`` calls): the whole platform on this machine.

Starts Kafka, the database and SMTP capture, then every service (``services.SERVICES``), waits
until each ``/readyz`` is green, prints where everything is, and waits. Ctrl-C or SIGTERM stops
it all in reverse order. Every child runs in its own process group with PR_SET_PDEATHSIG, so
even a SIGKILLed supervisor leaves no orphans. A lock file in ``DATA_DIR`` refuses a second
run on the same data while one is running.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Protocol

from broadsheet_devstack import services
from broadsheet_devstack.database import DatabaseServer
from broadsheet_devstack.kafka import kafka_for
from broadsheet_devstack.paths import default_data_dir
from broadsheet_devstack.processes import ManagedProcess, StartupError, tail_of
from broadsheet_devstack.services import Endpoints, ServiceProcess, service_env
from broadsheet_devstack.smtp_capture import SmtpCapture

LOCK_NAME = "run.lock"
EXIT_ALREADY_RUNNING = 3
# Kafka's first start on a busy 2-core machine can take a while; a hang is still caught.
INFRA_READY_TIMEOUT = 120.0


class AlreadyRunning(RuntimeError):
    def __init__(self, path: Path, pid: str) -> None:
        self.path = path
        self.pid = pid
        super().__init__(
            f"Broadsheet is already running on {path.parent} (pid {pid or 'unknown'}). "
            f"Stop it first: Ctrl-C in its terminal, or `kill {pid or '<pid>'}`."
        )


class RunLock:
    """An exclusive ``flock`` on ``DATA_DIR/run.lock``, holding the owner's pid.

    The kernel drops the lock when the process dies, however it dies: no stale lock to clean
    up. Children do not inherit the descriptor (subprocess closes it), so a lingering child
    cannot keep the lock either.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_file = self.path.open("a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            pid = lock_file.read().strip()
            lock_file.close()
            raise AlreadyRunning(self.path, pid) from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        self._file = lock_file

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Component(Protocol):
    name: str

    @property
    def log_path(self) -> Path: ...

    @property
    def process(self) -> ManagedProcess | None: ...

    def start(self) -> None: ...

    def wait_ready(self, timeout: float) -> None: ...

    def stop(self) -> object: ...


class Shutdown(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM/SIGHUP."""


class ChildExited(RuntimeError):
    pass


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


_stopping_since: float | None = None


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    raise Shutdown(signal.Signals(signum).name)


def _already_stopping(signum: int, frame: FrameType | None) -> None:
    # `uv run` forwards the terminal's Ctrl-C, so one keypress can arrive twice: stay quiet
    # about an echo right after the first.
    if _stopping_since is not None and time.monotonic() - _stopping_since > 1.0:
        print("Still stopping (children that do not stop get SIGKILL)…", flush=True)


@contextlib.contextmanager
def _timed(label: str) -> Iterator[None]:
    print(f"  {label}…", end=" ", flush=True)
    started = time.monotonic()
    try:
        yield
    except Exception:
        print("failed", flush=True)
        raise
    except BaseException:
        print("interrupted", flush=True)
        raise
    print(f"ready ({time.monotonic() - started:.1f}s)", flush=True)


class Platform:
    """Everything ``make run`` starts, in start order."""

    def __init__(self, args: argparse.Namespace, data_dir: Path) -> None:
        self.data_dir = data_dir
        logs = data_dir / "logs"
        self.kafka = kafka_for(
            args.kafka_brokers,
            data_dir / "kafka",
            log_path=logs / "kafka.log",
            port=args.kafka_port,
            controller_port=args.kafka_controller_port,
        )
        self.database = DatabaseServer(
            data_dir / "db", log_path=logs / "database.log", port=args.db_port
        )
        self.smtp = SmtpCapture(
            data_dir / "mail",
            log_path=logs / "smtp-capture.log",
            port=args.smtp_port,
            web_port=args.mail_web_port,
        )
        wanted = _selected(args.services)
        specs = [spec for spec in services.SERVICES if spec.name in wanted]
        self.endpoints = Endpoints(
            kafka_bootstrap=self.kafka.bootstrap_servers,
            kafka_replicas=self.kafka.replicas,
            mongo_url=self.database.url,
            smtp_host=self.smtp.host,
            smtp_port=self.smtp.port,
            data_dir=data_dir,
            ports={spec.name: spec.port_from(os.environ) for spec in services.SERVICES},
            environment=os.environ.get("ENVIRONMENT", "dev"),
            log_level=os.environ.get("LOG_LEVEL", "INFO"),
            editor_email=_first_env(
                "ARTICLES_EDITOR_EMAIL", "EDITOR_EMAIL", default=services.DEFAULT_EDITOR_EMAIL
            ),
            editor_password=_first_env(
                "ARTICLES_EDITOR_PASSWORD",
                "EDITOR_PASSWORD",
                default=services.DEFAULT_EDITOR_PASSWORD,
            ),
            inbound_smtp_port=args.inbound_smtp_port,
        )
        self.services = [
            ServiceProcess(
                spec.name,
                spec.app,
                port=self.endpoints.port(spec.name),
                log_path=logs / f"{spec.name}.log",
                env=service_env(spec, self.endpoints),
            )
            for spec in specs
        ]
        self.started: list[Component] = []

    def start(self, ready_timeout: float) -> None:
        infra: list[Component] = [self.kafka, self.database, self.smtp]
        print(f"Starting Broadsheet (data in {self.data_dir})", flush=True)
        # The three servers start side by side, then each is awaited.
        for component in infra:
            self.started.append(component)
            component.start()
        for component in infra:
            with _timed(component.name):
                component.wait_ready(INFRA_READY_TIMEOUT)
        for service in self.services:
            self.started.append(service)
            service.start()
        for service in self.services:
            with _timed(f"{service.name} on {service.url}"):
                service.wait_ready(ready_timeout)

    def watch(self) -> None:
        """Until a signal arrives; a child that exits on its own stops the platform."""
        while True:
            time.sleep(0.5)
            for component in self.started:
                process = component.process
                if process is not None and process.returncode is not None:
                    tail = "\n".join(f"    {line}" for line in tail_of(component.log_path, 15))
                    raise ChildExited(
                        f"{component.name} exited unexpectedly (code {process.returncode}).\n"
                        f"  log: {component.log_path}\n{tail}"
                    )

    def stop(self) -> None:
        for component in reversed(self.started):
            print(f"  stopping {component.name}", flush=True)
            component.stop()
        self.started.clear()

    def banner(self) -> str:
        ep = self.endpoints
        mail = self.smtp.web_url
        lines = ["", "Broadsheet is running.", ""]
        if any(s.name == "gateway" for s in self.services):
            lines.append(f"  Site            {ep.url('gateway')}/")
        for service in self.services:
            lines.append(
                f"  {service.name:<15} {service.url}  (API docs {service.url}/docs, "
                f"log {service.log_path})"
            )
        lines += [
            f"  Mail viewer     {mail}  (or: uv run broadsheet-mail list)",
            f"  Kafka           {ep.kafka_bootstrap}",
            f"  Database        {ep.mongo_url}",
            f"  SMTP capture    {self.smtp.host}:{self.smtp.port}",
        ]
        if ep.inbound_smtp_port and any(s.name == "notifications" for s in self.services):
            lines.append(
                f"  Inbound SMTP    {ep.host}:{ep.inbound_smtp_port}  "
                "(mailto: unsubscribes, read by notifications)"
            )
        lines += [f"  Data and logs   {self.data_dir}", ""]
        if any(s.name == "gateway" for s in self.services):
            lines.append(f"  Newsroom        {ep.url('gateway')}/newsroom/  (sign in with:)")
        lines += [
            f"  Editor login    {ep.editor_email} / {ep.editor_password}",
            "                  (local dev defaults; set EDITOR_EMAIL / EDITOR_PASSWORD to change)",
            "                  an admin: it creates editor and moderator accounts (POST",
            '                  /api/editor/users with "role": "editor" or "moderator")',
            "",
            "Press Ctrl-C to stop.",
        ]
        return "\n".join(lines)


def _first_env(*names: str, default: str) -> str:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return default


def _selected(value: str) -> set[str]:
    if value == "all":
        return {spec.name for spec in services.SERVICES}
    if value == "none":
        return set()
    names = {name.strip() for name in value.split(",") if name.strip()}
    for name in names:
        services.get(name)  # unknown names fail here, with the list of known ones
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="broadsheet-run",
        description="Run Kafka, the database, SMTP capture and every Broadsheet service.",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $DATA_DIR or .data")
    parser.add_argument(
        "--services",
        default="all",
        help="comma-separated services to start, 'all' (default) or 'none' (infrastructure only)",
    )
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--kafka-controller-port", type=int, default=9093)
    parser.add_argument(
        "--kafka-brokers",
        type=int,
        default=int(os.environ.get("DEVSTACK_KAFKA_BROKERS", "1")),
        help="Kafka nodes (default 1, or $DEVSTACK_KAFKA_BROKERS); 3 runs a cluster whose topics "
        "have 3 replicas and min.insync.replicas=2, ports counting up by two",
    )
    parser.add_argument("--db-port", type=int, default=27017)
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--mail-web-port", type=int, default=8025)
    parser.add_argument(
        "--inbound-smtp-port",
        type=int,
        default=2525,
        help="the notifications service's inbound SMTP for mailto: unsubscribes (0: off)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=120.0,
        help="seconds each service may take to answer /readyz (default 120)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = (args.data_dir or default_data_dir()).resolve()
    lock = RunLock(data_dir / LOCK_NAME)
    try:
        lock.acquire()
    except AlreadyRunning as error:
        print(f"broadsheet-run: {error}", file=sys.stderr)
        return EXIT_ALREADY_RUNNING
    try:
        return _run(args, data_dir)
    finally:
        lock.release()


def _run(args: argparse.Namespace, data_dir: Path) -> int:
    for sig in _STOP_SIGNALS:
        signal.signal(sig, _raise_shutdown)
    platform: Platform | None = None
    code = 0
    try:
        platform = Platform(args, data_dir)
        platform.start(args.ready_timeout)
        print(platform.banner(), flush=True)
        platform.watch()
    except Shutdown as request:
        print(f"\nStopping Broadsheet ({request.args[0]})…", flush=True)
    except (StartupError, ChildExited) as error:
        print(f"\nbroadsheet-run: {error}", file=sys.stderr, flush=True)
        print("Stopping everything that was started…", flush=True)
        code = 1
    finally:
        # A second Ctrl-C must not interrupt the orderly stop (children get SIGKILL after
        # their timeout anyway).
        global _stopping_since
        _stopping_since = time.monotonic()
        for sig in _STOP_SIGNALS:
            signal.signal(sig, _already_stopping)
        if platform is not None:
            platform.stop()
        print("Stopped.", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
