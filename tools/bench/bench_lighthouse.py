"""Benchmark: Lighthouse's performance score of an article page with 200 comments.

Starts the whole platform on the devstack servers, seeds an article with a 200-comment threaded
conversation (the comments import API) and runs Lighthouse 12.2.3 (npm, tools/browser) on
Debian's Chromium, as a mobile page, ``--runs`` times (the median is reported). Prints a JSON
report and a Markdown table. Target: performance ≥ 0.95. (The tests assert accessibility, best
practices and SEO; speed is reported here.)

    uv run python tools/bench/bench_lighthouse.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from harness import platform_on_devstack

from broadsheet_devstack import lighthouse
from broadsheet_devstack.seed import seed_conversation, sign_in
from broadsheet_devstack.services import DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD

TARGET = 0.95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    why = lighthouse.missing()
    if why is not None:
        print(f"## Lighthouse\n\nNot run: {why}.")
        return 1
    # Seeding writes 200 comments from one client: beyond the gateway's per-client allowance.
    with platform_on_devstack({"gateway": {"GATEWAY_WRITE_RATE_LIMIT": "100000"}}) as (_, gateway):
        token = sign_in(gateway.url, DEFAULT_EDITOR_EMAIL, DEFAULT_EDITOR_PASSWORD)
        conversation = seed_conversation(gateway.url, token, comments=200)
        url = f"{gateway.url}/articles/{conversation.slug}"
        reports = [lighthouse.run(url) for _ in range(args.runs)]
    median = {
        name: statistics.median(r.scores[name] for r in reports) for name in lighthouse.CATEGORIES
    }
    failing = sorted({audit for r in reports for audit in r.failing})
    print(json.dumps({"runs": args.runs, "median": median, "below_1": failing}), file=sys.stderr)
    verdict = "met" if median["performance"] >= TARGET else "NOT met"
    print("## Lighthouse: an article page with 200 comments\n")
    print(f"Median of {args.runs} runs (mobile, Debian's Chromium, headless).\n")
    print("| category | score | target |")
    print("|---|---|---|")
    for name in lighthouse.CATEGORIES:
        target = f"≥ {TARGET} ({verdict})" if name == "performance" else "1.0 (asserted in tests)"
        print(f"| {name} | {median[name]:.2f} | {target} |")
    if failing:
        print(f"\nAudits below 1 in some run: {', '.join(failing)}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
