"""What an attacker can make a node hold and how long it can stall it: the figures of README "Security".

Starts a node (from ``--repo``, this checkout by default, so the code before a change can be measured
side by side), pinned to core 0, and, from core 1, probes UDP resolution every 5 ms while it runs
each attack in turn. For each attack it reports the node's resident memory growth and the longest
time a UDP resolution waited (the event-loop stall the attack caused, beside the idle figure).

Attacks:
- ``anon-4mib``: anonymous CREATE_HANDLEs of 4 MiB (64 values of 64 KiB) over 4 TCP connections from
  one address, 16 of them; the challenges stay pending.
- ``anon-4mib-16addr``: the same from 16 loopback addresses, 4 each.
- ``anon-1mib-tiny``: anonymous CREATE_HANDLEs of 1 MiB of 60,000 tiny values (the costliest to
  decode), 8 of them, from one address.
- ``norights-put-secrets``: an enterprise admin with no rights on the handle PUTs 150 HS_SECKEY values.
- ``norights-tcp-secrets``: the same over the Handle protocol (challenge answered with its secret).
- ``norights-batch-secrets``: a batch of 100 items with a secret each, on another enterprise's prefix.
- ``norights-put-30mb``: a 30 MB PUT of [{},{},…] on another enterprise's handle.

    python -m loadtests.abuse [--repo DIR] [--only NAME ...]

Bounded: about a minute on the new code (longer on code that stalls); loopback only.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from protocol import bodies as b
from protocol.envelope import Op
from protocol.framing import TcpFramer
from protocol.message import Message, decode_message, encode
from protocol.values import HandleValue
from resolver.handleclient import HandleClient, SecretKey

from .procs import can_pin, free_port, pinned

ADMIN_SECRET, SECRET5, SECRET6 = "node-admin-secret", "acme-secret-5", "other-secret-6"


def basic(identity: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{quote(identity, safe='/')}:{secret}".encode()).decode()


OWNER5 = basic("300:0.NA/88.101.5", SECRET5)
OTHER6 = basic("300:0.NA/88.101.6", SECRET6)


class Node:
    def __init__(self, repo: Path, workdir: Path):
        self.repo, self.data = repo, workdir / "data"
        self.port, self.hport = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "resolver.cli", *args], cwd=self.repo, check=True,
                       capture_output=True, timeout=120)

    def start(self) -> None:
        self.cli("init", "--data", str(self.data), "--prefix", "88.101", "--admin-secret", ADMIN_SECRET)
        for p, s in (("88.101.5", SECRET5), ("88.101.6", SECRET6)):
            self.cli("prefix", "add", p, "--secret", s, "--data", str(self.data))
        cmd = [sys.executable, "-m", "resolver.cli", "serve", "--data", str(self.data), "--http",
               f"127.0.0.1:{self.port}", "--handle", f"127.0.0.1:{self.hport}"]
        self.proc = subprocess.Popen(pinned(cmd, 0 if can_pin(0, 1) else None), cwd=self.repo,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(self.url + "/healthz", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        http(self, "PUT", "/api/handles/88.101.5/ITEM", {"values": [{"index": 1, "type": "URL", "data": "x"}]},
             OWNER5)

    def rss(self) -> int:
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def http(node: Node, method: str, path: str, body: object, auth: str | None, timeout: float = 120) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(node.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **({"Authorization": auth} if auth else {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0  # closed after its answer, before the whole body was sent


class Prober(threading.Thread):
    """Resolves 88.101.5/ITEM over UDP every 5 ms; the longest wait is the longest stall."""

    def __init__(self, node: Node):
        super().__init__(daemon=True)
        self.node, self.stop_at, self.worst, self.lost = node, False, 0.0, 0
        c = HandleClient("127.0.0.1", node.hport)
        self.msg = c.message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/ITEM"))

    def run(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(30)
            data = encode(self.msg)
            while not self.stop_at:
                t0 = time.perf_counter()
                s.sendto(data, ("127.0.0.1", self.node.hport))
                try:
                    s.recv(65535)
                except TimeoutError:
                    self.lost += 1
                self.worst = max(self.worst, time.perf_counter() - t0)
                time.sleep(0.005)


def tcp_send_all(source: str, port: int, messages: list[bytes], answer_with: SecretKey | None = None) -> list[int]:
    """Send each message on one connection from ``source``; the response codes (challenges answered
    with ``answer_with`` if given)."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=120, source_address=(source, 0)) as s:
        for m in messages:
            ans = _exchange(s, m)
            if ans.rc == 402 and answer_with is not None:
                req = decode_message(m)
                c = HandleClient("127.0.0.1", port)
                ans = _exchange(s, encode(c.challenge_answer(req, ans, answer_with)))
            out.append(ans.rc)
    return out


def _exchange(s: socket.socket, data: bytes) -> Message:
    s.sendall(data)
    framer = TcpFramer(8 << 20)
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            raise ConnectionError("closed")
        frames = framer.feed(chunk)
        if frames:
            return decode_message(frames[0])


def create(handle: str, values: tuple[HandleValue, ...]) -> bytes:
    c = HandleClient("127.0.0.1", 0)
    return encode(c.message(Op.CREATE_HANDLE, b.CreateHandleRequest(handle, values)))


def attacks(node: Node) -> dict:
    big = create("88.101.5/BIG", tuple(HandleValue(i, "T", b"x" * 65_000) for i in range(2, 66)))
    tiny = create("88.101.5/TINY", tuple(HandleValue(i, "T", b"") for i in range(2, 60_002)))
    secrets = tuple(HandleValue(300 + i, "HS_SECKEY", f"guess-{i}".encode()) for i in range(150))
    put_secrets = {"values": [{"index": 300 + i, "type": "HS_SECKEY", "data": f"guess-{i}"} for i in range(150)]}
    batch = {"operations": [{"op": "create", "handle": f"88.101.5/M{i}",
                             "values": [{"index": 300, "type": "HS_SECKEY", "data": f"s{i}"}]} for i in range(100)]}
    other_key = SecretKey(300, "0.NA/88.101.6", SECRET6.encode())

    def parallel(jobs: list) -> None:
        ts = [threading.Thread(target=j) for j in jobs]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    return {
        "anon-4mib": lambda: parallel([lambda: tcp_send_all("127.0.0.1", node.hport, [big] * 4) for _ in range(4)]),
        "anon-4mib-16addr": lambda: parallel([lambda a=a: tcp_send_all(f"127.0.0.{a}", node.hport, [big] * 4)
                                              for a in range(2, 18)]),
        "anon-1mib-tiny": lambda: tcp_send_all("127.0.0.1", node.hport, [tiny] * 8),
        "norights-put-secrets": lambda: http(node, "PUT", "/api/handles/88.101.5/ITEM", put_secrets, OTHER6),
        "norights-tcp-secrets": lambda: tcp_send_all("127.0.0.1", node.hport, [create("88.101.5/TAKEN", secrets)],
                                                     other_key),
        "norights-batch-secrets": lambda: http(node, "POST", "/api/batch", batch, OTHER6),
        "norights-put-30mb": lambda: http(node, "PUT", "/api/handles/88.101.5/ITEM", b"[" + b"{}," * 10_000_000
                                          + b"{}]", OTHER6),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    if can_pin(0, 1):
        os.sched_setaffinity(0, {1})  # the attacker and the prober on core 1, the node alone on core 0
    with tempfile.TemporaryDirectory() as tmp:
        node = Node(args.repo.resolve(), Path(tmp))
        node.start()
        try:
            probe = Prober(node)
            probe.start()
            time.sleep(1.0)
            print(f"idle: longest UDP resolution {probe.worst * 1000:.1f} ms", flush=True)
            for name, attack in attacks(node).items():
                if args.only and name not in args.only:
                    continue
                before = node.rss()
                probe.worst = 0.0
                t0 = time.perf_counter()
                attack()
                took = time.perf_counter() - t0
                time.sleep(0.3)
                print(f"{name}: {took:.2f} s, node RSS {before >> 20} -> {node.rss() >> 20} MiB "
                      f"(+{(node.rss() - before) >> 20}), longest UDP resolution {probe.worst * 1000:.0f} ms",
                      flush=True)
            probe.stop_at = True
        finally:
            node.stop()


if __name__ == "__main__":
    main()
