"""The contract run's exceptions (tests/e2e/schemathesis.toml) reach the operations they name
and no others: schemathesis ORs the include keys of one block, so a block written as
`include-path` plus `include-method` once loosened every POST in the document."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from schemathesis.config import SchemathesisConfig

pytestmark = pytest.mark.unit

CONFIG = Path(__file__).parent / "e2e" / "schemathesis.toml"


@dataclass(frozen=True)
class Operation:
    """What schemathesis' filters read of an operation."""

    method: str
    path: str
    tags: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def accepted(method: str, path: str) -> list[str]:
    operations = SchemathesisConfig.from_path(str(CONFIG)).projects.default.operations
    config = operations.get_for_operation(Operation(method, path))
    return list(config.checks.positive_data_acceptance.expected_statuses or [])


def test_every_block_names_its_operations_with_one_include_key() -> None:
    blocks = tomllib.loads(CONFIG.read_text())["operations"]
    for block in blocks:
        includes = [key for key in block if key.startswith("include-")]
        assert len(includes) == 1, f"{includes} would be ORed: {block}"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/api/auth/password", "400"),
        ("GET", "/my-data/{token}", "400"),
        ("GET", "/api/subscriptions/manage/{token}", "400"),
        ("POST", "/api/articles/{slug}/comments", "422"),
        ("POST", "/api/editor/articles/preview", "422"),
        ("PATCH", "/api/editor/articles/{article_id}", "412"),
    ],
)
def test_an_exception_reaches_the_operation_it_names(method: str, path: str, status: str) -> None:
    assert status in accepted(method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/subscriptions"),
        ("POST", "/my-data"),
        ("PATCH", "/api/editor/sections/{section_id}"),
        ("GET", "/api/articles/{slug}/comments"),
    ],
)
def test_no_exception_reaches_an_operation_it_does_not_name(method: str, path: str) -> None:
    assert not {"400", "412", "422"} & set(accepted(method, path))
