"""The fixtures other tests build on: service_process, unique_prefix, and marking."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from broadsheet_devstack.proctree import alive
from broadsheet_devstack.pytest_plugin import Infra, ServiceFactory

HERE = Path(__file__).parent


@pytest.mark.integration
def test_service_process_kill_restart_stop(
    infra: Infra, service_process: ServiceFactory, unique_prefix: str
) -> None:
    svc = service_process("articles", app="dummy_app:create_app", python_path=[HERE])

    env = httpx.get(f"{svc.url}/env").json()
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == infra.kafka_bootstrap
    assert env["MONGO_URL"] == infra.mongo_url
    assert env["KAFKA_TOPIC_PREFIX"] == f"{unique_prefix}."
    assert env["ARTICLES_MONGO_DATABASE"] == f"{unique_prefix}_broadsheet_articles"
    assert env["ENVIRONMENT"] == "test"
    first_pid = svc.pid
    assert first_pid is not None

    assert svc.kill(signal.SIGKILL) == -signal.SIGKILL
    assert not alive(first_pid)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{svc.url}/healthz")

    svc.restart()  # same port, same environment
    assert svc.pid != first_pid
    assert httpx.get(f"{svc.url}/env").json() == env

    svc.stop()
    assert not svc.running


@pytest.mark.integration
def test_gateway_is_wired_to_services_started_before_it(
    service_process: ServiceFactory,
) -> None:
    articles = service_process("articles", app="dummy_app:create_app", python_path=[HERE])
    gateway = service_process(
        "gateway",
        app="dummy_app:create_app",
        python_path=[HERE],
        env={"GATEWAY_EXTRA": "from the test"},
    )
    env = httpx.get(f"{gateway.url}/env").json()
    assert env["GATEWAY_ARTICLES_URL"] == articles.url
    assert env["GATEWAY_PORT"] == str(gateway.port)
    assert env["GATEWAY_EXTRA"] == "from the test"
    assert env["PUBLIC_BASE_URL"] == gateway.url


@pytest.mark.unit
def test_unique_prefixes_differ_and_are_safe_names(unique_prefix: str) -> None:
    assert unique_prefix.isalnum()
    assert unique_prefix[0].isalpha()
    assert len(unique_prefix) == 9


@pytest.mark.unit
def test_tests_using_infra_are_marked_integration(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(
        textwrap.dedent("""
            import pytest

            def test_plain():
                pass

            def test_needs_servers(infra):
                pass

            @pytest.mark.e2e
            def test_whole_platform(infra):
                pass
        """)
    )
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "--collect-only", "-q",
            "-p", "broadsheet_devstack.pytest_plugin",
            "-m", "not integration and not e2e",
            "-o", "markers=integration\ne2e",
            "--rootdir", str(tmp_path), str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert "test_sample.py::test_plain" in result.stdout
    assert "test_needs_servers" not in result.stdout
    assert "2 deselected" in result.stdout
