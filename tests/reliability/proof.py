"""What every fault scenario (marker ``fault``) shares: its size and the row it reports.

``make test`` (and ``make test-faults``, only them) runs each scenario small; ``make proof`` sets
``BROADSHEET_PROOF=1`` and runs them at the sizes issue 14 names. Either way a scenario calls
:func:`record` with what it counted *before* it asserts, so a failing scenario still leaves its
row; ``tools/proof/report.py`` turns the rows into ``artifacts/proof/report.md``, the newest
of each scenario (``make proof PROOF=…`` runs some again and keeps the others' rows).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

AT_FULL_SIZE = os.environ.get("BROADSHEET_PROOF") == "1"
RESULTS = Path(os.environ.get("BROADSHEET_PROOF_RESULTS", "artifacts/proof/results.jsonl"))


def size(in_suite: int, in_proof: int) -> int:
    """The number of events (kills, seconds…) a scenario uses in this run."""
    return in_proof if AT_FULL_SIZE else in_suite


@dataclass(frozen=True)
class Outcome:
    """One scenario's figures: the report's row."""

    scenario: str
    events: int
    lost: int
    duplicated: int
    recovery_seconds: float | None
    passed: bool
    notes: list[str] = field(default_factory=list)


def record(outcome: Outcome) -> None:
    """Print the row (pytest ``-s`` or the proof log shows it) and append it to the results."""
    line = json.dumps(asdict(outcome) | {"at": f"{datetime.now(UTC):%Y-%m-%d %H:%M}"})
    print(f"proof: {line}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as results:
        results.write(line + "\n")
