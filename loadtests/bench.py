"""``python -m loadtests.bench`` (``make bench``): idnode's throughput and latency beside baselines.

Server-side processes run on one core and load generators on the other (taskset); each figure is the
median of ``--runs`` runs, printed as a Markdown table with the exact command line.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .goals import Goal, goals_table, handle_goals, http_goals, measure_http
from .mirrorbench import mirror_scenario
from .procs import can_pin, stop_all
from .remotebench import remote_scenario
from .report import Row, table, write_json
from .scenarios import Settings, batch_scenario, get_scenario, handle_scenario, import_scenario, log, setup
from .snmsbench import snms_scenario
from .tcpscenario import tcp_scenario
from .wrk import ensure_wrk

QUICK = {"ids": 20_000, "seconds": 3.0, "runs": 1, "batch_ids": 20_000, "import_ids": 20_000, "warmup": 1.0}
# ``--only goals --quick``: issue 22's goals in about two minutes, still three interleaved runs.
QUICK_GOALS = {"ids": 10_000, "seconds": 2.0, "runs": 3, "warmup": 0.0}
SCENARIOS = ["goals", "get", "remote", "handle", "batch", "snms", "mirror", "import"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench", description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=SCENARIOS,
                   help="run one scenario (setup runs as needed); goals: issue 22's goals (HTTP, UDP and TCP)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 20k ids, 3 s, one run; with --only goals 10k ids, 2 s, three runs "
                        "(explicit flags still win)")
    p.add_argument("--runs", type=int, help="runs of each measurement; the median is reported (default 3)")
    p.add_argument("--seconds", type=float, help="wrk duration of each GET measurement (default 10)")
    p.add_argument("--warmup", type=float, help="untimed wrk seconds before each server's runs (default 2)")
    p.add_argument("--ids", type=int, help="identifiers loaded for the GET scenario (default 100,000)")
    p.add_argument("--batch-ids", type=int, help="new identifiers registered per batch run (default 200,000)")
    p.add_argument("--batch-size", type=int, default=2000, help="operations per batch (default 2,000)")
    p.add_argument("--batch-conns", type=int, default=4, help="concurrent batch connections (default 4)")
    p.add_argument("--import-ids", type=int, help="identifiers in the import scenario (default 1,000,000)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    p.add_argument("--window", type=int, default=64, help="UDP resolution requests in flight (default 64)")
    p.add_argument("--udp-sockets", type=int, default=1, help="UDP sockets the window is spread over (default 1)")
    p.add_argument("--server-cpu", type=int, default=0, help="core for servers, import and ceiling (default 0)")
    p.add_argument("--client-cpu", type=int, default=1, help="core for load generators (default 1)")
    p.add_argument("--workdir", help="where temporary data folders go (default: a new folder in $TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--json", dest="json_out", help="also write the results as JSON to this file")
    return p.parse_args(argv)


def settings(a: argparse.Namespace) -> Settings:
    defaults = {"ids": 100_000, "seconds": 10.0, "runs": 3, "batch_ids": 200_000, "import_ids": 1_000_000,
                "warmup": 2.0}
    if a.quick:
        defaults.update(QUICK_GOALS if a.only == "goals" else QUICK)
    pick = {k: getattr(a, k) if getattr(a, k) is not None else v for k, v in defaults.items()}
    pin = can_pin(a.server_cpu, a.client_cpu) and a.server_cpu != a.client_cpu
    if not pin:
        log(f"cannot pin to cores {a.server_cpu} and {a.client_cpu} (taskset, or too few cores): not pinning")
    return Settings(runs=max(1, pick["runs"]), seconds=pick["seconds"], warmup=pick["warmup"], ids=pick["ids"],
                    batch_ids=pick["batch_ids"], batch_size=a.batch_size, batch_conns=a.batch_conns,
                    import_ids=pick["import_ids"], connections=a.connections,
                    window=a.window, udp_sockets=a.udp_sockets,
                    server_cpu=a.server_cpu if pin else None, client_cpu=a.client_cpu if pin else None)


def environment() -> dict:
    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=10).stdout.strip()
    except OSError:
        commit = "?"
    wrk = shutil.which("wrk")
    wrk_v = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split()[:2] if wrk else ["?"]
    return {"commit": commit or "?", "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "aiohttp": ver("aiohttp"), "uvloop": ver("uvloop"), "lmdb": ver("lmdb"), "wrk": " ".join(wrk_v)}


def _sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    s = settings(a)
    command = shlex.join([os.path.relpath(sys.executable), "-m", "loadtests.bench", *(sys.argv[1:] if argv is None
                                                                                        else argv)])
    want = {a.only} if a.only else set(SCENARIOS)
    if "goals" in want:
        want.add("handle")  # the UDP goal's runs
    if want & {"get", "remote", "goals"}:
        ensure_wrk()
    signal.signal(signal.SIGTERM, _sigterm)
    if s.client_cpu is not None:
        os.sched_setaffinity(0, {s.client_cpu})  # the orchestrator stays off the server's core
    work = Path(a.workdir or tempfile.mkdtemp(prefix="idnode-bench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    goals: list[Goal] = []
    t0 = time.monotonic()
    try:
        if want & {"goals", "get", "remote", "handle", "batch", "snms", "mirror"}:
            folder, row = setup(work, s)
            rows.append(row)
            if "goals" in want:
                goal_rows, goals = http_goals(measure_http(work, folder, s))
                rows += goal_rows
            if "get" in want:
                rows += get_scenario(work, folder, s)
            if "remote" in want:
                rows += remote_scenario(work, folder, s)
            if "handle" in want:
                rows += handle_scenario(work, folder, s)
                rows += tcp_scenario(work, folder, s)
            if "goals" in want:
                goals += handle_goals(rows)
            if "batch" in want:
                rows += batch_scenario(work, folder, s)
            if "snms" in want:
                rows += snms_scenario(work, folder, s)
            if "mirror" in want:
                rows += mirror_scenario(work, folder, s)
        if "import" in want:
            rows += import_scenario(work, s)
    finally:
        stop_all()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    env = environment()
    pinned = (f"servers on core {s.server_cpu}, load generators on core {s.client_cpu}"
              if s.server_cpu is not None else "not pinned")
    print(f"\n`{command}`\n")
    print(table(rows))
    print(f"\nMedian of {s.runs} run(s); p50/p99 are idnode's (per request for GET and UDP, per batch for "
          f"registration). {pinned}; wrk 1 thread, {s.connections} keep-alive connections, {s.seconds:g} s; "
          f"UDP: loadtests.udpload, {s.window} requests in flight over {s.udp_sockets} socket(s), {s.seconds:g} s. "
          f"commit {env['commit']}, {env['cpu']}, {env['cores']} cores, Python {env['python']}, "
          f"aiohttp {env['aiohttp']}, uvloop {env['uvloop']}, lmdb {env['lmdb']}, {env['wrk']}. "
          f"Took {time.monotonic() - t0:.0f} s.")
    if goals:
        print("\nIssue 22's goals, each beside its reference measured in this run (ratios are per run, then "
              "their median; the range is the spread over runs):\n")
        print(goals_table(goals))
    if a.json_out:
        write_json(Path(a.json_out), command, vars(s), env, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
