"""Lighthouse (npm ``lighthouse`` 12.2.3, pinned in tools/browser and installed by
``make browser-tools``) on Debian's Chromium, for the browser test (accessibility, best
practices, SEO) and the benchmark (performance). One run scores all four categories.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broadsheet_devstack.paths import repo_root

CHROMIUM = "/usr/bin/chromium"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def lighthouse_cli() -> Path:
    return repo_root() / "tools" / "browser" / "node_modules" / "lighthouse" / "cli" / "index.js"


def missing() -> str | None:
    """Why Lighthouse cannot run here, or None."""
    if not shutil.which("node"):
        return "node is not installed"
    if not lighthouse_cli().exists():
        return "Lighthouse is not installed (make browser-tools)"
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (make browsers)"
    return None


@dataclass(frozen=True)
class Report:
    scores: dict[str, float]
    # Audits scored below 1 (id: title), what to fix first.
    failing: dict[str, str]

    def summary(self) -> str:
        return ", ".join(f"{name} {self.scores[name]:.2f}" for name in CATEGORIES)


def run(url: str, *, timeout: float = 180.0) -> Report:
    """Scores of ``url`` (0..1) in every category, as a mobile page (Lighthouse's default)."""
    with tempfile.TemporaryDirectory(prefix="lighthouse-") as tmp:
        output = Path(tmp) / "report.json"
        subprocess.run(
            [
                "node",
                str(lighthouse_cli()),
                url,
                "--quiet",
                "--output=json",
                f"--output-path={output}",
                f"--only-categories={','.join(CATEGORIES)}",
                "--chrome-flags=--headless=new --no-sandbox --disable-gpu "
                f"--user-data-dir={Path(tmp) / 'profile'}",
            ],
            env={**os.environ, "CHROME_PATH": CHROMIUM},
            check=True,
            timeout=timeout,
            capture_output=True,
        )
        data: dict[str, Any] = json.loads(output.read_text())
    scores = {name: float(data["categories"][name]["score"] or 0) for name in CATEGORIES}
    failing = {
        audit_id: str(audit.get("title", ""))
        for audit_id, audit in data["audits"].items()
        if audit.get("score") is not None
        and audit.get("scoreDisplayMode") in ("binary", "numeric", "metricSavings")
        and float(audit["score"]) < 1
    }
    return Report(scores, failing)
