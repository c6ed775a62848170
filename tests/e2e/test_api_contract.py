"""The public API's contract, tried as an integrator would: schemathesis with every check, the
stateful phase included, against the whole platform through the gateway, once anonymous and
once with a staff token. The checks disabled for Broadsheet, and why: docs/api.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Platform

pytestmark = pytest.mark.e2e

# docs/api.md ("What the contract test checks") gives the reason for each.
EXCLUDED_CHECKS: tuple[str, ...] = ()


def _schemathesis(platform: Platform, tmp_path: Path, *headers: str) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{platform.gateway_url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "20",
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--seed",
        "17",
        "--no-color",
    ]
    if EXCLUDED_CHECKS:
        command += ["--exclude-checks", ",".join(EXCLUDED_CHECKS)]
    for header in headers:
        command += ["--header", header]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=1500, cwd=tmp_path, check=False
    )
    (tmp_path / "schemathesis.out").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]


def test_anonymous_clients_get_what_the_document_promises(
    platform: Platform, tmp_path: Path
) -> None:
    _schemathesis(platform, tmp_path)


def test_staff_clients_get_what_the_document_promises(platform: Platform, tmp_path: Path) -> None:
    _schemathesis(platform, tmp_path, f"Authorization: Bearer {platform.token}")
