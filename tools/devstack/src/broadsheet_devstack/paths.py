"""Where the devstack finds the repository, its download cache and the data directory."""

from __future__ import annotations

import os
from pathlib import Path

# A file only this repository has; marks the root when searching upwards.
_MARKER = Path("tools") / "devstack" / "kafka" / "pom.xml"


def repo_root() -> Path:
    """The Broadsheet checkout: searched upwards from the working directory, then from here.

    The package is installed editable by ``uv sync``, so ``__file__`` lies inside the checkout
    even when a command runs from elsewhere.
    """
    for start in (Path.cwd(), Path(__file__).resolve()):
        for candidate in (start, *start.parents):
            if (candidate / _MARKER).is_file():
                return candidate
    raise FileNotFoundError(f"no Broadsheet checkout (no {_MARKER}) above {Path.cwd()}")


def cache_dir() -> Path:
    """Downloads kept between runs (Kafka jars): ``BROADSHEET_CACHE_DIR`` or ``<repo>/.cache``."""
    override = os.environ.get("BROADSHEET_CACHE_DIR")
    return Path(override).resolve() if override else repo_root() / ".cache"


def default_data_dir() -> Path:
    """``DATA_DIR`` (default ``.data``), made absolute so child processes agree on it."""
    return Path(os.environ.get("DATA_DIR") or ".data").resolve()
