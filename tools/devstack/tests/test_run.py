"""`broadsheet-run` (make run), for real: real Kafka, database and SMTP capture, with dummy apps
standing in for the services (tests/dummy_app.py), on free ports in a temporary DATA_DIR."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from broadsheet_devstack.processes import free_port
from broadsheet_devstack.proctree import alive, descendants, wait_all_gone
from broadsheet_devstack.run import EXIT_ALREADY_RUNNING, RunLock

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
SERVICES = ("articles", "comments", "notifications", "gateway")


@dataclass
class Run:
    """One `broadsheet-run` child, with the ports it was given."""

    data_dir: Path
    args: list[str]
    env: dict[str, str]
    output: Path
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(HERE / "run_with_dummy_services.py"), *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    @property
    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 120.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while text not in self.text:
            assert self.process.poll() is None, f"run exited early:\n{self.text}"
            assert time.monotonic() < deadline, f"{text!r} not printed:\n{self.text}"
            time.sleep(0.2)

    def wait_exit(self, timeout: float = 90.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)


def make_run(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> Run:
    ports = {name: free_port() for name in ("kafka", "controller", "db", "smtp", "web", "inbound")}
    ports |= {service: free_port() for service in SERVICES}
    data_dir = tmp_path / "data"
    args = [
        "--data-dir", str(data_dir),
        "--kafka-port", str(ports["kafka"]),
        "--kafka-controller-port", str(ports["controller"]),
        "--db-port", str(ports["db"]),
        "--smtp-port", str(ports["smtp"]),
        "--mail-web-port", str(ports["web"]),
        "--inbound-smtp-port", str(ports["inbound"]),
        *extra,
    ]  # fmt: skip
    child_env = {
        **os.environ,
        "PYTHONPATH": str(HERE),  # so the uvicorn children import dummy_app
        **{f"{service.upper()}_PORT": str(ports[service]) for service in SERVICES},
        **(env or {}),
    }
    return Run(data_dir, args, child_env, tmp_path / "run.out", ports)


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    """Every run a test starts; whatever is left of them is killed afterwards."""
    started: list[Run] = []
    yield started
    for run in started:
        if run.process is not None:
            leftovers = descendants(run.process.pid)
            if run.process.poll() is None:
                os.killpg(run.process.pid, signal.SIGKILL)
                run.process.wait()
            for pid in leftovers:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


def test_runs_everything_refuses_a_second_run_and_stops_cleanly(
    tmp_path: Path, runs: list[Run]
) -> None:
    run = make_run(tmp_path)
    runs.append(run)
    run.start()
    run.wait_for_output("Press Ctrl-C to stop.")
    assert run.process is not None

    # Every service answers, with the environment the supervisor computed for it.
    env = {
        service: httpx.get(f"http://127.0.0.1:{run.ports[service]}/env", timeout=5).json()
        for service in SERVICES
    }
    for service in SERVICES:
        if service == "gateway":  # it has no database
            assert "MONGO_URL" not in env[service]
        else:
            assert (
                env[service]["MONGO_URL"]
                == f"mongodb://127.0.0.1:{run.ports['db']}/?directConnection=true"
            )
        assert env[service]["KAFKA_BOOTSTRAP_SERVERS"] == f"127.0.0.1:{run.ports['kafka']}"
        assert env[service]["DATA_DIR"] == str(run.data_dir)
        assert env[service][f"{service.upper()}_PORT"] == str(run.ports[service])
    assert env["articles"]["ARTICLES_MONGO_DATABASE"] == "broadsheet_articles"
    assert env["articles"]["ARTICLES_EDITOR_EMAIL"] == "editor@broadsheet.local"
    assert env["notifications"]["NOTIFICATIONS_SMTP_PORT"] == str(run.ports["smtp"])
    assert env["notifications"]["NOTIFICATIONS_INBOUND_SMTP_PORT"] == str(run.ports["inbound"])
    assert env["gateway"]["GATEWAY_ARTICLES_URL"] == f"http://127.0.0.1:{run.ports['articles']}"
    # The banner tells a person where everything is.
    assert f"http://127.0.0.1:{run.ports['gateway']}/" in run.text
    assert f"http://127.0.0.1:{run.ports['web']}/" in run.text
    assert f"Inbound SMTP    127.0.0.1:{run.ports['inbound']}" in run.text
    assert "editor@broadsheet.local / broadsheet-dev-password" in run.text
    assert f"Newsroom        http://127.0.0.1:{run.ports['gateway']}/newsroom/" in run.text

    # A second run on the same data is refused at once, naming the running one.
    second = subprocess.run(
        [sys.executable, "-m", "broadsheet_devstack.run", "--data-dir", str(run.data_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert second.returncode == EXIT_ALREADY_RUNNING
    assert f"pid {run.process.pid}" in second.stderr

    children = descendants(run.process.pid)
    assert len(children) >= 7  # kafka, database, smtp capture, four services

    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit() == 0
    assert wait_all_gone(children, timeout=5) == set()
    assert "Stopped." in run.text
    # Stopped in reverse order: the gateway first, Kafka last.
    stops = [line.split()[-1] for line in run.text.splitlines() if "stopping " in line]
    assert stops == [
        "gateway",
        "notifications",
        "comments",
        "articles",
        "smtp-capture",
        "database",
        "kafka",
    ]
    # The lock went with the process: a new run could take it.
    with RunLock(run.data_dir / "run.lock"):
        pass


def test_sigkilled_supervisor_leaves_no_orphans(tmp_path: Path, runs: list[Run]) -> None:
    run = make_run(tmp_path, "--services", "articles")
    runs.append(run)
    run.start()
    run.wait_for_output("Press Ctrl-C to stop.")
    assert run.process is not None
    children = descendants(run.process.pid)
    assert len(children) >= 4

    run.process.kill()  # no cleanup code runs: only PR_SET_PDEATHSIG can stop the children
    run.process.wait()
    assert wait_all_gone(children, timeout=60) == set()


def test_service_never_ready_fails_clearly_and_stops_everything(
    tmp_path: Path, runs: list[Run]
) -> None:
    run = make_run(
        tmp_path, "--services", "articles", "--ready-timeout", "5", env={"DUMMY_READY": "0"}
    )
    runs.append(run)
    run.start()
    run.wait_for_output("ready (", timeout=120)  # the infrastructure came up
    assert run.process is not None
    children = descendants(run.process.pid)

    assert run.wait_exit(timeout=120) == 1
    assert "articles: not ready" in run.text
    assert str(run.data_dir / "logs" / "articles.log") in run.text
    assert wait_all_gone(children, timeout=5) == set()


def test_second_run_is_refused_while_the_lock_is_held(tmp_path: Path) -> None:
    with RunLock(tmp_path / "run.lock"):
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "broadsheet_devstack.run", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == EXIT_ALREADY_RUNNING
    assert f"already running on {tmp_path} (pid {os.getpid()})" in result.stderr
    assert time.monotonic() - started < 10  # at once: nothing was started


def test_a_taken_port_is_reported_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable, "-m", "broadsheet_devstack.run",
                "--data-dir", str(tmp_path), "--kafka-port", str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"port 127.0.0.1:{port} is already in use" in result.stderr
    assert not (tmp_path / "kafka" / "data").exists()  # nothing was formatted or started
