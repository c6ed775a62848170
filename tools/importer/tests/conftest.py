"""Where the real WordPress exports are: ``shared/data/wxr`` beside the repository (the team
folder; for a worktree, beside the folder of worktrees), found by walking up from here."""

from __future__ import annotations

from pathlib import Path

import pytest


def _real_exports() -> Path | None:
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "shared" / "data" / "wxr"
        if (candidate / "64-block-test-data.xml").is_file():
            return candidate
    return None


REAL_EXPORTS = _real_exports()


@pytest.fixture
def real_exports() -> Path:
    if REAL_EXPORTS is None:
        pytest.skip("the team folder's shared/data/wxr is not beside this checkout")
    return REAL_EXPORTS
