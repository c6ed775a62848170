"""The bench method's pure parts: percentiles, rounds, goals, the tools' output, the report."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from method import (
    Comparison,
    Goal,
    Load,
    Peer,
    Section,
    Spread,
    alternate,
    closed_loop,
    latencies_from_intended,
    oha_result,
    percentile,
    render_goals,
    render_section,
    wrk_result,
)

pytestmark = pytest.mark.unit


def test_percentile_is_nearest_rank_of_observed_values() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    # The 99th of 10 values is the largest (rank 9.9 rounds up), not the 9th.
    assert percentile([float(v) for v in range(1, 11)], 99) == 10.0
    assert math.isnan(percentile([], 50))


def test_a_stall_counts_against_every_request_scheduled_behind_it() -> None:
    # 10 requests intended every 10 ms; the server stalls 100 ms on the first, and the others
    # queue behind it. Measured from when each was actually sent, all but one look fast; from
    # the intended time they carry the stall.
    intended = [i * 0.010 for i in range(10)]
    done = [0.100 + i * 0.001 for i in range(10)]
    latencies = latencies_from_intended(intended, done)
    assert latencies[0] == pytest.approx(100.0)
    assert latencies[9] == pytest.approx(19.0)
    assert percentile(latencies, 50) == pytest.approx(55.0)
    with pytest.raises(ValueError, match="one completion time"):
        latencies_from_intended([0.0], [])


def test_spread_is_median_min_max_of_rounds() -> None:
    assert Spread.of([3.0, 1.0, 2.0]) == Spread(2.0, 1.0, 3.0)
    assert Spread.of([1.0, 4.0]) == Spread(2.5, 1.0, 4.0)
    assert math.isnan(Spread.of([]).median)


def test_alternate_runs_systems_in_turn_each_round() -> None:
    order: list[str] = []

    def measure(name: str) -> dict[str, float]:
        order.append(name)
        return {"rps": float(len(order))}

    rounds = alternate(["broadsheet", "wordpress"], measure, rounds=3)
    assert order == ["broadsheet", "wordpress"] * 3
    assert rounds == {
        "broadsheet": {"rps": [1.0, 3.0, 5.0]},
        "wordpress": {"rps": [2.0, 4.0, 6.0]},
    }


def test_goals() -> None:
    assert Goal("ratio_at_least", 10).holds(1000.0, 100.0)
    assert not Goal("ratio_at_least", 10).holds(999.0, 100.0)
    assert Goal("ratio_at_most", 1).holds(9.0, 10.0)
    assert not Goal("ratio_at_most", 1).holds(11.0, 10.0)
    assert Goal("added_at_most", 1).holds(1.9, 1.0)
    assert not Goal("added_at_most", 1).holds(2.1, 1.0)
    assert not Goal("ratio_at_least", 1).holds(5.0, 0.0)
    assert not Goal("ratio_at_least", 1).holds(math.nan, 1.0)


def test_comparison_ratio_and_goal_use_medians_of_rounds() -> None:
    c = Comparison(
        "page reads",
        "req/s",
        "WordPress",
        ours=[900.0, 1000.0, 5000.0],
        theirs=[100.0, 110.0, 90.0],
        goal=Goal("ratio_at_least", 10),
    )
    assert c.ratio == pytest.approx(10.0)
    assert c.holds is True
    assert Comparison("x", "ms", "p", [1.0], [1.0]).holds is None


OHA_JSON = {
    "summary": {"requestsPerSec": 99.5, "successRate": 1.0},
    "latencyPercentiles": {"p50": 0.0021, "p99": 0.0153},
    "statusCodeDistribution": {"200": 790, "302": 5, "503": 3},
    "errorDistribution": {"connection refused": 2},
}


def test_oha_json_is_read_in_ms_counting_unexpected_statuses_and_errors() -> None:
    load = oha_result(OHA_JSON, ok_statuses=[200, 302])
    assert load.rps == 99.5
    assert load.p50_ms == pytest.approx(2.1)
    assert load.p99_ms == pytest.approx(15.3)
    assert load.requests == 800
    assert load.failed == 5
    assert oha_result(OHA_JSON, ok_statuses=[200]).failed == 10


WRK_OUT = """Running 8s test @ http://127.0.0.1:8080/
  2 threads and 16 connections
  Latency Distribution
     50%  610.00us
     75%    1.20ms
     90%    2.00ms
     99%    1.05s
  53211 requests in 8.00s, 9.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   6651.20
Transfer/sec:      1.14MB
"""


def test_wrk_text_is_read_in_ms() -> None:
    load = wrk_result(WRK_OUT)
    assert load.rps == 6651.2
    assert load.p50_ms == pytest.approx(0.61)
    assert load.p99_ms == pytest.approx(1050.0)
    assert load.requests == 53211
    assert load.failed == 7


def _section() -> Section:
    return Section(
        title="WordPress",
        peers=[Peer("WordPress", "6.1.1"), Peer("Isso", None, "pip install failed")],
        comparisons=[
            Comparison(
                "page reads at saturation",
                "req/s",
                "WordPress",
                ours=[300.0, 320.0, 310.0],
                theirs=[60.0, 62.0, 61.0],
                goal=Goal("ratio_at_least", 10),
                why="the page is rendered on every read",
            ),
            Comparison(
                "p99 at half saturation", "ms", "WordPress", [9.0], [30.0], Goal("ratio_at_most", 1)
            ),
        ],
        notes=["flood check off"],
        load_average=[2.5, 2.0, 1.5],
    )


def test_report_shows_medians_spread_ratio_goal_and_why_of_a_miss() -> None:
    text = render_section(_section())
    assert "## WordPress" in text
    assert "- Isso: **missing** (pip install failed)" in text
    assert "- WordPress: 6.1.1" in text
    assert (
        "| page reads at saturation (req/s) | 310 (300-320) | WordPress | 61 (60-62) "
        "| 5.08x | ≥ 10x | **no** |" in text
    )
    assert "| p99 at half saturation (ms) | 9 | WordPress | 30 | 0.3x | ≤ 1x | yes |" in text
    assert "misses “page reads at saturation” against WordPress: the page is rendered" in text
    assert "- flood check off" in text
    assert "2.50, 2.00, 1.50" in text


def test_the_goals_table_lists_every_goal_of_the_run_and_nothing_else() -> None:
    hop = Section(
        title="Gateway",
        comparisons=[
            Comparison("added p99", "ms", "nginx", [4.5], [1.0], Goal("added_at_most", 3)),
            Comparison("memory", "MiB", "nginx", [90.0], [9.0]),
        ],
    )
    text = render_goals([_section(), hop])
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == [
        "| WordPress | page reads at saturation | WordPress | 5.08x | ≥ 10x | **no** |",
        "| WordPress | p99 at half saturation | WordPress | 0.3x | ≤ 1x | yes |",
        "| Gateway | added p99 | nginx | +3.5 ms | + ≤ 3 ms | **no** |",
    ]


def test_section_survives_json_round_trip_with_derived_figures() -> None:
    section = _section()
    data = json.loads(json.dumps(section.to_json()))
    assert data["comparisons"][0]["ratio"] == pytest.approx(310 / 61)
    assert data["comparisons"][0]["holds"] is False
    assert data["comparisons"][0]["ours_spread"] == {"median": 310.0, "low": 300.0, "high": 320.0}
    assert render_section(Section.from_json(data)) == render_section(section)


def test_a_closed_loop_too_slow_to_answer_each_connection_twice_runs_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[int] = []
    answered = {2: 3, 4: 20, 8: 40}  # answers in a run of so many seconds

    def wrk(url: str, connections: int, seconds: int, *_: object) -> Load:
        runs.append(seconds)
        n = answered.get(seconds, 1_000)
        return Load(rps=n / seconds, p50_ms=1.0, p99_ms=2.0, requests=n, failed=0)

    monkeypatch.setattr(sys.modules["method"], "_wrk", wrk)
    load = closed_loop("http://x/", 16, 2)
    assert runs == [2, 4, 8]
    assert load.requests == 40
    runs.clear()
    answered.clear()
    assert closed_loop("http://x/", 16, 2).requests == 1_000
    assert runs == [2]  # enough answers: one run
    answered.update({s: 0 for s in (2, 4, 8, 16)})
    runs.clear()
    closed_loop("http://x/", 16, 2)
    assert runs == [2, 4, 8, 16]  # never past eight times the step
