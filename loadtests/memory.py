"""A worker's resident memory against the number of identifiers its caches hold (issue 22's memory goal).

A node started with its default configuration (``idnode serve`` with only the data folder and the
addresses) is loaded with ``--ids`` records. Each identifier is then resolved once over every route that
keeps something for it: ``GET /api/handles/{h}`` (the record cache and its JSON values, the fast route's
ETag), the scanner's ``GET /{h}`` (the redirect target) and a Handle resolution over UDP (the fast
path's encoded answer). The worker's RSS is read from ``/proc`` before the first and after every
``--step`` identifiers, and printed beside the number resolved; the per-identifier cost is the slope
between the first and the last point still under the cache's bound.

    .venv/bin/python -m loadtests.memory --ids 30000

Bounded: one request per identifier and route, sequential, on loopback; the scratch folder is removed.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import socket
import tempfile
from pathlib import Path

from . import data
from .procs import Server, free_port
from .scenarios import _udp_node_cmd, init_node, log, timed_import
from .udpload import probe, request_bytes


def rss(pid: int) -> tuple[float, float]:
    """The process's resident set and its anonymous part (MiB): the rest is the LMDB map's pages,
    the page cache every worker shares, which grows with the records read, not with the caches."""
    got = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "RssAnon:")):
                got[line.split(":")[0]] = int(line.split()[1]) / 1024
    return got["VmRSS"], got["RssAnon"]


def default_cache_entries() -> int:
    from resolver.config import Config

    return Config.cache_entries


def resolve_all(port: int, udp_port: int, start: int, stop: int) -> None:
    """Every identifier in [start, stop) over both HTTP routes (one keep-alive connection) and UDP."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(2.0)
        try:
            for i in range(start, stop):
                h = data.handle("SN", i)
                for path, want in ((f"/api/handles/{h}", 200), (f"/{h}", 302)):
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status != want:
                        raise RuntimeError(f"GET {path} answered {resp.status}, not {want}")
                udp.sendto(request_bytes(h), ("127.0.0.1", udp_port))
                if len(udp.recv(65536)) < 44:
                    raise RuntimeError(f"UDP resolution of {h}: a short answer")
        finally:
            conn.close()


def measure(work: Path, ids: int, step: int, cpu: int | None) -> list[tuple[int, float, float]]:
    folder = work / "node"
    init_node(folder)
    jsonl = work / "memory.jsonl"
    data.write_jsonl(jsonl, "SN", ids)
    log(f"memory: importing {ids:,} records")
    timed_import(folder, jsonl, ids, cpu)
    jsonl.unlink()
    port, udp_port = free_port(), free_port()
    points: list[tuple[int, float, float]] = []
    up = lambda: probe("127.0.0.1", udp_port, data.handle("NX", 0))  # noqa: E731
    with Server(_udp_node_cmd(folder, port, udp_port), port, work / "memory-node.log", cpu=cpu, ready=up) as srv:
        # One pass over unknown handles first: buffers and lazily made objects grow now, not in the slope.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(200):
            conn.request("GET", f"/api/handles/{data.handle('NX', i)}")
            conn.getresponse().read()
        conn.close()
        points.append((0, *rss(srv.pid)))
        for start in range(0, ids, step):
            stop = min(ids, start + step)
            resolve_all(port, udp_port, start, stop)
            points.append((stop, *rss(srv.pid)))
            log(f"memory: {stop:,} identifiers resolved, RSS {points[-1][1]:.1f} MiB, anonymous {points[-1][2]:.1f} MiB")
    return points


def main() -> None:
    entries = default_cache_entries()
    p = argparse.ArgumentParser(description="a worker's RSS against the identifiers its caches hold")
    p.add_argument("--ids", type=int, default=entries + entries // 2,
                   help="records loaded and resolved (default: 1.5 times the default cache_entries, so the bound shows)")
    p.add_argument("--step", type=int, default=0, help="identifiers between RSS readings (default: ids / 10)")
    p.add_argument("--cpu", type=int, default=None, help="pin the node to this core (taskset)")
    p.add_argument("--workdir", help="scratch folder (default: a new one in $TMPDIR, removed afterwards)")
    a = p.parse_args()
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="idnode-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        points = measure(work, a.ids, a.step or max(1, a.ids // 10), a.cpu)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"default cache_entries: {entries:,}")
    print("| identifiers resolved | RSS (MiB) | of which anonymous (MiB) |")
    print("| --- | --- | --- |")
    for n, r, anon in points:
        print(f"| {n:,} | {r:.1f} | {anon:.1f} |")
    under = [pt for pt in points if pt[0] <= entries]
    (n0, r0, a0), (n1, r1, a1) = under[0], under[-1]
    if n1 > n0:
        mib = 1024 * 1024 / (n1 - n0)
        print(f"per identifier (slope from {n0:,} to {n1:,}): {(r1 - r0) * mib:,.0f} B resident, "
              f"{(a1 - a0) * mib:,.0f} B anonymous (the caches; the rest is LMDB's mapped pages)")
    print(f"largest RSS: {max(p[1] for p in points):.1f} MiB, anonymous {max(p[2] for p in points):.1f} MiB")


if __name__ == "__main__":
    main()
