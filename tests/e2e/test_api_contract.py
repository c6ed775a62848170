"""The public API's contract, tried as an integrator would: schemathesis with every check, the
stateful phase included, against the whole platform through the gateway, once anonymous and
once signed in as the dev editor. The exceptions, and why: docs/api.md."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from broadsheet_devstack.pytest_plugin import Infra
from broadsheet_devstack.services import DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD

from .conftest import Platform, running_platform

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

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _schemathesis(platform: Platform, tmp_path: Path, config: str, schema: str) -> None:
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file),
        "run",
        schema,
        "--url",
        platform.gateway_url,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        # The examples and coverage phases send every operation its examples and the valid and
        # invalid inputs its schema implies, whatever this number; it bounds the random cases of
        # the fuzzing and stateful phases per operation, where 20 took twice as long and found
        # nothing 10 do not.
        "--max-examples",
        "10",
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


def staff_operations(document: dict[str, Any]) -> dict[str, Any]:
    """The document with only the operations that name a security requirement: what a staff
    token can change."""
    paths: dict[str, Any] = {}
    for path, item in document["paths"].items():
        secured = {
            key: value
            for key, value in item.items()
            if key not in HTTP_METHODS or value.get("security")
        }
        if HTTP_METHODS & secured.keys():
            paths[path] = secured
    assert paths, "no operation names a security requirement"
    return {**document, "paths": paths}


@pytest.fixture(scope="module")
def contract_platform(infra: Infra) -> Iterator[Platform]:
    """A platform of the contract runs' own: schemathesis, signed in as an admin, edits,
    unpublishes and deletes whatever it finds, and the other end-to-end tests read the shared
    platform's article."""
    with running_platform(infra) as own:
        yield own


def test_anonymous_clients_get_what_the_document_promises(
    contract_platform: Platform, tmp_path: Path
) -> None:
    url = contract_platform.gateway_url
    _schemathesis(contract_platform, tmp_path, CONFIG.read_text(), f"{url}/openapi.json")


def test_staff_clients_get_what_the_document_promises(
    contract_platform: Platform, tmp_path: Path
) -> None:
    """Signed in, on the operations a staff token opens; the anonymous run above covers every
    other operation with the same checks, and a token changes nothing there."""
    url = contract_platform.gateway_url
    document = httpx.get(f"{url}/openapi.json", timeout=30).raise_for_status()
    schema = tmp_path / "staff-openapi.json"
    schema.write_text(json.dumps(staff_operations(document.json())))
    _schemathesis(contract_platform, tmp_path, CONFIG.read_text() + STAFF_AUTH, str(schema))
