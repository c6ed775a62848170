"""`make bench`: runs every benchmark script beside this file and writes one report.

Each ``bench_*.py`` starts what it needs (the devstack servers, the service under test), measures,
and prints its own markdown section on stdout. The report goes to ``artifacts/bench/report.md``.
Benchmarks are not tests: they assert nothing, they report numbers against the targets.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REPORT = ROOT / "artifacts" / "bench" / "report.md"


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
    return "secantusd-py (no secantusd-rs built: `make bench-db` needs cargo and cmake)"


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
    failed = 0
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, check=False
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
        else:
            sections += [result.stdout.strip(), "", f"_{script.stem} took {took:.0f} s._", ""]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(sections))
    print(f"report: {REPORT.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
