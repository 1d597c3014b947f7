"""Load generators for tests/test_overload.py: many clients, each from its own loopback address
(127.0.0.2, 127.0.0.3 …), sending as fast as they are allowed and counting what comes back.

- ``HttpFlood``: keep-alive connections that pipeline the same GET in chunks, paced to an offered
  rate, reading answers as they come and counting their status lines.
- ``UdpFlood``: sockets that send the same Handle resolution request, paced, open loop (a datagram
  the node has no time for is dropped by the kernel, as on a real network), counting response codes.

Each runs in threads with non-blocking sockets: writes of prebuilt bytes and ``bytes.count`` over
what is read, so one Python process offers several times what one node core can answer.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

STATUS = {code: f"HTTP/1.1 {code} ".encode() for code in (200, 404, 429, 500, 503)}
_RC = struct.Struct(">I")


@dataclass
class Tally:
    offered: int = 0  # requests the pacing wanted sent
    sent: int = 0  # requests written (TCP: accepted by the kernel; UDP: datagrams sent)
    answers: Counter = field(default_factory=Counter)  # HTTP status or Handle RC → count
    errors: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, offered: int, sent: int, answers: Counter, errors: list) -> None:
        with self.lock:
            self.offered += offered
            self.sent += sent
            self.answers.update(answers)
            self.errors += errors

    @property
    def answered(self) -> int:
        return sum(self.answers.values())


def sources(n: int, first: int = 2) -> list[str]:
    return [f"127.0.0.{first + i}" for i in range(n)]


class HttpFlood:
    def __init__(self, port: int, path: str, addresses: list[str], conns_per_address: int, rate: float,
                 chunk: int = 32):
        self.port, self.addresses, self.conns = port, addresses, conns_per_address
        self.request = f"GET {path} HTTP/1.1\r\nHost: idnode\r\n\r\n".encode()
        self.rate = rate  # offered requests a second over all connections
        self.chunk = chunk
        self.tally = Tally()

    def run(self, seconds: float) -> Tally:
        threads = [threading.Thread(target=self._connection, args=(a, seconds), daemon=True)
                   for a in self.addresses for _ in range(self.conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 10)
        return self.tally

    def _connection(self, address: str, seconds: float) -> None:
        per_conn = self.rate / (len(self.addresses) * self.conns)
        answers: Counter = Counter()
        errors: list = []
        offered = sent = 0
        tail = b""
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5, source_address=(address, 0))
        except OSError as e:
            self.tally.add(0, 0, answers, [repr(e)])
            return
        s.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        pending = memoryview(b"")
        start = time.monotonic()
        deadline = start + seconds
        try:
            while (now := time.monotonic()) < deadline:
                due = int((now - start) * per_conn)
                for _key, events in sel.select(timeout=0.005):
                    if events & selectors.EVENT_READ:
                        data = s.recv(1 << 16)
                        if not data:
                            raise ConnectionError("closed by the node")
                        buf = tail + data
                        for code, pat in STATUS.items():
                            answers[code] += buf.count(pat)
                        tail = buf[-15:]
                    if events & selectors.EVENT_WRITE:
                        if not pending and offered < due:
                            n = min(self.chunk, due - offered)
                            offered += n
                            pending = memoryview(self.request * n)
                        if pending:
                            try:
                                k = s.send(pending)
                            except BlockingIOError:
                                k = 0
                            pending = pending[k:]
                            if not pending:
                                sent += n
            offered = max(offered, int(seconds * per_conn))
        except OSError as e:
            errors.append(repr(e))
        finally:
            sel.close()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset: drop what is queued
            s.close()
            self.tally.add(offered, sent, answers, errors)


class UdpFlood:
    """Datagrams from several source addresses, in one thread (a tight loop of sends and reads).

    ``rate``: offered datagrams a second in all, open loop. ``window`` instead keeps that many
    requests in flight and sends one more per answer: the node's capacity, with nothing lost."""

    def __init__(self, port: int, datagram: bytes, addresses: list[str], rate: float = 0.0, window: int = 0):
        self.port, self.datagram, self.addresses = port, datagram, addresses
        self.rate, self.window = rate, window
        self.tally = Tally()

    def run(self, seconds: float) -> Tally:
        socks = []
        for a in self.addresses:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((a, 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.connect(("127.0.0.1", self.port))  # send() is cheaper than sendto()
            s.setblocking(False)
            socks.append(s)
        answers: Counter = Counter()
        offered = sent = 0
        dgram = self.datagram
        sends = [s.send for s in socks]
        try:
            start = time.monotonic()
            end = start + seconds
            if self.window:
                for i in range(self.window):
                    sends[i % len(sends)](dgram)
                offered = sent = self.window
            while (now := time.monotonic()) < end + 0.2:  # a moment more to read late answers
                if not self.window and now < end:
                    due = int((now - start) * self.rate)
                    n = due - offered
                    for k, send in enumerate(sends):  # the due datagrams, spread over the sources
                        for _ in range(n // len(sends) + (k < n % len(sends))):
                            try:
                                send(dgram)
                                sent += 1
                            except (BlockingIOError, ConnectionRefusedError):
                                pass
                    offered = max(offered, due)
                for s in socks:
                    while True:
                        try:
                            data = s.recv(65535)
                        except (BlockingIOError, ConnectionRefusedError):
                            break
                        if len(data) >= 28:
                            answers[_RC.unpack_from(data, 24)[0]] += 1
                        if self.window and now < end:
                            s.send(dgram)
                            offered += 1
                            sent += 1
                if not self.window:
                    time.sleep(0.0002)
        finally:
            for s in socks:
                s.close()
        if not self.window:
            offered = int(seconds * self.rate)  # what the schedule asked for; ``sent`` is what went out
        self.tally.add(offered, sent, answers, [])
        return self.tally
