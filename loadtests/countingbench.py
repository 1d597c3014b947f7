"""``python -m loadtests.countingbench``: what counting for the reports costs resolution (resolver/reports).

The same node, the same data, Handle resolution over UDP (the cheapest request, so the one where
counting weighs most), with counting on and with ``--no-counting``, alternating, server and load
generator pinned to different cores. The figure compared is answers per server CPU-second, the
steadier one on a shared machine; the median of the per-run ratios is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from functools import partial
from pathlib import Path

from . import data
from .procs import Server, can_pin, free_port
from .report import median
from .scenarios import _udp_node_cmd, init_node, log, timed_import, warmup_seconds
from .udpload import launch as launch_udp
from .udpload import probe


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.countingbench", description=__doc__.splitlines()[0])
    p.add_argument("--ids", type=int, default=20_000)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--micro", action="store_true",
                   help="also time the service's resolve in one process, counting on and off (steadier)")
    a = p.parse_args(argv)
    pin = can_pin(a.server_cpu, a.client_cpu) and a.server_cpu != a.client_cpu
    server_cpu, client_cpu = (a.server_cpu, a.client_cpu) if pin else (None, None)
    with tempfile.TemporaryDirectory(prefix="idnode-counting-") as tmp:
        work = Path(tmp)
        folder = work / "node"
        init_node(folder)
        jsonl = work / "setup.jsonl"
        data.write_jsonl(jsonl, "SN", a.ids)
        timed_import(folder, jsonl, a.ids, server_cpu)
        if a.micro:
            micro(folder, a.ids, server_cpu)
        per: dict[str, list[float]] = {"on": [], "off": []}
        ratios = []
        for r in range(a.runs):
            got = {}
            for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
                udp_port, http_port = free_port(), free_port()
                cmd = _udp_node_cmd(folder, http_port, udp_port) + (["--no-counting"] if mode == "off" else [])
                up = partial(probe, "127.0.0.1", udp_port, data.handle("SN", 0))
                with Server(cmd, http_port, work / f"{mode}.log", cpu=server_cpu, ready=up) as srv:
                    launch_udp("127.0.0.1", udp_port, "SN", a.ids, seconds=warmup_seconds_for(a), window=a.window,
                               sockets=1, cpu=client_cpu, order="seq", count=a.ids, server_pid=srv.pid)
                    w = launch_udp("127.0.0.1", udp_port, "SN", a.ids, seconds=a.seconds, window=a.window,
                                   sockets=1, cpu=client_cpu, seed=r + 1, expect="found", server_pid=srv.pid)
                    if w.errors or w.lost or not w.answers:
                        raise RuntimeError(f"counting {mode}: {w.errors} errors, {w.lost} lost")
                    got[mode] = w.per_cpu_second
                    per[mode].append(w.per_cpu_second)
                    log(f"run {r + 1}/{a.runs} counting {mode}: {w.rate:,.0f}/s, {w.per_cpu_second:,.0f} per server "
                        f"CPU-s (server CPU {w.cpu_share:.0%}, others on its core {w.others_share:.0%})")
            ratios.append(got["on"] / got["off"])
    print(f"counting on : {median(per['on']):,.0f} resolutions per server CPU-second (runs: "
          + ", ".join(f"{v:,.0f}" for v in per["on"]) + ")")
    print(f"counting off: {median(per['off']):,.0f} resolutions per server CPU-second (runs: "
          + ", ".join(f"{v:,.0f}" for v in per["off"]) + ")")
    print(f"on/off: {median(ratios):.1%} (median of per-run ratios; pinned: {pin})")
    return 0


def micro(folder: Path, ids: int, cpu: int | None, rounds: int = 20, calls: int = 20_000) -> None:
    """The Handle dispatcher's answer to a UDP resolution (everything the server does but the socket
    calls), blocks with counting on and off interleaved: the share counting adds, an upper bound of its
    share of a whole UDP resolution."""
    import os
    import time

    from protocol import bodies as b
    from protocol.envelope import Op
    from protocol.message import encode
    from resolver.assembly.service_setup import close_service, open_service
    from resolver.config import Config
    from resolver.counters import Counters
    from resolver.federation.peer import message
    from resolver.handle.dispatch import Dispatcher

    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    svc = open_service(Config(data=str(folder)))
    dispatcher = Dispatcher(svc, b"", sealer=None)
    msgs = [encode(message(Op.RESOLUTION, b.ResolutionRequest(data.handle("SN", i % ids), (), ())))
            for i in range(calls)]
    perf = time.perf_counter
    best = {"on": float("inf"), "off": float("inf")}
    try:
        for r in range(rounds):
            for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
                svc.counters = Counters() if mode == "on" else None
                quick = dispatcher.quick
                t = perf()
                for m in msgs:
                    quick(m, udp=True, client="127.0.0.1", t0=perf())
                best[mode] = min(best[mode], (perf() - t) / calls)
    finally:
        close_service(svc)
    print(f"micro: a UDP resolution's dispatch {best['off'] * 1e6:.2f} µs without counting, {best['on'] * 1e6:.2f} µs "
          f"with (best of {rounds} blocks of {calls:,} each): {(best['on'] / best['off'] - 1) * 100:+.1f} %")


def warmup_seconds_for(a: argparse.Namespace) -> float:
    return warmup_seconds(argparse.Namespace(warmup=1.0, ids=a.ids))  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
