"""The README's configuration table says what the settings code reads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def test_readme_configuration_table_matches_the_settings() -> None:
    spec = importlib.util.spec_from_file_location(
        "config_table", ROOT / "tools" / "docs" / "config_table.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text()
    assert module.render(readme) == readme, (
        "README configuration table is stale: run `uv run python tools/docs/config_table.py`"
    )
