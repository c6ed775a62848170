"""ManagedProcess: process groups, escalation to SIGKILL, death with the parent, log tails."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from broadsheet_devstack.processes import (
    ManagedProcess,
    StartupError,
    free_port,
    wait_for_port,
)
from broadsheet_devstack.proctree import alive, descendants, wait_all_gone

pytestmark = pytest.mark.unit


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    process = ManagedProcess(
        "stubborn",
        python("""
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("ignoring", "SIGTERM", flush=True)  # not the argv the log header quotes
            time.sleep(60)
        """),
        log_path=tmp_path / "stubborn.log",
        stop_timeout=1.0,
    )
    process.start()
    wait_for_log(process.log_path, "ignoring SIGTERM")
    assert process.stop() == -signal.SIGKILL
    assert not alive(process.pid or 0)
    assert "SIGKILL" in process.log_path.read_text()


def test_stop_reaches_grandchildren_in_the_process_group(tmp_path: Path) -> None:
    process = ManagedProcess(
        "parent", ["sh", "-c", "sleep 60 & sleep 60 & wait"], log_path=tmp_path / "p.log"
    )
    process.start()
    assert process.pid is not None
    grandchildren = wait_for_descendants(process.pid, 2)
    process.stop(timeout=5)
    assert wait_all_gone(grandchildren | {process.pid}, timeout=5) == set()


def test_children_die_when_their_parent_is_killed(tmp_path: Path) -> None:
    # A parent that starts a child through ManagedProcess, prints its pid, then waits forever.
    parent = subprocess.Popen(
        python(f"""
            import time
            from pathlib import Path
            from broadsheet_devstack.processes import ManagedProcess
            log = Path({str(tmp_path / "c.log")!r})
            child = ManagedProcess("sleeper", ["sleep", "120"], log_path=log)
            child.start()
            print(child.pid, flush=True)
            time.sleep(120)
        """),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert alive(child_pid)
    parent.kill()  # SIGKILL: no cleanup code runs in the parent
    parent.wait()
    assert wait_all_gone({child_pid}, timeout=10) == set(), "PR_SET_PDEATHSIG did not fire"


def test_startup_error_names_the_log_and_quotes_its_tail(tmp_path: Path) -> None:
    process = ManagedProcess(
        "crasher",
        python("""
            import sys
            print("config is broken: no such key 'xyz'", flush=True)
            sys.exit(3)
        """),
        log_path=tmp_path / "logs" / "crasher.log",
    )
    process.start()
    with pytest.raises(StartupError) as caught:
        wait_for_port("127.0.0.1", free_port(), timeout=30, process=process)
    message = str(caught.value)
    assert "exited with code 3" in message
    assert str(tmp_path / "logs" / "crasher.log") in message
    assert "config is broken: no such key 'xyz'" in message


def wait_for_log(path: Path, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in (path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.05)


def wait_for_descendants(pid: int, count: int, timeout: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while len(found := descendants(pid)) < count:
        assert time.monotonic() < deadline, f"only {found} under {pid}"
        time.sleep(0.05)
    return found
