"""The measurements: setup (+ import rate for N), GET resolution, Handle resolution over UDP, batch registration, 1M import."""

from __future__ import annotations

import json
import math
import random
import shutil
import sys
import urllib.request
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import orjson

from . import data
from .batchload import BatchResult, basic_auth, launch
from .procs import Finished, Server, free_port, http_status, run, venv_bin
from .report import Row, median, ms, rate, runs_note, secs
from .udpload import UdpResult, probe
from .udpload import launch as launch_udp
from .wrk import WrkResult, run_wrk, write_script

TARGET_GET = 17_000
TARGET_BATCH = 50_000
TARGET_IMPORT_SECONDS = 30.0
TARGET_IMPORT_IDS = 1_000_000
TARGET_HANDLE_PER_CPU = 58_000  # resolutions per server CPU-second: 1.5 x Handle.Net 9.3.1's ~38,600 per core


@dataclass
class Settings:
    runs: int
    seconds: float
    warmup: float
    ids: int
    batch_ids: int
    batch_size: int
    batch_conns: int
    import_ids: int
    connections: int
    window: int
    udp_sockets: int
    server_cpu: int | None
    client_cpu: int | None


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def init_node(folder: Path) -> None:
    """A fresh data folder with the node prefix and the enterprise prefix 88.101.5 (not timed)."""
    idnode, folder = venv_bin("idnode"), folder.resolve()  # children run in the repository folder
    run([idnode, "init", "--data", str(folder), "--prefix", data.NODE_PREFIX, "--admin-secret", data.NODE_SECRET])
    run([idnode, "prefix", "add", data.PREFIX, "--secret", data.ENTERPRISE_SECRET, "--data", str(folder)])


def timed_import(folder: Path, jsonl: Path, expected: int, cpu: int | None) -> Finished:
    """``idnode import`` timed as a whole command (as an operator sees it), checked for success."""
    done = run([venv_bin("idnode"), "import", str(jsonl.resolve()), "--data", str(folder.resolve()), "--no-progress"],
               cpu=cpu, timeout=3600)
    if f"imported {expected}, unchanged 0, rejected 0" not in done.out:
        raise RuntimeError(f"idnode import did not take every line:\n{done.out[-2000:]}")
    return done


def setup(work: Path, s: Settings) -> tuple[Path, Row]:
    """Scenario 1: the data folder the GET and batch scenarios use, loaded with ``idnode import``."""
    folder = work / "node"
    init_node(folder)
    jsonl = work / "setup.jsonl"
    log(f"setup: generating {s.ids:,} records")
    size = data.write_jsonl(jsonl, "SN", s.ids)
    log(f"setup: idnode import of {s.ids:,} records ({size / 1e6:.0f} MB)")
    done = timed_import(folder, jsonl, s.ids, s.server_cpu)
    jsonl.unlink()
    row = Row(f"setup: `idnode import` {s.ids:,} ids", rate(s.ids / done.seconds, " ids/s"), "—",
              "≥ " + rate(TARGET_IMPORT_IDS / TARGET_IMPORT_SECONDS, " ids/s"), "—", "—",
              f"{secs(done.seconds)} wall, {done.cpu / done.seconds:.0%} CPU, one run",
              {"seconds": done.seconds, "cpu_seconds": done.cpu, "ids": s.ids})
    return folder, row


def _node_cmd(folder: Path, port: int) -> list[str]:
    return [venv_bin("idnode"), "serve", "--data", str(folder), "--http", f"127.0.0.1:{port}"]


def _baseline_cmd(folder: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "loadtests.baseline", "--data", str(folder), "--http", f"127.0.0.1:{port}"]


def _check_get(base: str, known: str, unknown: str, who: str) -> None:
    st, body = http_status(f"{base}/api/handles/{known}")
    if st != 200 or b"trace.example.com" not in body:
        raise RuntimeError(f"{who}: GET {known} answered {st}: {body[:200]!r}")
    st, body = http_status(f"{base}/api/handles/{unknown}")
    if st != 404:
        raise RuntimeError(f"{who}: GET {unknown} answered {st}, not 404: {body[:200]!r}")


def warmup_seconds(s: Settings) -> float:
    """Long enough for one sequential pass over every loaded handle at a cold node's pace (~8,000/s)."""
    return math.ceil(s.warmup + s.ids / 8000)


def _get_row(label: str, target: str, node: list[WrkResult], base: list[WrkResult], extra: str = "") -> Row:
    n_rps, b_rps = [w.rps for w in node], [w.rps for w in base]
    ratio = median([n.rps / b.rps for n, b in zip(node, base, strict=True)])  # per run: same noise for both
    note = (f"baseline p50 {ms(median([w.p50_ms for w in base]))}, p99 {ms(median([w.p99_ms for w in base]))}; "
            f"idnode/baseline {ratio:.0%} (median of per-run ratios); server CPU share idnode "
            f"{median([w.cpu_share for w in node]):.0%}, baseline {median([w.cpu_share for w in base]):.0%}; "
            f"per server CPU-second idnode {rate(median([w.per_cpu_second for w in node]), '')}, baseline "
            f"{rate(median([w.per_cpu_second for w in base]), '')}{extra}")
    if len(n_rps) > 1:
        note += "; idnode " + runs_note(n_rps)
    return Row(label, rate(median(n_rps)), rate(median(b_rps)), target, ms(median([w.p50_ms for w in node])),
               ms(median([w.p99_ms for w in node])), note,
               {"idnode": [vars(w) for w in node], "baseline": [vars(w) for w in base]})


def get_scenario(work: Path, folder: Path, s: Settings) -> list[Row]:
    """Scenario 2: wrk against idnode and against the baseline, same folder, same settings, alternating.

    Each server starts fresh; a sequential pass over every handle (reported as the first-pass row) warms
    it, then the timed runs pick handles at random (found), then unknown handles (404).
    """
    script = write_script(work)
    found, missing = work / "paths-found.txt", work / "paths-missing.txt"
    data.write_paths(found, "SN", s.ids)
    data.write_paths(missing, "NX", s.ids)
    known, unknown = data.handle("SN", s.ids // 2), data.handle("NX", 1)
    res: dict[str, dict[str, list[WrkResult]]] = {
        w: {"first": [], "found": [], "missing": []} for w in ("idnode", "baseline")}
    warm = warmup_seconds(s)
    servers = [("idnode", _node_cmd), ("baseline", _baseline_cmd)]
    for r in range(s.runs):
        for who, make in servers if r % 2 == 0 else servers[::-1]:  # alternate who goes first
            port = free_port()
            with Server(make(folder, port), port, work / f"{who}.log", cpu=s.server_cpu) as srv:
                _check_get(srv.base, known, unknown, who)
                for what, paths, secs_, seq in (("first", found, warm, True), ("found", found, s.seconds, False),
                                                ("missing", missing, s.seconds, False)):
                    c0 = srv.cpu()
                    w = run_wrk(srv.base, script, paths, seconds=secs_, connections=s.connections,
                                cpu=s.client_cpu, seed=r + 1, sequential=seq)
                    w.server_cpu = srv.cpu() - c0
                    bad = w.requests - w.non_2xx if what == "missing" else w.non_2xx
                    if bad or w.socket_errors:
                        raise RuntimeError(f"{who} {what}: {bad} unexpected statuses, {w.socket_errors} socket errors")
                    res[who][what].append(w)
                    log(f"GET run {r + 1}/{s.runs} {who} {what}: {w.rps:,.0f}/s p50 {w.p50_ms:.2f} ms "
                        f"p99 {w.p99_ms:.2f} ms ({w.requests:,} requests, server CPU {w.cpu_share:.0%})")
    first_reqs = min(w.requests for w in res["idnode"]["first"])
    covered = "every id once or more" if first_reqs >= s.ids else f"only {first_reqs:,} of {s.ids:,} ids"
    return [
        _get_row(f"GET resolution ({s.ids:,} ids, random, warm)", "≥ " + rate(TARGET_GET),
                 res["idnode"]["found"], res["baseline"]["found"]),
        _get_row(f"GET first {warm:g} s after start (in order)", "—", res["idnode"]["first"],
                 res["baseline"]["first"], f"; cache misses: idnode covered {covered}"),
        _get_row("GET unknown handle (404)", "—", res["idnode"]["missing"], res["baseline"]["missing"]),
    ]


def _spot_check(base: str, kind: str, ids: int, sample: int = 50) -> None:
    """Every sampled handle of the run resolves, with its URL: the acknowledged writes are in the store."""
    picks = {0, ids - 1, *random.Random(ids).sample(range(ids), min(sample, ids))}
    for i in sorted(picks):
        st, body = http_status(f"{base}/api/handles/{data.handle(kind, i)}")
        if st != 200 or f"https://trace.example.com/p/{i:08d}".encode() not in body:
            raise RuntimeError(f"spot check: {data.handle(kind, i)} answered {st}: {body[:200]!r}")


def _warm_auth(base: str) -> None:
    """One authenticated batch before the clock: the node checks a new secret with a slow hash, once."""
    body = orjson.dumps({"operations": [{"op": "create", "handle": data.handle("WARMUP", 0), "values": data.values(0)}]})
    req = urllib.request.Request(base + "/api/batch", data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": basic_auth(data.ADMIN_IDENTITY, data.ENTERPRISE_SECRET)})
    with urllib.request.urlopen(req, timeout=60) as r:
        if orjson.loads(r.read()).get("failed"):
            raise RuntimeError("the warm-up batch failed")


def _ceiling(work: Path, ids: int, commit_every: int, cpu: int | None) -> dict:
    cmd = [sys.executable, "-m", "loadtests.ceiling", "--dir", str(work / "ceiling"), "--ids", str(ids),
           "--commit-every", str(commit_every)]
    out = run(cmd, cpu=cpu, timeout=1800).out
    line = next(x for x in out.splitlines() if x.startswith("CEILJSON "))
    return json.loads(line[len("CEILJSON "):])


def batch_scenario(work: Path, folder: Path, s: Settings) -> list[Row]:
    """Scenario 3: new handles in 2,000-op batches over a few connections; the raw LMDB rate beside it."""
    results: list[BatchResult] = []
    ceilings: list[dict] = []
    per_cpu: list[float] = []
    for r in range(s.runs):
        kind = f"B{r + 1}"
        port = free_port()
        with Server(_node_cmd(folder, port), port, work / "idnode-batch.log", cpu=s.server_cpu) as srv:
            _warm_auth(srv.base)
            c0 = srv.cpu()
            res = launch(srv.base, kind, s.batch_ids, batch=s.batch_size, concurrency=s.batch_conns,
                         cpu=s.client_cpu, time_limit=max(120.0, s.batch_ids / 2000))
            cpu_used = srv.cpu() - c0  # the generator's body encoding leaves the server idle: CPU, not wall
            if res.errors or res.ids != s.batch_ids:
                raise RuntimeError(f"batch run {r + 1}: {res.ids:,} of {s.batch_ids:,} created; {res.errors}")
            _spot_check(srv.base, kind, s.batch_ids)
        results.append(res)
        per_cpu.append(res.ids / cpu_used)
        ceilings.append(_ceiling(work, s.batch_ids, s.batch_size, s.server_cpu))
        log(f"batch run {r + 1}/{s.runs}: {res.rate:,.0f} ids/s, per batch p50 {res.p50_ms:.0f} ms "
            f"p99 {res.p99_ms:.0f} ms, {per_cpu[-1]:,.0f} ids per server CPU-second; "
            f"raw LMDB {ceilings[-1]['rate']:,.0f} ids/s")
    rates = [x.rate for x in results]
    note = (f"{s.batch_ids:,} new ids a run, {s.batch_conns} connections, all created and spot-checked by GET; "
            f"{median(per_cpu):,.0f} ids per server CPU-second; "
            f"baseline = storage ceiling: raw LMDB msgpack+put, synced commit per {s.batch_size:,}, one process")
    if len(rates) > 1:
        note += "; idnode " + runs_note(rates)
    return [Row(f"batch registration ({s.batch_size:,} ops/batch, durable)", rate(median(rates), " ids/s"),
                rate(median([c["rate"] for c in ceilings]), " ids/s"), "≥ " + rate(TARGET_BATCH, " ids/s"),
                ms(median([x.p50_ms for x in results])), ms(median([x.p99_ms for x in results])), note,
                {"idnode": [vars(x) for x in results], "ids_per_cpu_second": per_cpu, "ceiling": ceilings})]


def import_scenario(work: Path, s: Settings) -> list[Row]:
    """Scenario 4: ``idnode import`` of ``import_ids`` records into a fresh folder, each run; file not timed."""
    jsonl = work / "import.jsonl"
    log(f"import: generating {s.import_ids:,} records")
    size = data.write_jsonl(jsonl, "IMP", s.import_ids)
    times, cpus, ceilings = [], [], []
    for r in range(s.runs):
        folder = work / f"import-{r}"
        init_node(folder)
        log(f"import run {r + 1}/{s.runs}: idnode import of {s.import_ids:,} records ({size / 1e6:.0f} MB)")
        done = timed_import(folder, jsonl, s.import_ids, s.server_cpu)
        times.append(done.seconds)
        cpus.append(done.cpu)
        shutil.rmtree(folder, ignore_errors=True)
        ceilings.append(_ceiling(work, s.import_ids, 20_000, s.server_cpu))
        log(f"import run {r + 1}/{s.runs}: {times[-1]:.1f} s; raw LMDB {ceilings[-1]['seconds']:.1f} s")
    jsonl.unlink()
    t = median(times)
    target = TARGET_IMPORT_SECONDS * s.import_ids / TARGET_IMPORT_IDS
    note = (f"{s.import_ids / t:,.0f} ids/s, {median(cpus):.1f} CPU-s (user+sys); baseline = raw LMDB msgpack+put, synced commit per 20,000 "
            f"({median([c['rate'] for c in ceilings]):,.0f} ids/s); file generation not timed")
    if len(times) > 1:
        note += "; idnode runs " + ", ".join(secs(x) for x in times)
    target_text = f"≤ {target:.0f} s" if math.isclose(target, round(target)) else f"≤ {target:.2f} s"
    if s.import_ids != TARGET_IMPORT_IDS:
        target_text += " (scaled)"
    return [Row(f"`idnode import` {s.import_ids:,} ids", secs(t), secs(median([c["seconds"] for c in ceilings])),
                target_text, "—", "—", note, {"seconds": times, "cpu_seconds": cpus, "ceiling": ceilings})]


# --- Handle protocol over UDP ---------------------------------------------------------------------------

def _udp_node_cmd(folder: Path, http_port: int, udp_port: int) -> list[str]:
    return _node_cmd(folder, http_port) + ["--handle", f"127.0.0.1:{udp_port}"]


def _udp_baseline_cmd(folder: Path, udp_port: int) -> list[str]:
    return [sys.executable, "-m", "loadtests.udpbaseline", "--data", str(folder), "--handle", f"127.0.0.1:{udp_port}"]


def _check_udp(port: int, s: Settings, who: str, verify: bool) -> None:
    """One known handle answers rc 1 (decoded and matched for idnode), one unknown answers 100."""
    for kind, expect in (("SN", "found"), ("NX", "missing")):
        res = launch_udp("127.0.0.1", port, kind, 1, seconds=5.0, window=1, sockets=1, cpu=s.client_cpu,
                         order="seq", expect=expect, count=1, verify_every=1 if verify else 0)
        if res.answers != 1 or res.errors or res.lost:
            raise RuntimeError(f"{who}: UDP check of {data.handle(kind, 0)} ({expect}) failed: {res.error_samples}")


def _udp_row(label: str, target: str, node: list[UdpResult], base: list[UdpResult]) -> Row:
    per_n, per_b = [w.per_cpu_second for w in node], [w.per_cpu_second for w in base]
    ratio = median([n.per_cpu_second / b.per_cpu_second for n, b in zip(node, base, strict=True)])
    note = (f"per server CPU-second (/CPU-s) and answers per second; baseline p50 "
            f"{ms(median([w.p50_ms for w in base]))}, p99 {ms(median([w.p99_ms for w in base]))}; "
            f"idnode/baseline per CPU-s {ratio:.0%} (median of per-run ratios); server CPU share idnode "
            f"{median([w.cpu_share for w in node]):.0%}, baseline {median([w.cpu_share for w in base]):.0%}; "
            f"other processes took {median([w.others_share for w in node + base]):.0%} of the server core; window {node[0].window} over {node[0].sockets} socket(s); "
            f"{sum(w.answers for w in node):,} idnode answers checked, {sum(w.verified for w in node):,} decoded in full")
    if len(node) > 1:
        note += ("; idnode runs " + ", ".join(rate(v, "") for v in per_n) + " /CPU-s ("
                 + ", ".join(rate(w.rate, "") for w in node) + " /s)")
    return Row(label, f"{rate(median(per_n), '/CPU-s')} ({rate(median([w.rate for w in node]))})",
               f"{rate(median(per_b), '/CPU-s')} ({rate(median([w.rate for w in base]))})", target,
               ms(median([w.p50_ms for w in node])), ms(median([w.p99_ms for w in node])), note,
               {"idnode": [asdict(w) for w in node], "baseline": [asdict(w) for w in base]})


def handle_scenario(work: Path, folder: Path, s: Settings) -> list[Row]:
    """Scenario 5: Handle resolutions over UDP (a window of requests in flight) against idnode
    (``serve --handle``) and against a bare uvloop UDP responder reading the same LMDB records, alternating.

    Each server starts fresh; a sequential pass over every handle (untimed) warms it, then the timed runs ask
    for loaded handles in a seeded random order, then for unknown handles (rc 100).
    """
    res: dict[str, dict[str, list[UdpResult]]] = {w: {"found": [], "missing": []} for w in ("idnode", "baseline")}
    warm = warmup_seconds(s)
    for r in range(s.runs):
        for who in ("idnode", "baseline") if r % 2 == 0 else ("baseline", "idnode"):
            udp_port = free_port()
            if who == "idnode":
                http_port = free_port()
                cmd, port = _udp_node_cmd(folder, http_port, udp_port), http_port
            else:
                cmd, port = _udp_baseline_cmd(folder, udp_port), None
            up = partial(probe, "127.0.0.1", udp_port, data.handle("SN", 0))
            with Server(cmd, port, work / f"{who}-udp.log", cpu=s.server_cpu, ready=up) as srv:
                verify = who == "idnode"  # the baseline answers every found handle with one canned record
                _check_udp(udp_port, s, who, verify)
                every = 4096 if verify else 0
                # The whole first pass, however slow the machine: a pass cut short by time (as --quick's
                # 4 s was on a busy machine, 6,302 of 20,000) leaves the timed runs measuring cold records.
                w = launch_udp("127.0.0.1", udp_port, "SN", s.ids, seconds=max(warm, s.ids / 500), window=s.window,
                               sockets=s.udp_sockets, cpu=s.client_cpu, order="seq", count=s.ids,
                               server_pid=srv.pid, verify_every=every)
                log(f"UDP run {r + 1}/{s.runs} {who} first pass: {w.answers:,} answers, {w.rate:,.0f}/s")
                for what, kind, expect in (("found", "SN", "found"), ("missing", "NX", "missing")):
                    w = launch_udp("127.0.0.1", udp_port, kind, s.ids, seconds=s.seconds, window=s.window,
                                   sockets=s.udp_sockets, cpu=s.client_cpu, seed=r + 1, expect=expect,
                                   server_pid=srv.pid, verify_every=every)
                    if w.errors or w.lost or not w.answers:
                        raise RuntimeError(f"{who} UDP {what}: {w.errors} errors, {w.lost} lost: {w.error_samples}")
                    res[who][what].append(w)
                    log(f"UDP run {r + 1}/{s.runs} {who} {what}: {w.rate:,.0f}/s, {w.per_cpu_second:,.0f} per server "
                        f"CPU-s, p50 {w.p50_ms:.2f} ms p99 {w.p99_ms:.2f} ms (server CPU {w.cpu_share:.0%}, "
                        f"others on its core {w.others_share:.0%})")
    return [
        _udp_row(f"Handle resolution over UDP ({s.ids:,} ids, random, warm)",
                 "≥ " + rate(TARGET_HANDLE_PER_CPU, "/CPU-s"), res["idnode"]["found"], res["baseline"]["found"]),
        _udp_row("Handle resolution over UDP, unknown handle (rc 100)", "—", res["idnode"]["missing"],
                 res["baseline"]["missing"]),
    ]
