"""The public API's contract, tried as an integrator would: schemathesis with every check, the
stateful phase included, against the whole platform through the gateway, once anonymous and
once signed in as the dev editor. The exceptions, and why: docs/api.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from broadsheet_devstack.services import DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD

from .conftest import Platform

# A whole run against the platform takes minutes, more than the default per-test timeout.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

CONFIG = Path(__file__).with_name("schemathesis.toml")

# Staff runs sign in through /api/auth/token as a client would, and sign in again when the
# access token (15 minutes at most) has expired.
STAFF_AUTH = f"""
[auth.dynamic.openapi.HTTPBearer]
path = "/api/auth/token"
method = "post"
payload = {{ username = {json.dumps(DEFAULT_EDITOR_EMAIL)}, password = {json.dumps(DEFAULT_EDITOR_PASSWORD)} }}
payload_content_type = "application/x-www-form-urlencoded"
extract_selector = "/access_token"
retry_on = [401]
"""  # noqa: E501


def _schemathesis(platform: Platform, tmp_path: Path, config: str) -> None:
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file),
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
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=1700, cwd=tmp_path, check=False
    )
    (tmp_path / "schemathesis.out").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]


def test_anonymous_clients_get_what_the_document_promises(
    platform: Platform, tmp_path: Path
) -> None:
    _schemathesis(platform, tmp_path, CONFIG.read_text())


def test_staff_clients_get_what_the_document_promises(platform: Platform, tmp_path: Path) -> None:
    _schemathesis(platform, tmp_path, CONFIG.read_text() + STAFF_AUTH)
