"""TCP resolution load: keep a window of Handle resolution requests in flight on each of a few TCP
connections, report answers per second and per server CPU-second.

The TCP twin of ``loadtests.udpload`` (same requests, same checks of request id and response code):
each connection keeps ``--window`` requests outstanding; every answer is replaced by a new request.
Run it pinned to the load core; it prints one line of JSON (``TCPJSON {...}``):

    python -m loadtests.tcpload --server 127.0.0.1:PORT --kind SN --ids 20000 [--seconds 10]
        [--connections 4] [--window 16] [--expect found|missing] [--server-pid PID]
"""

from __future__ import annotations

import argparse
import json
import random
import select
import socket
import struct
import sys
import time

from . import data
from .udpload import RC_HANDLE_NOT_FOUND, RC_SUCCESS, _core_busy, _proc_cpu, request_bytes

_U32 = struct.Struct(">I")


def run_load(host: str, port: int, handles: list[str], order: list[int], *, connections: int, window: int,
             seconds: float, expect_found: bool, server_pid: int | None) -> dict:
    reqs = [request_bytes(h) for h in handles]
    want = RC_SUCCESS if expect_found else RC_HANDLE_NOT_FOUND
    socks = [socket.create_connection((host, port)) for _ in range(connections)]
    poller = select.poll()
    state = {}
    for s in socks:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        poller.register(s.fileno(), select.POLLIN)
        state[s.fileno()] = [s, b"", {}]  # socket, unread bytes, request id -> sent at
    rid, pos, n_order = 0, 0, len(order)
    answers = errors = 0

    def requests(k: int, pending: dict) -> bytes:
        nonlocal rid, pos
        out = []
        for _ in range(k):
            rid += 1
            buf = reqs[order[pos]]
            pos = pos + 1 if pos + 1 < n_order else 0
            _U32.pack_into(buf, 8, rid)
            pending[rid] = True
            out.append(bytes(buf))
        return b"".join(out)

    c0, b0 = _proc_cpu(server_pid), _core_busy(server_pid)
    t0 = time.perf_counter()
    deadline = t0 + seconds
    for s, _, pending in state.values():
        s.sendall(requests(window, pending))
    sending = True
    while any(st[2] for st in state.values()):
        for fd, _ in poller.poll(1000):
            st = state[fd]
            s = st[0]
            try:
                chunk = s.recv(1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                raise RuntimeError("the server closed a connection")
            buf = st[1] + chunk
            at, got = 0, 0
            while len(buf) - at >= 20:
                end = at + 20 + _U32.unpack_from(buf, at + 16)[0]
                if end > len(buf):
                    break
                if st[2].pop(_U32.unpack_from(buf, at + 8)[0], None) is None or \
                        _U32.unpack_from(buf, at + 24)[0] != want:
                    errors += 1
                else:
                    answers += 1
                got += 1
                at = end
            st[1] = buf[at:]
            if sending and time.perf_counter() >= deadline:
                sending = False
            if sending and got:
                s.setblocking(True)
                s.sendall(requests(got, st[2]))
                s.setblocking(False)
    elapsed = time.perf_counter() - t0
    c1, b1 = _proc_cpu(server_pid), _core_busy(server_pid)
    for s in socks:
        s.close()
    cpu = c1 - c0
    return {"answers": answers, "errors": errors, "seconds": elapsed, "rate": answers / elapsed,
            "server_cpu": cpu, "per_cpu_second": answers / cpu if cpu > 0 else float("nan"),
            "others_share": max(0.0, (b1 - b0) - cpu) / elapsed}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="HOST:PORT of the Handle TCP listener")
    p.add_argument("--kind", default="SN")
    p.add_argument("--ids", type=int, default=20_000)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--window", type=int, default=16, help="requests in flight per connection")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--expect", choices=["found", "missing"], default="found")
    p.add_argument("--server-pid", type=int)
    a = p.parse_args(argv)
    host, _, port = a.server.rpartition(":")
    handles = [data.handle(a.kind, i) for i in range(a.ids)]
    order = list(range(a.ids))
    random.Random(a.seed).shuffle(order)
    res = run_load(host or "127.0.0.1", int(port), handles, order, connections=a.connections, window=a.window,
                   seconds=a.seconds, expect_found=a.expect == "found", server_pid=a.server_pid)
    print("TCPJSON " + json.dumps(res), flush=True)
    print(f"{res['answers']:,} answers in {res['seconds']:.2f} s = {res['rate']:,.0f}/s; {res['errors']} errors; "
          f"server CPU {res['server_cpu']:.2f} s = {res['per_cpu_second']:,.0f} per CPU-second; others took "
          f"{res['others_share']:.0%} of the server's core", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
