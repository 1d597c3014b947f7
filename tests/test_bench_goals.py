"""`make bench` states issue 22's goals: each ratio from runs measured beside its reference, and a
verdict a reader can act on (loadtests/goals.py)."""

from __future__ import annotations

from loadtests.goals import Goal, HttpRuns, goals_table, handle_goals, http_goals, spread
from loadtests.report import Row
from loadtests.wrk import WrkResult


def wrk(rps: float, p99: float = 5.0, cpu: float = 1.0) -> WrkResult:
    return WrkResult(rps=rps, p50_ms=1.0, p99_ms=p99, requests=int(rps), non_2xx=0, socket_errors=0, seconds=1.0,
                     server_cpu=cpu)


def test_ratios_are_taken_per_run_then_their_median(monkeypatch):
    import loadtests.goals

    monkeypatch.setattr(loadtests.goals, "default_cache_entries", lambda: 200_000)  # the arithmetic, not today's default
    node = {"found": [wrk(900), wrk(500), wrk(1000)], "missing": [wrk(900), wrk(500), wrk(1000)],
            "scan": [wrk(1000), wrk(1000), wrk(1000)]}
    bare = {"found": [wrk(1000), wrk(1000), wrk(1000)], "missing": [wrk(1000)] * 3, "scan": [wrk(1000)] * 3}
    rows, goals = http_goals(HttpRuns({"idnode": node, "bare": bare}, [(50.0, 60.0, 10_000)] * 3))
    by = {g.name: g for g in goals}
    get = by["HTTP GET `/api/handles/{h}`"]
    assert get.measured.startswith("0.90× (0.50–1.00, 3 runs)") and get.met is False
    assert by["scanner redirect `GET /{h}`"].met is True
    assert by["unknown handles as fast as known ones (HTTP)"].met is True
    memory = by["a worker's memory, record cache at its default size"]
    assert "1,049 bytes each" in memory.measured and memory.met is False  # 10 MiB for 10,000 ids: 250 MiB at 200,000
    assert len(rows) == 2 and rows[0].baseline == "1,000/s"


def test_udp_goal_comes_from_the_handle_rows_and_tcp_says_it_was_not_measured():
    raw = {"idnode": [{"answers": 300, "server_cpu": 1.0}, {"answers": 160, "server_cpu": 1.0}],
           "baseline": [{"answers": 100, "server_cpu": 1.0}, {"answers": 100, "server_cpu": 1.0}]}
    row = Row("Handle resolution over UDP (10 ids, random, warm)", "x", "100/CPU-s", "", "", "", "", raw)
    goals = {g.name: g for g in handle_goals([row])}
    udp = goals["Handle resolution over UDP, per server CPU-s"]
    assert udp.measured == "2.30× (1.60–3.00, 2 runs)" and udp.met is True
    assert goals["Handle resolution over TCP, per server CPU-s"].met is None


def test_the_table_ends_with_what_is_met_and_what_is_not():
    text = goals_table([Goal("a", "1.00×", "r", "≥ 0.95×", True), Goal("b", "0.50×", "r", "≥ 0.95×", False),
                        Goal("c", "not measured", "r", "≥ 2×", None)])
    assert "| a | 1.00× | r | ≥ 0.95× | met |" in text
    assert text.splitlines()[-3:] == ["met: a", "not met: b", "not judged in this run: c"]
    assert spread([0.8]) == "0.80× (1 run)"


def test_the_tcp_goal_comes_from_the_tcp_scenario_row():
    raw = {"idnode": [{"answers": 120, "server_cpu": 1.0}, {"answers": 140, "server_cpu": 1.0},
                      {"answers": 200, "server_cpu": 1.0}],
           "baseline": [{"answers": 100, "server_cpu": 1.0}] * 3}
    row = Row("Handle resolution over TCP (10 ids, random, warm)", "x", "100/CPU-s", "", "", "", "", raw)
    tcp = {g.name: g for g in handle_goals([row])}["Handle resolution over TCP, per server CPU-s"]
    assert tcp.measured == "1.40× (1.20–2.00, 3 runs)" and tcp.met is False
