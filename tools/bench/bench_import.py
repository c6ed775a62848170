"""Benchmark: importing a WordPress export of 100,000 comments.

Generates the export with the importer tests' generator (2,000 posts of ~9 KB of block markup,
50 comments each, every fifth a reply: ~100 MB), then, in a fresh process each, (1) reads it with
the streaming reader alone and (2) reads it and plans every post and comment (mapping, HTML →
Markdown, thread order): what the import does before it writes. Reports wall time, rates and the
process's peak RSS above its baseline after imports (the reader must not grow with the file).

(3) The write: the whole platform (Kafka, the database, the SMTP capture, the four services) is
started as the end-to-end tests start it, and the real command, ``broadsheet-import wxr FILE``,
runs as a subprocess against its gateway on an export of the same shape (50 comments a post);
then once more, which must write nothing ("Nothing changed"). Reports wall time, posts/s,
comments/s, the importer process's CPU time and peak RSS. One HTTP request per item through
the gateway and the services is much slower than reading, so by default only 5,000 comments
(100 posts) are written, and the time for the full 100,000 is extrapolated from the measured
rate (printed as such); ``--write-comments 100000`` writes the full size.

    uv run python tools/bench/bench_import.py [--posts 2000] [--comments-per-post 50]
        [--write-comments 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "importer"))

from tests.wxr_factory import write_large_export  # noqa: E402

from broadsheet_import.mapping import Planner  # noqa: E402
from broadsheet_import.wxr import WxrItem, WxrSite, read_wxr  # noqa: E402

COMMAND = Path(sys.executable).parent / "broadsheet-import"
NOTHING_CHANGED = "Nothing changed"


def measure(path: Path, plan: bool) -> dict[str, float]:
    """Read (and plan) the whole file; time it and the peak RSS it added."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    planner = Planner(datetime.now(UTC))
    posts = comments = 0
    started = time.perf_counter()
    for record in read_wxr(path):
        if isinstance(record, WxrItem):
            posts += 1
            if plan:
                comments += len(planner.plan(record).comments)
            else:
                comments += len(record.comments)
        elif not isinstance(record, WxrSite):
            planner.remember(record)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "posts": posts,
        "comments": comments,
        "seconds": round(seconds, 2),
        "baseline_rss_mb": round(before / 1024, 1),
        "peak_rss_growth_mb": round((peak - before) / 1024, 1),
    }


def run_import(path: Path, base_url: str, env: dict[str, str]) -> dict[str, Any]:
    """``broadsheet-import wxr`` as a subprocess: its wall time, its peak RSS and its summary."""
    # Output to a file, not a pipe: nothing reads a pipe while wait4 waits.
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        child = subprocess.Popen(
            [str(COMMAND), "wxr", str(path), "--base-url", base_url],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )
        # wait4 gives this child's own rusage; RUSAGE_CHILDREN would also count the earlier
        # read/plan processes.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    if child.returncode != 0:
        raise SystemExit(f"broadsheet-import exited {child.returncode}:\n{text[-4000:]}")
    return {
        "seconds": round(seconds, 2),
        # Against the wall time: the importer's share of it, the rest is waiting on the platform.
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "summary": [line for line in text.splitlines() if line.startswith(("Posts:", "Comments:"))],
        "nothing_changed": NOTHING_CHANGED in text,
    }


def measure_write(folder: Path, posts: int, comments_per_post: int) -> dict[str, Any]:
    """Import an export of ``posts`` posts into a fresh platform, then import it again."""
    # Imported here, not at the top: the read/plan processes run this file too, and their
    # baseline RSS is the reader's alone.
    from harness import LIFTED_LIMITS, platform_on_devstack

    from broadsheet_devstack.services import DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD

    path = write_large_export(folder / "write.xml", posts, comments_per_post)
    env = {
        **os.environ,
        "EDITOR_EMAIL": DEFAULT_EDITOR_EMAIL,
        "EDITOR_PASSWORD": DEFAULT_EDITOR_PASSWORD,
    }
    # The import writes every item from one address, and the gateway's per-client allowance
    # counts every changing request (PUT too): lifted, as for the other benches.
    with platform_on_devstack(LIFTED_LIMITS) as (_, gateway):
        first = run_import(path, gateway.url, env)
        second = run_import(path, gateway.url, env)
    if not second["nothing_changed"]:
        raise SystemExit(f"the second run wrote something: {second['summary']}")
    return {"posts": posts, "comments": posts * comments_per_post, "first": first, "second": second}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--comments-per-post", type=int, default=50)
    parser.add_argument(
        "--write-comments",
        type=int,
        default=5000,
        help="comments to write through the platform, on posts of --comments-per-post "
        "(%(default)s; 0: no write)",
    )
    parser.add_argument("--measure", choices=["read", "plan"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.file, plan=args.measure == "plan")))
        return
    full_comments = args.posts * args.comments_per_post
    with tempfile.TemporaryDirectory() as folder:
        path = write_large_export(Path(folder) / "large.xml", args.posts, args.comments_per_post)
        size_mb = path.stat().st_size / 1e6
        runs = {}
        for mode in ("read", "plan"):
            result = subprocess.run(
                [sys.executable, __file__, "--measure", mode, "--file", str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[mode] = json.loads(result.stdout)
        read_load = load_average()
        write = None
        if args.write_comments:
            write_posts = max(1, args.write_comments // args.comments_per_post)
            write = measure_write(Path(folder), write_posts, args.comments_per_post)
            write["load_average"] = load_average()
    report = {
        "benchmark": "WXR import",
        "file_mb": round(size_mb, 1),
        **runs,
        "load_average": read_load,
        "write": write,
    }
    print("## Import: WXR read + convert, and the write through the platform")
    print()
    print(
        f"{runs['plan']['comments']:,} comments on {runs['plan']['posts']:,} posts, a "
        f"{size_mb:.0f} MB export generated by tools/importer/tests/wxr_factory.py, each step "
        f"in a fresh process; load average at the end {read_load}."
    )
    print()
    print("| step | time | posts/s | comments/s | peak RSS growth |")
    print("|---|---|---|---|---|")
    for mode, label in (("read", "read (streaming parse)"), ("plan", "read + map + convert")):
        run = runs[mode]
        print(
            f"| {label} | {run['seconds']} s | {run['posts'] / run['seconds']:,.0f} "
            f"| {run['comments'] / run['seconds']:,.0f} | {run['peak_rss_growth_mb']} MB |"
        )
    if write is not None:
        print_write(write, full_comments, args.posts)
    print()
    print("```json")
    print(json.dumps(report, indent=2))
    print("```")


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def print_write(write: dict[str, Any], full_comments: int, full_posts: int) -> None:
    first, second = write["first"], write["second"]
    print()
    print(
        f"`broadsheet-import wxr` (a subprocess) writing {write['comments']:,} comments on "
        f"{write['posts']:,} posts of the same shape through the gateway into Kafka, the "
        f"database and the four services, all on this machine; load average at the end "
        f"{write['load_average']}. Rates are items over the run's wall time (posts and comments "
        f"are written in one pass). Peak RSS is the importer process's, absolute."
    )
    print()
    print("| run | time | posts/s | comments/s | importer CPU time | importer peak RSS |")
    print("|---|---|---|---|---|---|")
    for run, label in ((first, "first (writes everything)"), (second, 'again ("Nothing changed")')):
        print(
            f"| {label} | {run['seconds']} s | {write['posts'] / run['seconds']:,.1f} "
            f"| {write['comments'] / run['seconds']:,.1f} | {run['cpu_seconds']} s "
            f"| {run['peak_rss_mb']} MB |"
        )
    if write["comments"] < full_comments:
        # Linear: every item is one request, and the export's shape (comments a post) is kept.
        minutes = first["seconds"] * full_comments / write["comments"] / 60
        print()
        print(
            f"**Extrapolated, not measured:** writing all {full_comments:,} comments on "
            f"{full_posts:,} posts at the first run's rate would take ~{minutes:.0f} min "
            f"(`--write-comments {full_comments}` measures it)."
        )


if __name__ == "__main__":
    main()
