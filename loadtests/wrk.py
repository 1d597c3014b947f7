"""GET load with wrk: one thread pinned to its own core, keep-alive connections, random paths from a list."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .procs import run

# Pre-formats every request in init() so the per-request cost on the load core is one table index.
# Arguments after ``--``: the paths file, a random seed, and ``seq`` to walk the paths in order instead.
# done() prints one line of JSON that the harness parses (latencies in microseconds).
LUA = r"""
local reqs, n, seq, i = {}, 0, false, 0

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    n = n + 1
    reqs[n] = wrk.format("GET", line)
  end
  f:close()
  math.randomseed(tonumber(args[2]) or 1)
  seq = args[3] == "seq"
end

function request()
  if seq then
    i = i % n + 1
    return reqs[i]
  end
  return reqs[math.random(n)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"mean_us":%.1f,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency.mean, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status,
    e.timeout))
end
"""


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int  # wrk counts a status ≥ 400 as an error
    socket_errors: int
    seconds: float
    server_cpu: float = float("nan")  # CPU seconds the server used meanwhile (set by the caller)

    @property
    def cpu_share(self) -> float:
        """The share of its core the server got: well under 1 means it waited (for load, or for a neighbour)."""
        return self.server_cpu / self.seconds

    @property
    def per_cpu_second(self) -> float:
        """Requests per server CPU second: the rate a dedicated, saturated core would give; less noisy."""
        return self.requests / self.server_cpu if self.server_cpu > 0 else float("nan")


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr, flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env, timeout=300)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit("the GET benchmark needs wrk: install it (Debian/Ubuntu: `sudo apt-get install -y wrk`) "
                     "or run with --only batch / --only import")


def write_script(folder: Path) -> Path:
    path = folder / "paths.lua"
    path.write_text(LUA)
    return path


def run_wrk(base_url: str, script: Path, paths: Path, *, seconds: float, connections: int = 64,
            cpu: int | None = None, seed: int = 1, sequential: bool = False) -> WrkResult:
    seconds = max(1, math.ceil(seconds))  # wrk takes whole seconds
    cmd = [ensure_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script),
           base_url, "--", str(paths), str(seed), "seq" if sequential else "random"]
    out = run(cmd, cpu=cpu, timeout=seconds + 60).out
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out[-2000:]}")
    d = json.loads(line[len("WRKJSON "):])
    return WrkResult(
        rps=d["requests"] / (d["duration_us"] / 1e6),
        p50_ms=d["p50_us"] / 1000, p99_ms=d["p99_us"] / 1000, requests=d["requests"], non_2xx=d["status"],
        socket_errors=d["connect"] + d["read"] + d["write"] + d["timeout"], seconds=d["duration_us"] / 1e6,
    )
