"""Handle resolution over TCP, for ``make bench`` and ``make bench-goals``: idnode (``serve --handle``)
against the bare uvloop TCP responder (``loadtests.tcpbaseline``) reading the same LMDB records,
alternating, each on a fresh server pinned to the server core; ``loadtests.tcpload`` (4 connections, 16
requests in flight on each) on the load core. idnode is first warmed by one sequential UDP pass over
every handle (UDP and TCP share its kept answers); the timed runs ask for the loaded handles in a seeded
random order.
"""

from __future__ import annotations

import json
import socket
import sys
from functools import partial
from pathlib import Path

from . import data
from .procs import Server, free_port, run
from .report import Row, median, rate
from .scenarios import Settings, _udp_node_cmd, log
from .udpload import launch as launch_udp
from .udpload import probe


def _tcp_up(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def tcp_load(port: int, s: Settings, seed: int, server_pid: int, expect: str = "found") -> dict:
    kind = "SN" if expect == "found" else "NX"
    cmd = [sys.executable, "-m", "loadtests.tcpload", "--server", f"127.0.0.1:{port}", "--kind", kind,
           "--ids", str(s.ids), "--seconds", str(s.seconds), "--expect", expect, "--seed", str(seed),
           "--server-pid", str(server_pid)]
    out = run(cmd, cpu=s.client_cpu, timeout=s.seconds + 120).out
    line = next((x for x in out.splitlines() if x.startswith("TCPJSON ")), None)
    if line is None:
        raise RuntimeError(f"the TCP load generator printed no result:\n{out[-2000:]}")
    return json.loads(line[len("TCPJSON "):])


def tcp_scenario(work: Path, folder: Path, s: Settings) -> list[Row]:
    res: dict[str, list[dict]] = {"idnode": [], "baseline": []}
    for r in range(s.runs):
        for who in ("idnode", "baseline") if r % 2 == 0 else ("baseline", "idnode"):
            port = free_port()
            if who == "idnode":
                cmd = _udp_node_cmd(folder, free_port(), port)
                up = partial(probe, "127.0.0.1", port, data.handle("SN", 0))
            else:
                cmd = [sys.executable, "-m", "loadtests.tcpbaseline", "--data", str(folder), "--handle",
                       f"127.0.0.1:{port}"]
                up = partial(_tcp_up, port)
            with Server(cmd, None, work / f"{who}-tcp.log", cpu=s.server_cpu, ready=up) as srv:
                if who == "idnode":
                    launch_udp("127.0.0.1", port, "SN", s.ids, seconds=max(s.ids / 500, 10.0), window=s.window,
                               sockets=1, cpu=s.client_cpu, order="seq", count=s.ids, verify_every=0)
                w = tcp_load(port, s, r + 1, srv.pid)
                if w["errors"] or not w["answers"]:
                    raise RuntimeError(f"{who} TCP: {w['errors']} errors")
                res[who].append(w)
                log(f"TCP run {r + 1}/{s.runs} {who}: {w['rate']:,.0f}/s, {w['per_cpu_second']:,.0f} per server CPU-s")
    node, base = res["idnode"], res["baseline"]
    ratios = [x["per_cpu_second"] / y["per_cpu_second"] for x, y in zip(node, base, strict=True)]
    note = ("per server CPU-second; baseline: a bare uvloop TCP responder doing the same LMDB read "
            f"(`loadtests.tcpbaseline`); 4 connections x 16 in flight; idnode/baseline per CPU-s {median(ratios):.0%} "
            "(median of per-run ratios); idnode runs " + ", ".join(rate(x["per_cpu_second"], "") for x in node)
            + " /CPU-s")
    return [Row(f"Handle resolution over TCP ({s.ids:,} ids, random, warm)",
                f"{rate(median([x['per_cpu_second'] for x in node]), '/CPU-s')} ({rate(median([x['rate'] for x in node]))})",
                f"{rate(median([x['per_cpu_second'] for x in base]), '/CPU-s')} ({rate(median([x['rate'] for x in base]))})",
                "—", "—", "—", note, {"idnode": node, "baseline": base})]
