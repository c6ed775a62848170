"""`make bench`: runs every benchmark script beside this file and writes one report.

Each ``bench_*.py`` starts what it needs (the devstack servers, the service under test, the
peers), measures, and hands its section over: a bench on the shared method (``method.py``)
writes it as JSON to the file named by ``BENCH_SECTION_FILE``; an older one prints markdown on
stdout. The report goes to ``artifacts/bench/report.md`` and, for the sections on the method,
``artifacts/bench/report.json``. Benchmarks are not tests: they assert nothing, and a missed
goal is reported, not a failed run. ``make bench BENCH=wordpress`` runs the benches whose name
contains "wordpress".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from method import SECTION_ENV, Section, render_goals, render_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REPORT = ROOT / "artifacts" / "bench" / "report.md"
REPORT_JSON = REPORT.with_suffix(".json")


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.system()} {platform.machine()}, {cpu}, Python {platform.python_version()}"


def database_server() -> str:
    binary = os.environ.get("DEVSTACK_MONGO_SERVER", "").strip()
    if binary:
        return f"secantusd-rs ({binary})"
    return (
        "secantusd-py (DEVSTACK_MONGO_SERVER unset: `make bench` sets it to secantusd-rs when "
        "`make bench-db` could build it, with cargo and cmake)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("only", nargs="*", help="names of benchmarks to run (default: all)")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(name in s.stem for name in args.only)]
    sections = [
        "# Broadsheet benchmark report",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        "",
        f"Database server: {database_server()}.",
        "",
    ]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    sections.insert(3, f"Load average (1, 5, 15 min) at the start: {load}.")
    sections.insert(4, "")
    header_lines = len(sections)  # the goals' table goes after the run's header
    document: dict[str, Any] = {
        "run_at": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "machine": machine(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "database_server": database_server(),
        "sections": {},
    }
    failed = 0
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        section_file = REPORT.parent / f"{script.stem}.section.json"
        section_file.unlink(missing_ok=True)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, SECTION_ENV: str(section_file)},
        )
        took = time.monotonic() - started
        sys.stderr.write(result.stderr[-4000:])
        print(result.stdout, flush=True)
        if result.returncode != 0:
            failed += 1
            sections += [
                f"## {script.stem}",
                "",
                f"FAILED (exit {result.returncode}).",
                "",
                "```",
                result.stderr[-2000:],
                "```",
                "",
            ]
        elif section_file.exists():
            data = json.loads(section_file.read_text())
            document["sections"][script.stem] = data
            rendered = render_section(Section.from_json(data))
            sections += [rendered, f"_{script.stem} took {took:.0f} s._", ""]
        else:
            sections += [result.stdout.strip(), "", f"_{script.stem} took {took:.0f} s._", ""]
    measured = [Section.from_json(data) for data in document["sections"].values()]
    if any(c.goal for section in measured for c in section.comparisons):
        sections[header_lines:header_lines] = [render_goals(measured)]
    REPORT.write_text("\n".join(sections))
    REPORT_JSON.write_text(json.dumps(document, indent=2))
    print(f"report: {REPORT.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
