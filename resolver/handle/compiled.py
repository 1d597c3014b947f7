"""The compiled fast path (resolver/handle/_compiled.pyx), when it is built and not turned off.

``IDNODE_COMPILED=off`` (or the extension not built: ``make`` builds it) leaves every request to the
Python path, the reference: resolver/handle/fastpath.py and the listeners. When it is on, the UDP
listener reads datagrams in batches (recvmmsg) and the compiled code answers, in one sendmmsg, those
the Python path would answer from a kept answer (the record read in one LMDB read transaction per
batch and compared, as the Python path does per request); every other datagram goes to the Python
listener as it arrived. Over TCP it answers such messages at the
start of a read (a read answered whole never reaches the framer). What it answered is counted per batch into the same counters and metrics, as the
Python path counts each answer (``Counting.flush``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import time

import lmdb

from protocol.datagrams import UDP_PACKET
from protocol.envelope import CT, ENC, KA, PO, RD
from protocol.handles import MAX_HANDLE_BYTES, MAX_PREFIX_SEGMENTS
from protocol.message import ANSWER_FLAGS, OUR_VERSION

from .. import metrics
from ..metrics import PROTOCOL_TCP, PROTOCOL_UDP
from ..quotas import REFRESH

try:
    from . import _compiled
except ImportError:  # not built (a checkout without ``make``): the Python path answers everything
    _compiled = None

log = logging.getLogger("idnode.handle")
SLOW_FLAGS = CT | RD | ENC  # as resolver/handle/fastpath.py: these take the full path
_perf = time.perf_counter
_wall = time.time
_SCOPE = struct.Struct("=I")
_FAMILY = struct.Struct("=H")  # sa_family: host order
MAX_ADDRESSES = 4096


def enabled() -> bool:
    """Is the compiled path built, and not turned off by ``IDNODE_COMPILED=off``?"""
    return _compiled is not None and not _off()


def _off() -> bool:
    return os.environ.get("IDNODE_COMPILED", "on").strip().lower() in ("off", "0", "no", "false")


def describe() -> str:
    """For the log at start: which path answers."""
    if _compiled is None:
        return "off (not built: make builds it), the Python path answers"
    return "off (IDNODE_COMPILED=off), the Python path answers" if _off() else "on"


class Counting:
    """One listener's compiled table, its per-batch start, and the counting of what it answered."""

    def __init__(self, dispatcher, protocol: str):
        self.dispatcher = dispatcher
        self.service = dispatcher.service
        self.fast = dispatcher.fast
        self.protocol = protocol
        self.table = _compiled.Table(self.fast, slow_flags=SLOW_FLAGS,
                                     echo_flags=PO | KA, answer_flags=ANSWER_FLAGS, po_flag=PO,
                                     suggest=(OUR_VERSION[0] & 0x1F, OUR_VERSION[1]), max_handle=MAX_HANDLE_BYTES,
                                     packet=UDP_PACKET, max_segments=MAX_PREFIX_SEGMENTS)
        self._keys: dict[int, tuple[str, str, int]] = {}
        self.txn: lmdb.Transaction | None = None
        self.first: float | None = None  # when the first batch not yet counted began

    def begin(self) -> float:
        """Before a batch: its read transaction, the clocks, the limiter and the quotas as they are now.
        Returns the batch's start (perf_counter)."""
        t0 = _perf()
        store = self.service.store
        quotas = self.service.quotas
        if quotas.monotonic() - quotas.loaded >= REFRESH:
            quotas.refresh()
        try:
            self.txn = txn = store.env.begin(buffers=False)
        except lmdb.Error:  # a resized or closed environment: the Python path answers (and copes)
            self.txn = None
            self.table.begin(None, None, _wall(), t0, self.service.limits.per_address, quotas.limits)
            return t0
        svc = self.service
        # An unknown handle is the compiled path's only when nothing but this store has a say about it
        # (as resolver/handle/fastpath.py's ``_unknown`` decides; a remote cache is the Python path's).
        unknown = svc.deposits is None and svc.share is None and svc.role != "top" and svc.remote is None
        self.table.begin(txn.get, store.dbs["handles"], _wall(), t0, svc.limits.per_address, quotas.limits,
                         txn.id(), unknown)
        return t0

    def end(self, t0: float) -> None:
        """End the batch begun at ``t0``: its transaction; what it answered is counted once the event loop
        has run what is ready now (the batches of every connection read in this turn counted together)."""
        if self.txn is not None:
            self.txn.abort()
            self.txn = None
        self.table.end()
        if self.first is None and self.table.noted:
            self.first = t0
            asyncio.get_running_loop().call_soon(self.count)

    def count(self) -> None:
        """Count what was answered as the Python path counts each answer: the reports' counters (or the
        service's resolutions), the fast path's count, the metrics; each answer's time the time since the
        first uncounted batch began."""
        t0, self.first = self.first, None
        notes = self.table.flush()
        if not notes or t0 is None:
            return
        seconds = _perf() - t0
        svc = self.service
        counters = svc.counters
        total = 0
        for prefix, peer, rc, n, found in notes:
            if counters is not None:
                counters.resolved_many(prefix, found, peer, t0, n)
            elif found:  # (as the Python path: without the reports' counters, only what was found)
                svc.resolutions[prefix] = svc.resolutions.get(prefix, 0) + n
            key = self._keys.get(rc)
            if key is None:
                key = self._keys[rc] = (self.protocol, "resolve", int(rc))
            metrics.record_many(key, seconds, n)
            total += n
        hits = self.table.hits  # found answers by identifier (the top identifiers), after their prefixes'
        if hits:
            self.table.hits = {}
            if counters is not None:
                counters.identified(hits)
        self.fast.fast += total


def address(raw: bytes, cache: dict[bytes, tuple]) -> tuple:
    """The address tuple Python's socket module gives for a sockaddr (AF_INET or AF_INET6)."""
    addr = cache.get(raw)
    if addr is not None:
        return addr
    family = _FAMILY.unpack_from(raw)[0]
    port = int.from_bytes(raw[2:4], "big")
    if family == socket.AF_INET:
        addr = (socket.inet_ntop(socket.AF_INET, raw[4:8]), port)
    else:
        host = socket.inet_ntop(socket.AF_INET6, raw[8:24])
        scope = _SCOPE.unpack_from(raw, 24)[0]
        if scope:
            try:
                host += "%" + socket.if_indextoname(scope)
            except OSError:
                host += f"%{scope}"
        addr = (host, port, int.from_bytes(raw[4:8], "big"), scope)
    if len(cache) >= MAX_ADDRESSES:
        cache.clear()
    cache[raw] = addr
    return addr


class SocketSender:
    """What the Python UDP listener sends through when the socket is read here: the socket itself
    (non-blocking; an answer that finds the send buffer full is lost, as a datagram may be)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def sendto(self, data: bytes, addr: tuple) -> None:
        try:
            self.sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError, ConnectionError):
            pass

    def is_closing(self) -> bool:
        return self.sock.fileno() < 0

    def close(self) -> None:
        self.sock.close()


# Then back to the event loop, so that TCP, HTTP and timers get their turn: a few batches the compiled
# code answered, and no more than one with datagrams for the Python path (about what uvloop reads).
BATCHES_PER_WAKE = 4


class BatchedUdp:
    """Reads the UDP socket in batches: the compiled table answers what it can, ``server`` (the Python
    listener, resolver/handle/listeners.py) every other datagram, in the order they came."""

    def __init__(self, server, sock: socket.socket):
        self.server = server
        self.sock = sock
        self.fd = sock.fileno()
        self.counting = Counting(server.dispatcher, PROTOCOL_UDP)
        self._addresses: dict[bytes, tuple] = {}
        server.connection_made(SocketSender(sock))

    def readable(self) -> None:
        counting, table, server, fd = self.counting, self.counting.table, self.server, self.fd
        for _ in range(BATCHES_PER_WAKE):
            got = table.recv(fd)
            if not got:
                return
            t0 = counting.begin()  # after the read: the snapshot is at least as new as every request in it
            try:
                misses = table.udp(fd)
            except Exception:  # never let one batch stop the listener
                log.exception("compiled UDP fast path")
                return
            finally:
                counting.end(t0)
            if misses:
                for data, raw in misses:
                    server.datagram_received(data, address(raw, self._addresses))
                return
            if got < _compiled.BATCH_SIZE:
                return


def udp_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A bound, non-blocking UDP socket, as the event loop's datagram endpoint makes it."""
    family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class TcpFast:
    """The compiled answers at the start of a TCP read (one per listener; connections share it)."""

    def __init__(self, dispatcher):
        self.counting = Counting(dispatcher, PROTOCOL_TCP)

    def answer(self, data: bytes, peer: str) -> tuple[bytes, int]:
        """(answers, and how many bytes of ``data`` they answered), counted."""
        counting = self.counting
        t0 = counting.begin()
        try:
            return counting.table.tcp(data, peer)
        except Exception:  # never let the fast path stop a connection: the Python path answers all of it
            log.exception("compiled TCP fast path")
            return b"", 0
        finally:
            counting.end(t0)
