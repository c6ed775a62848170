"""schemathesis over the service's OpenAPI, against a real uvicorn process: no 5xx, ever."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from broadsheet_shared.auth import Principal, TokenIssuer
from broadsheet_shared.devkeys import DEV_JWT_PRIVATE_KEY

pytestmark = pytest.mark.integration


def test_no_input_yields_a_server_error(service_process: Any, tmp_path: Path) -> None:
    service = service_process(
        "articles",
        env={
            "ARTICLES_ARGON2_MEMORY_KIB": "19456",
            "ARTICLES_ARGON2_TIME_COST": "2",
            "ARTICLES_ARGON2_PARALLELISM": "1",
            "ARTICLES_LOG_LEVEL": "WARNING",
        },
    )
    admin = TokenIssuer(
        DEV_JWT_PRIVATE_KEY,
        issuer="broadsheet-articles",
        audience="broadsheet",
        ttl=timedelta(minutes=15),
    ).issue(Principal(subject="schemathesis", role="admin", name="Fuzz"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{service.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            # Only the deterministic phases: they still send every operation its examples and
            # the valid and invalid inputs its schema implies, straight at the service. Every
            # route here is also fuzzed through the gateway, stateful phase included, anonymous
            # and signed in as an admin, with every check (tests/e2e/test_api_contract.py).
            "--phases",
            "examples,coverage",
            "--generation-database",
            "none",
            "--header",
            f"Authorization: Bearer {admin}",
            "--request-timeout",
            "20",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=tmp_path,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "passed" in output
