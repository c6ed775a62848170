"""Child processes that never outlive us.

Every server the devstack starts (Kafka, the database, SMTP capture, the services) runs as a
:class:`ManagedProcess`:

* in its own session and process group, so a terminal's Ctrl-C reaches only the supervisor,
  which then stops the children in order, and so a stop also reaches any grandchildren;
* with Linux ``PR_SET_PDEATHSIG``, so the kernel sends it SIGTERM if we die without cleaning up
  (even by SIGKILL): no orphaned JVMs holding ports after a crashed test run;
* with stdout and stderr appended to one log file, whose tail goes into every startup error.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

_PR_SET_PDEATHSIG = 1
_LIBC = (
    ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if sys.platform.startswith("linux")
    else None
)

# PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. Tests
# may start or restart processes from short-lived threads (asyncio.to_thread), so every fork
# happens on this one worker thread, which lives exactly as long as the process.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devstack-spawner")
_spawn_lock = threading.Lock()


class StartupError(RuntimeError):
    """A child did not become ready. The message names its log file and quotes its tail."""

    def __init__(self, name: str, reason: str, log_path: Path | None = None) -> None:
        self.name = name
        self.reason = reason
        self.log_path = log_path
        message = f"{name}: {reason}"
        if log_path is not None:
            message += f"\n  log: {log_path}"
            tail = tail_of(log_path)
            if tail:
                message += "\n  last lines:\n" + "\n".join(f"    {line}" for line in tail)
        super().__init__(message)


def tail_of(path: Path, lines: int = 25) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


def _child_setup(parent_pid: int, death_signal: int) -> Callable[[], None]:
    """Runs in the child between fork and exec (after setsid)."""

    def setup() -> None:
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody would ever signal us.
        if os.getppid() != parent_pid:
            os._exit(1)

    return setup


class ManagedProcess:
    """One child process (and its process group), started and stopped on request."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_timeout: float = 20.0,
        death_signal: int = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = [str(arg) for arg in argv]
        self.log_path = log_path
        # The child's whole environment: ours, overridden by `env`.
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self.death_signal = death_signal
        self._popen: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name} pid={self.pid} returncode={self.returncode}>"

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"\n=== {stamp} starting {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            with _spawn_lock:
                self._popen = _SPAWNER.submit(self._spawn, log.fileno()).result()

    def _spawn(self, log_fd: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=_child_setup(os.getpid(), self.death_signal),
        )

    def send_signal(self, sig: int) -> None:
        """Signal the whole process group (the child is its leader, so pgid == pid)."""
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, sig)

    def wait(self, timeout: float | None = None) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._popen.wait(timeout)

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 10.0) -> int | None:
        """Send ``sig`` to the group and wait until the child has exited (reaped, no zombie)."""
        if self._popen is None:
            return None
        self.send_signal(sig)
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send_signal(signal.SIGKILL)
            return self._popen.wait(timeout)

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM, wait up to ``timeout`` (default ``stop_timeout``), then SIGKILL.

        Returns the exit code, or None if it was never started. Safe to call twice.
        """
        if self._popen is None:
            return None
        if self._popen.poll() is None:
            self.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self._append_log(f"did not stop within {timeout or self.stop_timeout}s: SIGKILL")
                self.send_signal(signal.SIGKILL)
                self._popen.wait()
        # Grandchildren that ignored SIGTERM would still hold the group: end them too.
        self.send_signal(signal.SIGKILL)
        return self._popen.returncode

    def _append_log(self, line: str) -> None:
        with self.log_path.open("a") as log:
            log.write(f"=== {line}\n")

    def startup_error(self, reason: str) -> StartupError:
        return StartupError(self.name, reason, self.log_path)


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    process: ManagedProcess | None = None,
    interval: float = 0.1,
) -> None:
    """Poll ``check`` until it is true; fail early if ``process`` exits, or at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.returncode is not None:
            raise process.startup_error(f"exited with code {process.returncode} before {what}")
        if check():
            return
        if time.monotonic() > deadline:
            if process is not None:
                raise process.startup_error(f"not {what} after {timeout:.0f}s")
            raise StartupError(what, f"timed out after {timeout:.0f}s")
        time.sleep(interval)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """GET ``url`` answers 200."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for_port(
    host: str, port: int, *, timeout: float, process: ManagedProcess | None = None
) -> None:
    wait_until(
        lambda: port_open(host, port),
        timeout=timeout,
        what=f"listening on {host}:{port}",
        process=process,
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_port_free(name: str, host: str, port: int) -> None:
    """Fail with a clear message before starting a server whose port is already taken."""
    if port_open(host, port, timeout=0.2):
        raise StartupError(
            name,
            f"port {host}:{port} is already in use: is another Broadsheet (or another {name}) "
            "running? Stop it, or choose another port.",
        )
