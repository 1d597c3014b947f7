"""UDP resolution load: keep a window of Handle resolution requests in flight, report answers/s and latency.

Every request is encoded once per handle with the project's codec; each send patches only the request id
(bytes 8-11 of the envelope) into that buffer. A tight loop over non-blocking, connected sockets and
``select.poll`` (no event loop) keeps ``--window`` requests outstanding, spread over ``--sockets`` sockets;
each answer is checked (request id echoed and outstanding, response code, not truncated; every
``--verify-every``-th answer decoded in full and matched with the handle asked for) and replaced by a new
request on the same socket. Requests unanswered after ``--timeout`` seconds count as lost and are replaced.

Run it pinned to the load core; it prints one line of JSON (``UDPJSON {...}``):

    python -m loadtests.udpload --server 127.0.0.1:PORT --kind SN --ids 100000 [--seconds 10] [--window 64]
        [--sockets 1] [--count N] [--order random|seq] [--expect found|missing] [--server-pid PID]

With ``--server-pid`` it reads that process's CPU time (/proc/PID/stat) right before and after the timed
loop, so the figure per server CPU-second leaves out the generator's own start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import socket
import struct
import sys
import time
from array import array
from dataclasses import asdict, dataclass

from protocol import bodies as b
from protocol.envelope import ENV_TRUNCATED, Op
from protocol.message import Message, MessageError, decode_message, encode

from . import data

RC_SUCCESS = 1
RC_HANDLE_NOT_FOUND = 100
_RID = struct.Struct(">I")
_RC = struct.Struct(">I")  # response code: header bytes 4-7, message bytes 24-27


@dataclass
class UdpResult:
    answers: int  # answers that passed every check
    sent: int
    errors: int  # answers that failed a check (wrong rc, truncated, wrong handle, unknown request id)
    lost: int  # requests unanswered after the timeout
    late: int  # answers that came after their request was counted lost (not counted as answers)
    verified: int  # answers decoded in full and matched with the handle asked for
    seconds: float  # first send to last answer
    rate: float  # answers per second
    p50_ms: float
    p99_ms: float
    window: int
    sockets: int
    server_cpu: float  # CPU seconds of --server-pid during the loop (nan without it)
    core_busy: float  # busy seconds of the server's core during the loop, all processes (nan if not pinned)
    error_samples: list[str]

    @property
    def cpu_share(self) -> float:
        return self.server_cpu / self.seconds if self.seconds > 0 else float("nan")

    @property
    def others_share(self) -> float:
        """The share of the server's core that other processes took meanwhile (noise from neighbours)."""
        return max(0.0, self.core_busy - self.server_cpu) / self.seconds if self.seconds > 0 else float("nan")

    @property
    def per_cpu_second(self) -> float:
        return self.answers / self.server_cpu if self.server_cpu > 0 else float("nan")


def request_bytes(handle: str) -> bytearray:
    """A plain resolution request for ``handle`` (protocol 2.10, request id 0), ready to be patched."""
    return bytearray(encode(Message(Op.RESOLUTION, b.ResolutionRequest(handle), major=2, minor=10)))


def _proc_cpu(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    with open(f"/proc/{pid}/stat") as fh:
        f = fh.read().rpartition(")")[2].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def _core_busy(pid: int | None) -> float:
    """Busy seconds so far of the one core ``pid`` is pinned to (any process), from /proc/stat."""
    if pid is None:
        return float("nan")
    cores = os.sched_getaffinity(pid)
    if len(cores) != 1:
        return float("nan")
    name = f"cpu{next(iter(cores))} "
    with open("/proc/stat") as fh:
        line = next((x for x in fh if x.startswith(name)), None)
    if line is None:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in line.split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _pct(sorted_vals: list[float], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(round(q / 100 * (len(sorted_vals) - 1))))]


def _check_full(raw: bytes, handle: str, i: int, expect_found: bool) -> str | None:
    """Decode the whole answer with the codec; None when it is the answer ``handle`` should get."""
    try:
        m = decode_message(raw)
    except MessageError as e:
        return f"undecodable answer for {handle}: {e.message}"
    if not expect_found:
        return None if m.rc == RC_HANDLE_NOT_FOUND else f"{handle}: rc {m.rc}"
    body = m.body
    if not isinstance(body, b.ResolutionResponse) or body.handle.lower() != handle.lower():
        return f"answer for {handle} names {getattr(body, 'handle', body)!r}"
    url = f"https://trace.example.com/p/{i:08d}".encode()
    if not any(v.type == "URL" and v.data == url for v in body.values):
        return f"answer for {handle} lacks its URL"
    return None


def run_load(host: str, port: int, handles: list[str], order: list[int], *, window: int = 64, sockets: int = 1,
             seconds: float = 10.0, count: int | None = None, timeout: float = 1.0, expect_found: bool = True,
             verify_every: int = 4096, server_pid: int | None = None, rcvbuf: int = 1 << 20) -> UdpResult:
    """Keep ``window`` requests in flight over ``sockets`` sockets until ``count`` answers or ``seconds``."""
    reqs = [request_bytes(h) for h in handles]  # encoded once per handle, before the clock
    n_order = len(order)
    socks = []
    for _ in range(max(1, sockets)):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.connect((host, port))
        s.setblocking(False)
        socks.append(s)
    poller = select.poll()
    by_fd = {}
    for s in socks:
        poller.register(s.fileno(), select.POLLIN)
        by_fd[s.fileno()] = s
    want_rc = RC_SUCCESS if expect_found else RC_HANDLE_NOT_FOUND
    limit = count if count is not None else 1 << 62
    pending: dict[int, tuple[float, int, socket.socket]] = {}  # request id -> (sent at, handle index, socket)
    lat = array("d")
    errors: list[str] = []
    n_err = lost = late = verified = answers = 0
    rid = 0  # request ids count up from 1; the harness never wraps 2**32
    pos = 0  # position in ``order``
    pack_into = _RID.pack_into
    unpack_rc = _RC.unpack_from
    perf = time.perf_counter

    def note(msg: str) -> None:
        if len(errors) < 5:
            errors.append(msg)

    c0, b0 = _proc_cpu(server_pid), _core_busy(server_pid)
    t0 = perf()
    deadline = t0 + seconds
    sending = True
    # Fill the window, round-robin over the sockets.
    for k in range(min(window, limit)):
        s = socks[k % len(socks)]
        i = order[pos]
        pos = pos + 1 if pos + 1 < n_order else 0
        rid += 1
        buf = reqs[i]
        pack_into(buf, 8, rid)
        pending[rid] = (perf(), i, s)
        s.send(buf)
    sent = rid
    next_sweep = t0 + timeout / 4
    t_last = t0
    while pending:
        events = poller.poll(50)
        now = perf()
        for fd, _ in events:
            s = by_fd[fd]
            recv, send = s.recv, s.send
            while True:
                try:
                    raw = recv(65536)
                except BlockingIOError:
                    break
                except ConnectionRefusedError:  # ICMP port unreachable: the server is gone
                    note("connection refused (is the server up?)")
                    n_err += 1
                    break
                t = perf()
                got = pending.pop(_RID.unpack_from(raw, 8)[0] if len(raw) >= 12 else -1, None)
                if got is None:
                    late += 1
                    continue
                sent_at, i, _ = got
                if len(raw) < 44 or unpack_rc(raw, 24)[0] != want_rc or raw[2] & ENV_TRUNCATED:
                    n_err += 1
                    note(f"answer for {handles[i]}: rc {unpack_rc(raw, 24)[0] if len(raw) >= 28 else '?'}, "
                         f"{len(raw)} bytes, envelope flags {raw[2] if len(raw) > 2 else 0:#x}")
                else:
                    answers += 1
                    lat.append(t - sent_at)
                    if verify_every and answers % verify_every == 1:
                        bad = _check_full(raw, handles[i], i, expect_found)
                        if bad:
                            answers -= 1
                            n_err += 1
                            note(bad)
                        else:
                            verified += 1
                t_last = t
                if sending:
                    if t >= deadline or sent >= limit:
                        sending = False
                        continue
                    i = order[pos]
                    pos = pos + 1 if pos + 1 < n_order else 0
                    rid += 1
                    buf = reqs[i]
                    pack_into(buf, 8, rid)
                    pending[rid] = (t, i, s)
                    send(buf)
                    sent += 1
        if now >= next_sweep:
            next_sweep = now + timeout / 4
            if sending and now >= deadline:
                sending = False
            old = [r for r, (t, _, _) in pending.items() if now - t > timeout]
            for r in old:
                _, _, s = pending.pop(r)
                lost += 1
                if sending and sent < limit:
                    i = order[pos]
                    pos = pos + 1 if pos + 1 < n_order else 0
                    rid += 1
                    buf = reqs[i]
                    pack_into(buf, 8, rid)
                    pending[rid] = (now, i, s)
                    s.send(buf)
                    sent += 1
    c1, b1 = _proc_cpu(server_pid), _core_busy(server_pid)
    for s in socks:
        s.close()
    elapsed = max(t_last - t0, 1e-9)
    if lost:
        note(f"{lost} requests unanswered after {timeout:g} s")
    ms = sorted(x * 1000 for x in lat)
    return UdpResult(answers=answers, sent=sent, errors=n_err, lost=lost, late=late, verified=verified,
                     seconds=elapsed, rate=answers / elapsed, p50_ms=_pct(ms, 50), p99_ms=_pct(ms, 99),
                     window=window, sockets=len(socks), server_cpu=c1 - c0, core_busy=b1 - b0,
                     error_samples=errors)


def probe(host: str, port: int, handle: str, timeout: float = 0.5) -> bool:
    """One resolution over UDP answered (any response code): the listener is up."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(request_bytes(handle), (host, port))
            return len(s.recv(65536)) >= 44
        except OSError:  # timeout, or ICMP port unreachable
            return False


def launch(host: str, port: int, kind: str, ids: int, *, seconds: float, window: int, sockets: int,
           cpu: int | None, order: str = "random", seed: int = 1, expect: str = "found", count: int | None = None,
           server_pid: int | None = None, verify_every: int = 4096) -> UdpResult:
    """Run the generator as its own process (pinned to ``cpu``) and read its result."""
    from .procs import run

    cmd = [sys.executable, "-m", "loadtests.udpload", "--server", f"{host}:{port}", "--kind", kind,
           "--ids", str(ids), "--seconds", str(seconds), "--window", str(window), "--sockets", str(sockets),
           "--order", order, "--seed", str(seed), "--expect", expect, "--verify-every", str(verify_every)]
    if count is not None:
        cmd += ["--count", str(count)]
    if server_pid is not None:
        cmd += ["--server-pid", str(server_pid)]
    out = run(cmd, cpu=cpu, timeout=seconds + 120).out
    line = next((x for x in out.splitlines() if x.startswith("UDPJSON ")), None)
    if line is None:
        raise RuntimeError(f"the UDP load generator printed no result:\n{out[-2000:]}")
    return UdpResult(**json.loads(line[len("UDPJSON "):]))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="HOST:PORT of the Handle UDP listener")
    p.add_argument("--kind", default="SN", help="handles 88.101.5/KIND-00000000 … (loadtests.data.handle)")
    p.add_argument("--ids", type=int, default=100_000, help="how many of them to ask for")
    p.add_argument("--seconds", type=float, default=10.0, help="stop sending after this long")
    p.add_argument("--count", type=int, help="stop sending after this many requests")
    p.add_argument("--window", type=int, default=64, help="requests in flight (default 64)")
    p.add_argument("--sockets", type=int, default=1, help="UDP sockets (source ports) the window is spread over")
    p.add_argument("--order", choices=["random", "seq"], default="random",
                   help="random: a seeded shuffle of the handles, cycled; seq: in order")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--expect", choices=["found", "missing"], default="found",
                   help="the response code every answer must carry: 1 (found) or 100 (handle not found)")
    p.add_argument("--timeout", type=float, default=1.0, help="seconds before a request counts as lost")
    p.add_argument("--verify-every", type=int, default=4096,
                   help="decode every Nth answer in full and match it with its handle (0: never)")
    p.add_argument("--server-pid", type=int, help="read this process's CPU time around the loop")
    a = p.parse_args(argv)
    host, _, port = a.server.rpartition(":")
    handles = [data.handle(a.kind, i) for i in range(a.ids)]
    order = list(range(a.ids))
    if a.order == "random":
        random.Random(a.seed).shuffle(order)
    res = run_load(host or "127.0.0.1", int(port), handles, order, window=a.window, sockets=a.sockets,
                   seconds=a.seconds, count=a.count, timeout=a.timeout, expect_found=a.expect == "found",
                   verify_every=a.verify_every, server_pid=a.server_pid)
    print("UDPJSON " + json.dumps(asdict(res)), flush=True)
    print(f"{res.answers:,} answers in {res.seconds:.2f} s = {res.rate:,.0f}/s; p50 {res.p50_ms:.3f} ms, "
          f"p99 {res.p99_ms:.3f} ms; {res.errors} errors, {res.lost} lost; server CPU {res.server_cpu:.2f} s "
          f"= {res.per_cpu_second:,.0f} per CPU-second; "
          f"others took {res.others_share:.0%} of the server's core", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
