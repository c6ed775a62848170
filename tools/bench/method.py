"""The bench's one method (issue 16): every figure that compares Broadsheet with a peer is taken
this way, so the figures of different benches can stand side by side in one report.

* **Latency** comes from an *open-loop* load: requests leave at a fixed arrival rate whatever the
  server does, and each latency is counted from the request's *intended* send time, so a stall
  delays every request scheduled behind it and shows in the percentiles instead of silently
  slowing the generator down (the coordinated-omission correction). The generator is ``oha``
  (``-q`` rate with ``--latency-correction``), a compiled tool that leaves the 2 cores to the
  servers; ``make bench-tools`` builds the pinned version.
* **Saturation** (requests/s) comes from a *closed loop*: ``wrk`` (Debian's), a fixed number of
  connections each sending its next request when the last one answered.
* **Rounds**: the systems under comparison alternate, A B A B … (``alternate``), at least
  ``ROUNDS`` times, so load drift on a shared machine falls on all of them; each figure is the
  median of its rounds, reported with the min and max (``Spread``).
* **Memory**: resident size summed over every process of a system and their descendants
  (``rss_mib``), at rest and under load.
* **Goals** are ratios to the peer (or, for a hop, an added latency); a missed goal is reported,
  never a failed run. A bench builds a ``Section`` and hands it to ``emit``; ``run.py`` collects
  the sections into ``artifacts/bench/report.md`` and ``report.json``.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from broadsheet_devstack.proctree import descendants

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
# Pinned in the Makefile (OHA_VERSION); BENCH_OHA points elsewhere.
OHA_VERSION = "1.16.0"
OHA = Path(os.environ.get("BENCH_OHA", ROOT / f".cache/oha/{OHA_VERSION}/bin/oha"))
# run.py names the file each bench writes its section to.
SECTION_ENV = "BENCH_SECTION_FILE"


# --- statistics ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100] of ``values``: a value that was observed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latencies_from_intended(intended: Sequence[float], done: Sequence[float]) -> list[float]:
    """Latency of each request in ms from when it *should* have been sent (open loop), not
    from when a busy generator got round to sending it."""
    if len(intended) != len(done):
        raise ValueError("one completion time per intended send time")
    return [(end - start) * 1000 for start, end in zip(intended, done, strict=True)]


@dataclass(frozen=True)
class Spread:
    """One figure over its rounds: the median, and the min and max beside it."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, rounds: Sequence[float]) -> Spread:
        if not rounds:
            return cls(math.nan, math.nan, math.nan)
        return cls(statistics.median(rounds), min(rounds), max(rounds))


def alternate(
    systems: Sequence[str],
    measure: Callable[[str], Mapping[str, float]],
    rounds: int = ROUNDS,
) -> dict[str, dict[str, list[float]]]:
    """Measures each system once per round, in the same order every round (A B A B …), and
    collects every figure ``measure`` returns into its list of rounds per system."""
    collected: dict[str, dict[str, list[float]]] = {name: {} for name in systems}
    for _ in range(rounds):
        for name in systems:
            for figure, value in measure(name).items():
                collected[name].setdefault(figure, []).append(value)
    return collected


# --- goals and the report --------------------------------------------------------------------

GoalKind = Literal["ratio_at_least", "ratio_at_most", "added_at_most"]


@dataclass(frozen=True)
class Goal:
    """What must hold between Broadsheet's median and the peer's: ``ratio_at_least`` (ours/peer
    ≥ bound, for rates), ``ratio_at_most`` (ours/peer ≤ bound, for latency and memory) or
    ``added_at_most`` (ours - peer ≤ bound, for what a hop adds)."""

    kind: GoalKind
    bound: float

    def holds(self, ours: float, peer: float) -> bool:
        if math.isnan(ours) or math.isnan(peer):
            return False
        if self.kind == "added_at_most":
            return ours - peer <= self.bound
        if peer == 0:
            return False
        ratio = ours / peer
        return ratio >= self.bound if self.kind == "ratio_at_least" else ratio <= self.bound

    def describe(self, unit: str) -> str:
        if self.kind == "added_at_most":
            return f"+ ≤ {self.bound:g} {unit}"
        return f"{'≥' if self.kind == 'ratio_at_least' else '≤'} {self.bound:g}x"


@dataclass
class Comparison:
    """One figure of Broadsheet beside the same figure of a peer, over the same rounds."""

    figure: str
    unit: str
    peer: str
    ours: list[float]
    theirs: list[float]
    goal: Goal | None = None
    # For a missed goal: where Broadsheet's time or memory goes.
    why: str = ""

    @property
    def ratio(self) -> float:
        ours, theirs = Spread.of(self.ours).median, Spread.of(self.theirs).median
        return ours / theirs if theirs else math.nan

    @property
    def holds(self) -> bool | None:
        if self.goal is None:
            return None
        return self.goal.holds(Spread.of(self.ours).median, Spread.of(self.theirs).median)


@dataclass
class Peer:
    """A system Broadsheet is compared with; ``version`` None means it could not be installed
    or started, and ``missing`` says why (reported, never skipped silently)."""

    name: str
    version: str | None
    missing: str = ""


@dataclass
class Section:
    """What one bench reports."""

    title: str
    peers: list[Peer] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    # How the run was set up (rates, connections, what was configured around and why).
    notes: list[str] = field(default_factory=list)
    load_average: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for comparison, raw in zip(self.comparisons, data["comparisons"], strict=True):
            raw["ours_spread"] = asdict(Spread.of(comparison.ours))
            raw["theirs_spread"] = asdict(Spread.of(comparison.theirs))
            raw["ratio"] = _finite(comparison.ratio)
            raw["holds"] = comparison.holds
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Section:
        return cls(
            title=data["title"],
            peers=[Peer(**p) for p in data["peers"]],
            comparisons=[
                Comparison(
                    figure=c["figure"],
                    unit=c["unit"],
                    peer=c["peer"],
                    ours=c["ours"],
                    theirs=c["theirs"],
                    goal=Goal(**c["goal"]) if c["goal"] else None,
                    why=c["why"],
                )
                for c in data["comparisons"]
            ],
            notes=list(data["notes"]),
            load_average=list(data["load_average"]),
        )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def _number(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _spread(rounds: Sequence[float]) -> str:
    spread = Spread.of(rounds)
    if len(rounds) < 2:
        return _number(spread.median)
    return f"{_number(spread.median)} ({_number(spread.low)}-{_number(spread.high)})"


def render_section(section: Section) -> str:
    """The section as markdown: peers and versions, then one row per figure (median of the
    rounds, min-max in brackets), its ratio and whether the goal holds, then the whys."""
    lines = [f"## {section.title}", ""]
    if section.load_average:
        lines += [
            f"Load average at the start: {', '.join(f'{x:.2f}' for x in section.load_average)}.",
            "",
        ]
    for peer in section.peers:
        if peer.version is None:
            lines.append(f"- {peer.name}: **missing** ({peer.missing})")
        else:
            lines.append(f"- {peer.name}: {peer.version}")
    if section.peers:
        lines.append("")
    if section.comparisons:
        lines += [
            "| figure | Broadsheet | peer | peer's | ratio | goal | holds |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in section.comparisons:
            goal = c.goal.describe(c.unit) if c.goal else "-"
            holds = {None: "-", True: "yes", False: "**no**"}[c.holds]
            lines.append(
                f"| {c.figure} ({c.unit}) | {_spread(c.ours)} | {c.peer} | {_spread(c.theirs)} "
                f"| {_number(c.ratio)}x | {goal} | {holds} |"
            )
        lines.append("")
    whys = [c for c in section.comparisons if c.holds is False and c.why]
    for c in whys:
        lines.append(f"- Why Broadsheet misses “{c.figure}” against {c.peer}: {c.why}")
    if whys:
        lines.append("")
    lines += [f"- {note}" for note in section.notes]
    return "\n".join(lines).rstrip() + "\n"


def render_goals(sections: Sequence[Section]) -> str:
    """Every goal of the run in one table, for the top of the report (and the README): the
    figure, its ratio to the peer and whether the goal holds; the sections give the rest."""
    lines = [
        "## Goals at a glance",
        "",
        "| bench | figure | against | ratio | goal | holds |",
        "|---|---|---|---|---|---|",
    ]
    for section in sections:
        for c in section.comparisons:
            if c.goal is None:
                continue
            ratio = (
                f"+{_number(Spread.of(c.ours).median - Spread.of(c.theirs).median)} {c.unit}"
                if c.goal.kind == "added_at_most"
                else f"{_number(c.ratio)}x"
            )
            holds = "yes" if c.holds else "**no**"
            lines.append(
                f"| {section.title} | {c.figure} | {c.peer} | {ratio} "
                f"| {c.goal.describe(c.unit)} | {holds} |"
            )
    return "\n".join(lines) + "\n"


def emit(section: Section) -> None:
    """Hands the section to run.py (the file it names) and prints it for a reader at a terminal."""
    target = os.environ.get(SECTION_ENV)
    if target:
        Path(target).write_text(json.dumps(section.to_json(), indent=2))
    print(render_section(section))


def started_section(title: str) -> Section:
    """A section stamped with the load average it starts under (the figures depend on it)."""
    return Section(title=title, load_average=[round(x, 2) for x in os.getloadavg()])


# --- the load tools --------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """What a load run measured: answered requests/s, latency percentiles in ms, and how many
    requests failed (an unexpected status or a connection error)."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int


def load_tools_missing() -> list[str]:
    """The load tools this machine lacks, with what installs them."""
    missing = []
    if not OHA.exists():
        missing.append(f"oha {OHA_VERSION} ({OHA}: `make bench-tools` builds it)")
    if not shutil.which("wrk"):
        missing.append("wrk (`make bench-tools` installs Debian's)")
    return missing


def oha_result(report: Mapping[str, Any], ok_statuses: Iterable[int]) -> Load:
    """Reads ``oha --output-format json``: latencies there are in seconds."""
    ok = {str(status) for status in ok_statuses}
    statuses: Mapping[str, int] = report.get("statusCodeDistribution", {})
    errors: Mapping[str, int] = report.get("errorDistribution", {})
    answered = sum(statuses.values())
    bad = sum(n for status, n in statuses.items() if status not in ok) + sum(errors.values())
    percentiles = report.get("latencyPercentiles", {})

    def ms(key: str) -> float:
        value = percentiles.get(key)
        return math.nan if value is None else float(value) * 1000

    return Load(
        rps=float(report["summary"]["requestsPerSec"] or 0.0),
        p50_ms=ms("p50"),
        p99_ms=ms("p99"),
        requests=answered + sum(errors.values()),
        failed=bad,
    )


def open_loop(
    url: str,
    rate: float,
    seconds: int = SECONDS,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body_template: str | None = None,
    ok_statuses: Iterable[int] = (200,),
    connections: int = 64,
) -> Load:
    """``rate`` requests/s for ``seconds``, latency from each request's intended send time.
    ``body_template``: the body with ``{n}`` replaced by one of many unique values, drawn at
    random per request (POSTs that must differ, e.g. comments past a duplicate check).
    Redirects are answers, not followed."""
    argv = [
        str(OHA),
        "--no-tui",
        "--output-format",
        "json",
        "-q",
        # Never above the rate asked for: at WordPress's half saturation (0.84/s) a floor of
        # 1/s overloaded it, and its queue, not its latency, was measured.
        f"{max(rate, 0.01):.2f}",
        "--latency-correction",
        "-z",
        f"{seconds}s",
        "-w",
        "-c",
        str(connections),
        "--redirect",
        "0",
        "-m",
        method,
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory(prefix="bench-oha-") as tmp:
        if body_template is not None:
            # oha picks a line at random for each request: twenty lines per request keep
            # repeats rare (a repeat may meet a duplicate check; see the bench's notes).
            lines = Path(tmp) / "bodies"
            count = min(500_000, max(1_000, int(rate * seconds * 20)))
            lines.write_text(unique_bodies(body_template, count))
            argv += ["-Z", str(lines)]
        argv.append(url)
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return oha_result(json.loads(out), ok_statuses)


def unique_bodies(template: str, count: int) -> str:
    """``count`` lines of ``template``, each with ``{n}`` made unique in this run and others."""
    run = secrets.token_hex(4)
    return "".join(template.replace("{n}", f"{run}-{i}") + "\n" for i in range(count))


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk_result(out: str) -> Load:
    """Reads ``wrk --latency``'s text (wrk has no machine-readable output)."""

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * _UNIT_MS[m.group(2)] if m else math.nan

    def count(pattern: str) -> int:
        m = re.search(pattern, out)
        return int(m.group(1)) if m else 0

    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return Load(
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=count(r"(\d+) requests in"),
        failed=count(r"Non-2xx or 3xx responses:\s+(\d+)")
        + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0),
    )


# A wrk script POSTing the template with ``{n}`` unique per request: the run, wrk thread, count.
_WRK_POST = """
local template = %s
local headers = %s
local run = %s
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
local count = 0
request = function()
  count = count + 1
  local body = string.gsub(template, "{n}", run .. "-" .. thread_id .. "-" .. count)
  return wrk.format("POST", nil, headers, body)
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal for these bodies


def closed_loop(
    url: str,
    connections: int = 16,
    seconds: int = SECONDS,
    *,
    headers: Mapping[str, str] | None = None,
    body_template: str | None = None,
) -> Load:
    """Saturation: ``connections`` connections, each sending as soon as it is answered.
    ``body_template``: POST it, each request's ``{n}`` replaced by a value of its own.

    A system too slow to answer every connection twice in ``seconds`` (WordPress's page with
    200 comments takes seconds under load) is measured again for twice as long, up to
    ``_LONGEST_CLOSED_LOOP`` times ``seconds``: a rate from a handful of answers, or none,
    is no rate."""
    load = _wrk(url, connections, seconds, headers, body_template)
    longest = seconds * _LONGEST_CLOSED_LOOP
    while load.requests < 2 * connections and seconds < longest:
        seconds = min(seconds * 2, longest)
        load = _wrk(url, connections, seconds, headers, body_template)
    return load


_LONGEST_CLOSED_LOOP = 8


def _wrk(
    url: str,
    connections: int,
    seconds: int,
    headers: Mapping[str, str] | None,
    body_template: str | None,
) -> Load:
    # wrk's default 2 s timeout would drop a slow page's answers on a loaded machine.
    argv = [
        "wrk",
        "--latency",
        "--timeout",
        "30s",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        if body_template is not None:
            script = Path(tmp) / "post.lua"
            lua_headers = (
                "{"
                + ", ".join(
                    f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in (headers or {}).items()
                )
                + "}"
            )
            script.write_text(
                _WRK_POST
                % (_lua_string(body_template), lua_headers, _lua_string(secrets.token_hex(4)))
            )
            argv += ["-s", str(script)]
        else:
            for name, value in (headers or {}).items():
                argv += ["-H", f"{name}: {value}"]
        argv.append(url)
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return wrk_result(out)


# --- memory ----------------------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mib(pids: Iterable[int]) -> float:
    """Resident size in MiB of the processes ``pids`` and all their descendants (php-fpm's and
    nginx's workers, uvicorn's children), each process counted once."""
    every: set[int] = set()
    for pid in pids:
        every |= {pid} | descendants(pid)
    return sum(_rss_kib(pid) for pid in every) / 1024


def pids_named(*names: str) -> list[int]:
    """Running processes whose command name (``/proc/<pid>/comm``) is one of ``names``, e.g.
    the system-wide ``mariadbd`` and ``php-fpm8.2`` that Debian's packages start."""
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in names:
                found.append(int(comm.parent.name))
        except OSError:
            continue
    return found


T = TypeVar("T")


def peak_rss_during(
    pids: Iterable[int], work: Callable[[], T], every: float = 0.5
) -> tuple[T, float]:
    """Runs ``work`` while sampling ``rss_mib(pids)``; returns its result and the peak in MiB
    (memory under load)."""
    roots = list(pids)
    peak = rss_mib(roots)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(every):
            peak = max(peak, rss_mib(roots))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = work()
    finally:
        done.set()
        sampler.join()
    return result, peak
