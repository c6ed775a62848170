"""Write ``artifacts/proof/report.md`` from the rows the fault scenarios recorded.

Run by ``make proof`` after the scenarios; the rows come from ``tests/reliability/proof.py``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path("artifacts/proof/results.jsonl")
REPORT = Path("artifacts/proof/report.md")


def database_server() -> str:
    """Which server the scenarios' database was (``make proof`` sets the variable)."""
    binary = os.environ.get("DEVSTACK_MONGO_SERVER", "").strip()
    return Path(binary).name if binary else "secantusd-py"


def main() -> int:
    # A scenario run again replaces its earlier row; rows stay in the order first run.
    newest = {}
    for line in RESULTS.read_text(encoding="utf-8").splitlines():
        if line:
            row = json.loads(line)
            newest[row["scenario"]] = row
    rows = list(newest.values())
    lines = [
        "# Broadsheet under faults",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{platform.machine()}, Python {platform.python_version()}, "
        f"database server {database_server()}",
        "",
        "| Scenario | Events | Lost | Duplicated | Recovery (s) | Result | Ran (UTC) |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        recovery = row["recovery_seconds"]
        lines.append(
            f"| {row['scenario']} | {row['events']} | {row['lost']} | {row['duplicated']} | "
            f"{'' if recovery is None else f'{recovery:.1f}'} | "
            f"{'pass' if row['passed'] else 'FAIL'} | {row.get('at', '')} |"
        )
    notes = [(row["scenario"], note) for row in rows for note in row["notes"]]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- **{scenario}**: {note}" for scenario, note in notes]
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(REPORT.read_text(encoding="utf-8"))
    return 0 if all(row["passed"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
