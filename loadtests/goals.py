"""Issue 22's goals, each beside its reference measured in the same run: medians of interleaved runs,
their spread, and whether the goal is met.

HTTP: idnode against aiohttp's low-level server doing the same LMDB read (``loadtests.baseline
--low-level``), alternating, each run on a fresh server: ``GET /api/handles/{h}`` (loaded handles in a
random order), unknown handles, and a scanner's ``GET /{h}`` (a 302 to the record's URL; the bare
server reads the record and answers a 302 to a fixed address). UDP comes from the Handle scenario
(``scenarios.handle_scenario``), TCP from ``loadtests.tcpscenario``. A worker's memory is its resident set after every loaded handle was
resolved over both routes, with the record cache and the fast route's kept answers filled.
"""

from __future__ import annotations

import http.client
import sys
from dataclasses import dataclass
from pathlib import Path

from . import data
from .procs import Server, free_port
from .report import Row, median, ms, rate
from .scenarios import Settings, _check_get, _node_cmd, log, warmup_seconds
from .wrk import WrkResult, run_wrk, write_script

HTTP_RATIO = 0.95  # of the bare aiohttp low-level handler
P99_MS = 20.0  # at 64 connections
UNKNOWN_RATIO = 0.95  # unknown handles as fast as known ones
UDP_RATIO = 1.5  # per server CPU-second, of the bare uncached uvloop responder
MEMORY_MIB = 100.0  # a worker with the record cache at its default size


@dataclass
class Goal:
    name: str
    measured: str
    reference: str
    target: str
    met: bool | None  # None: not judged in this run (said why in ``measured``)

    def cells(self) -> list[str]:
        verdict = "—" if self.met is None else "met" if self.met else "not met"
        return [self.name, self.measured, self.reference, self.target, verdict]


def _low_cmd(folder: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "loadtests.baseline", "--data", str(folder), "--http", f"127.0.0.1:{port}",
            "--low-level"]


def status_without_redirect(port: int, path: str) -> int:
    """The status of a GET on loopback, a redirect not followed (it points off this machine)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """The median and the range of per-run values: ``0.91× (0.88–0.95, 3 runs)``."""
    if len(values) == 1:
        return fmt.format(values[0]) + "× (1 run)"
    return (fmt.format(median(values)) + f"× ({fmt.format(min(values))}–{fmt.format(max(values))}, "
            f"{len(values)} runs)")


def default_cache_entries() -> int:
    from resolver.config import Config

    return Config.cache_entries


@dataclass
class HttpRuns:
    runs: dict[str, dict[str, list[WrkResult]]]
    # idnode's RSS (MiB) when ready and after the warm passes, and how many handles those resolved
    memory: list[tuple[float, float, int]]


def measure_http(work: Path, folder: Path, s: Settings) -> HttpRuns:
    script = write_script(work)
    found, missing, scan = work / "goal-found.txt", work / "goal-missing.txt", work / "goal-scan.txt"
    data.write_paths(found, "SN", s.ids)
    data.write_paths(missing, "NX", s.ids)
    scan.write_text("".join(f"/{data.handle('SN', i)}\n" for i in range(s.ids)))
    known, unknown = data.handle("SN", s.ids // 2), data.handle("NX", 1)
    runs: dict[str, dict[str, list[WrkResult]]] = {w: {"found": [], "missing": [], "scan": []}
                                                   for w in ("idnode", "bare")}
    memory: list[tuple[float, float, int]] = []
    warm = max(1.0, warmup_seconds(s) / 2)
    servers = [("idnode", _node_cmd), ("bare", _low_cmd)]
    for r in range(s.runs):
        for who, make in servers if r % 2 == 0 else servers[::-1]:
            port = free_port()
            with Server(make(folder, port), port, work / f"goal-{who}.log", cpu=s.server_cpu) as srv:
                _check_get(srv.base, known, unknown, who)
                st = status_without_redirect(port, f"/{known}")
                if st != 302:
                    raise RuntimeError(f"{who}: GET /{known} was not redirected ({st})")
                # Load first with handles that are not there (nothing is kept for them): the process's
                # buffers and lazily made objects grow now, so what grows next is what the caches hold.
                run_wrk(srv.base, script, missing, seconds=warm, connections=s.connections, cpu=s.client_cpu)
                m0 = rss_mib(srv.pid)
                covered = min(warm_every(srv.base, script, paths, work, warm, s) for paths in (found, scan))
                for what, paths in (("found", found), ("missing", missing), ("scan", scan)):
                    c0 = srv.cpu()
                    w = run_wrk(srv.base, script, paths, seconds=s.seconds, connections=s.connections,
                                cpu=s.client_cpu, seed=r + 1)
                    w.server_cpu = srv.cpu() - c0
                    bad = w.requests - w.non_2xx if what == "missing" else w.non_2xx
                    if bad or w.socket_errors:
                        raise RuntimeError(f"{who} {what}: {bad} unexpected statuses, {w.socket_errors} socket errors")
                    runs[who][what].append(w)
                    log(f"goals run {r + 1}/{s.runs} {who} {what}: {w.rps:,.0f}/s p99 {w.p99_ms:.2f} ms "
                        f"({w.per_cpu_second:,.0f} per server CPU-s, CPU share {w.cpu_share:.0%})")
                if who == "idnode":
                    memory.append((m0, rss_mib(srv.pid), covered))
    return HttpRuns(runs, memory)


def warm_every(base: str, script: Path, paths: Path, work: Path, seconds: float, s: Settings) -> int:
    """Ask for every path once, in order (a few wrk runs, each taking up where the last stopped, thirty at
    most): the record cache and the kept answers filled. How many were asked for."""
    lines = paths.read_text().splitlines()
    done = 0
    rest = work / "goal-rest.txt"
    for _ in range(30):
        rest.write_text("\n".join(lines[done:]) + "\n")
        w = run_wrk(base, script, rest, seconds=seconds, connections=s.connections, cpu=s.client_cpu,
                    sequential=True)
        done += w.requests
        if done >= len(lines):
            return len(lines)
    return done


def _ratios(a: list[WrkResult], b: list[WrkResult], per_cpu: bool = False) -> list[float]:
    if per_cpu:
        return [x.per_cpu_second / y.per_cpu_second for x, y in zip(a, b, strict=True)]
    return [x.rps / y.rps for x, y in zip(a, b, strict=True)]


def http_goals(h: HttpRuns) -> tuple[list[Row], list[Goal]]:
    n, b = h.runs["idnode"], h.runs["bare"]
    goals, rows = [], []
    for what, name in (("found", "HTTP GET `/api/handles/{h}`"), ("scan", "scanner redirect `GET /{h}`")):
        ratios = _ratios(n[what], b[what])
        cpu = _ratios(n[what], b[what], per_cpu=True)
        goals.append(Goal(name, f"{spread(ratios)}; per server CPU-s {spread(cpu)}",
                          f"bare aiohttp low-level handler, same LMDB read: {rate(median([w.rps for w in b[what]]))}",
                          f"≥ {HTTP_RATIO}×", median(ratios) >= HTTP_RATIO))
        rows.append(Row(f"goal: {name}", rate(median([w.rps for w in n[what]])), rate(median([w.rps for w in b[what]])),
                        f"≥ {HTTP_RATIO}× baseline", ms(median([w.p50_ms for w in n[what]])),
                        ms(median([w.p99_ms for w in n[what]])),
                        "baseline: aiohttp low-level server (`loadtests.baseline --low-level`); runs idnode "
                        + ", ".join(rate(w.rps, "") for w in n[what]) + ", baseline "
                        + ", ".join(rate(w.rps, "") for w in b[what]),
                        {"idnode": [vars(w) for w in n[what]], "baseline": [vars(w) for w in b[what]]}))
    p99 = [w.p99_ms for w in n["found"] + n["scan"]]
    goals.append(Goal("HTTP p99 at 64 connections (GET and redirect)", f"{ms(median(p99))} (worst {ms(max(p99))})",
                      f"bare: {ms(median([w.p99_ms for w in b['found'] + b['scan']]))}", f"≤ {P99_MS:g} ms",
                      max(p99) <= P99_MS))
    unk = _ratios(n["missing"], n["found"])
    goals.append(Goal("unknown handles as fast as known ones (HTTP)", spread(unk),
                      f"known handles on the same server: {rate(median([w.rps for w in n['found']]))}",
                      f"≥ {UNKNOWN_RATIO}×", median(unk) >= UNKNOWN_RATIO))
    start = median([m[0] for m in h.memory])
    full = median([m[1] for m in h.memory])
    ids = int(median([m[2] for m in h.memory]))
    per_id = median([(m[1] - m[0]) * 1024 * 1024 / m[2] for m in h.memory])
    entries = default_cache_entries()
    at_default = start + per_id * entries / (1024 * 1024)
    goals.append(Goal("a worker's memory, record cache at its default size",
                      f"{at_default:.0f} MiB at {entries:,} entries, extrapolated (measured: {start:.0f} MiB under "
                      f"load before any record was read, {full:.0f} MiB with {ids:,} handles resolved over both "
                      f"routes: {per_id:,.0f} bytes each, record cache and kept answers)", "—",
                      f"≤ {MEMORY_MIB:g} MiB", at_default <= MEMORY_MIB))
    return rows, goals


def handle_goals(rows: list[Row]) -> list[Goal]:
    """UDP (and TCP, when a scenario measured it) from the Handle scenario's rows."""
    goals = []
    for proto in ("UDP", "TCP"):
        row = next((r for r in rows if r.scenario.startswith(f"Handle resolution over {proto} (")), None)
        name = f"Handle resolution over {proto}, per server CPU-s"
        if row is None:
            goals.append(Goal(name, "not measured in this run", "bare uncached uvloop responder", f"≥ {UDP_RATIO}×",
                              None))
            continue
        node, base = row.raw["idnode"], row.raw["baseline"]
        ratios = [(x["answers"] / x["server_cpu"]) / (y["answers"] / y["server_cpu"])
                  for x, y in zip(node, base, strict=True)]
        goals.append(Goal(name, spread(ratios), f"bare uncached uvloop responder: {row.baseline}",
                          f"≥ {UDP_RATIO}×", median(ratios) >= UDP_RATIO))
    goals.append(Goal("single registration, HTTPS", "not judged here: its reference is Handle.Net 9.3.1 run "
                      "beside the node (README, Benchmarks)", "Handle.Net", "≥ 2×", None))
    return goals


def goals_table(goals: list[Goal]) -> str:
    cols = ("goal (issue 22)", "measured: idnode / reference, median (range)", "reference, same run", "target",
            "verdict")
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in g.cells()) + " |" for g in goals]
    met = [g.name for g in goals if g.met]
    not_met = [g.name for g in goals if g.met is False]
    unjudged = [g.name for g in goals if g.met is None]
    lines += ["", "met: " + ("; ".join(met) or "none"), "not met: " + ("; ".join(not_met) or "none")]
    if unjudged:
        lines.append("not judged in this run: " + "; ".join(unjudged))
    return "\n".join(lines)
