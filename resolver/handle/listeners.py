"""UDP and TCP listeners for the Handle protocol: they move bytes and nothing else.

UDP: one datagram, one message; an answer longer than 512 bytes goes out in several datagrams, as
many as udpsend.py allows (amplification). TCP: messages cut by a bounded ``TcpFramer``; a connection that completes no message
for ``idle_timeout`` seconds is closed (trickling bytes does not keep it open); reading pauses while
the peer does not read our answers or while too many of its requests are being worked on.

Each message is first admitted by the service's per-address rate (resolver/limits.py; RC 3 over it),
and each TCP connection by its per-address connection count, shared with HTTP.

When the compiled fast path is built and on (resolver/handle/compiled.py), the UDP socket is read in
batches and the TCP reads pass through it first; what it does not answer reaches these listeners as
before.
"""

from __future__ import annotations

import asyncio
import logging
import time

from protocol import fastpath as fp
from protocol.codes import RC
from protocol.datagrams import UDP_PACKET
from protocol.framing import TcpFramer
from protocol.message import Message, MessageError, decode_message, encode, error_answer
from protocol.wire import WireError

from .. import metrics
from ..audit_trail import Caller
from ..metrics import PROTOCOL_TCP, PROTOCOL_UDP
from . import compiled
from .dispatch import ADMIN_OPS, Dispatcher
from .login import Login
from .udpsend import ProvenAddresses, RequestSlices, datagrams_for

log = logging.getLogger("idnode.handle")

MAX_UDP_INFLIGHT = 1024  # challenge answers being checked at once over UDP; more are dropped
MAX_TCP_INFLIGHT = 16  # per connection: past this, stop reading from it until some finish
MAX_CONNECTIONS = 2048
WRITE_HIGH = 1 << 20
OPERATIONS = {1: "resolve", 2: "site_info", 100: "create", 101: "delete", 102: "add_value",
              103: "remove_value", 104: "modify_value", 105: "list", 200: "challenge"}
_perf = time.perf_counter
_monotonic = time.monotonic  # the event loop's clock (loop.time())
_wall = time.time
_metric_keys: dict[tuple[str, int, int], tuple[str, str, int]] = {}  # built once per protocol, opcode, rc


def busy(data: bytes, address: str | None, limits, max_message: int) -> fp.Answer | None:
    """RC 3 for a request over its address's rate (None for bytes that are not a request: silence)."""
    try:
        msg = fp.resolution_message(data) or decode_message(data, max_message, ADMIN_OPS)  # no body parsed for a refusal
    except MessageError:
        return None
    if not msg.is_request:
        return None
    refusal = limits.address_refusal(address)
    return fp.Answer(msg.opcode, RC.SERVER_TOO_BUSY, encode(error_answer(msg, RC.SERVER_TOO_BUSY, refusal.message)))


def count(protocol: str, answer: fp.Answer, seconds: float) -> None:
    """Count one answer by protocol, operation and Handle response code (as the dispatcher gave them)."""
    k = (protocol, answer.opcode, answer.rc)
    key = _metric_keys.get(k)
    if key is None:
        if len(_metric_keys) >= 4096:  # response codes are a short list, but bound it all the same
            _metric_keys.clear()
        key = _metric_keys[k] = (protocol, OPERATIONS.get(answer.opcode, "other"), int(answer.rc))
    metrics.record(key, seconds)


class UdpServer(asyncio.DatagramProtocol):
    def __init__(self, dispatcher: Dispatcher, proven: ProvenAddresses | None = None):
        self.dispatcher = dispatcher
        self.proven = proven if proven is not None else ProvenAddresses()
        self.slices = RequestSlices()
        self.limits = dispatcher.service.limits  # changed in place on reload, never replaced
        self.transport: asyncio.DatagramTransport | None = None
        self.inflight: set[asyncio.Task] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        t0 = _perf()
        if fp.is_slice(data):
            # One slice of a request split over several datagrams: wait for the others.
            data = self.slices.add(data, addr)
            if data is None:
                return
        limits = self.limits
        if not limits.per_address.admit(addr[0], t0):
            out = busy(data, addr[0], limits, self.dispatcher.max_message)
            if out is not None:
                self._send(out, addr, data)
                count(PROTOCOL_UDP, out, _perf() - t0)
            return
        try:
            # A challenge this opens may be answered from this address only.
            out = self.dispatcher.quick(data, udp=True, owner=("udp", addr[0]), peer=addr[0], t0=t0, now=_wall())
        except Exception:  # never let one datagram stop the listener
            log.exception("UDP datagram from %s", addr)
            return
        if out is None:
            return
        if isinstance(out, Message):
            if len(self.inflight) >= MAX_UDP_INFLIGHT:
                return
            task = asyncio.get_running_loop().create_task(self._slow(out, addr, t0, data))
            self.inflight.add(task)
            task.add_done_callback(self.inflight.discard)
            return
        self._send(out, addr, data)
        count(PROTOCOL_UDP, out, _perf() - t0)

    async def _slow(self, msg: Message, addr: tuple, t0: float, data: bytes) -> None:
        out = await self.dispatcher.slow(msg, ("udp", addr[0]), now=_wall(), caller=Caller(PROTOCOL_UDP, addr[0]))
        self._send(out, addr, data)
        count(PROTOCOL_UDP, out, _perf() - t0)

    def _send(self, answer: fp.Answer, addr: tuple, request: bytes) -> None:
        """The answer, in several datagrams if it must (udpsend.py bounds how many)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        sid = fp.session_id(request)
        if sid and self.dispatcher.sessions.table.get(sid, addr[0]) is not None:
            self.proven.add(addr[0])  # it used a session id this node sent to that address
        data = answer.data
        if len(data) <= UDP_PACKET:  # the common case: one datagram
            transport.sendto(data, addr)
            return
        for part in datagrams_for(data, request, addr[0] in self.proven, self.dispatcher.max_message):
            transport.sendto(part, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error about a client that went away: nothing to do


class TcpConnection(asyncio.Protocol):
    def __init__(self, server: TcpServer):
        self.server = server
        self.dispatcher = server.dispatcher
        self.framer = TcpFramer(server.max_message)
        self.transport: asyncio.Transport | None = None
        self.inflight: set[asyncio.Task] = set()
        self.idle: asyncio.TimerHandle | None = None
        self.active = 0.0  # when the last whole message came (the event loop's clock)
        self.reading_paused = False
        self.writing_paused = False
        self.peer: str | None = None
        self.login = Login()  # OC 2001: the identity that logged in on this connection, if any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else None
        if len(self.server.connections) >= MAX_CONNECTIONS or not self.server.limits.connect(self.peer):
            transport.close()
            return
        self.server.connections.add(self)
        self.server.proven.add(self.peer)  # a TCP handshake shows the address is the client's
        self.transport.set_write_buffer_limits(high=WRITE_HIGH)
        loop = asyncio.get_running_loop()
        self.active = loop.time()
        self.idle = loop.call_later(self.server.idle_timeout, self._idle)

    def _touch(self) -> None:
        # A time kept, not a timer moved: the timer, when it fires, waits again for what is left.
        self.active = _monotonic()

    def _idle(self) -> None:
        if self.transport is None:
            return
        loop = asyncio.get_running_loop()
        left = self.active + self.server.idle_timeout - loop.time()
        if left > 0:
            self.idle = loop.call_later(left, self._idle)
        else:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        fast = self.server.fast
        head = b""
        if fast is not None and self.login.identity is None and self.peer is not None and not self.framer.buffered:
            head, used = fast.answer(data, self.peer)
            if used:
                if used == len(data):  # all of it answered there (the common case under load)
                    self.active = _monotonic()
                    self.transport.write(head)
                    if self.reading_paused or self.writing_paused:
                        self._flow()
                    return
                data = data[used:]
        try:
            frames = self.framer.feed(data) if data else []
        except WireError:
            # A length over the limit: the stream cannot be resynchronised.
            self.transport.close()
            return
        if frames or head:
            self._touch()  # only whole messages count as activity: a trickle of bytes times out
        limits = self.server.limits
        answers: list[bytes] = [head] if head else []  # the answers to this read, written at once (one send for a pipeline)
        for frame in frames:
            t0 = _perf()
            if not limits.per_address.admit(self.peer, t0):
                out = busy(frame, self.peer, limits, self.server.max_message)
                if out is not None:
                    answers.append(out.data)
                    count(PROTOCOL_TCP, out, _perf() - t0)
                continue
            try:
                # A challenge this opens may be answered on this connection only.
                out = self.dispatcher.quick(frame, owner=self, peer=self.peer, login=self.login, t0=t0, now=_wall())
            except Exception:
                log.exception("TCP message")
                continue
            if isinstance(out, Message):
                task = asyncio.get_running_loop().create_task(self._slow(out, t0))
                self.inflight.add(task)
                task.add_done_callback(self._done)
            elif out is not None:
                answers.append(out.data)
                count(PROTOCOL_TCP, out, _perf() - t0)
        if answers:
            self.transport.write(answers[0] if len(answers) == 1 else b"".join(answers))
        self._flow()

    async def _slow(self, msg: Message, t0: float) -> None:
        out = await self.dispatcher.slow(msg, self, login=self.login, now=_wall(), caller=Caller(PROTOCOL_TCP, self.peer))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(out.data)
        count(PROTOCOL_TCP, out, _perf() - t0)

    def _done(self, task: asyncio.Task) -> None:
        self.inflight.discard(task)
        self._flow()

    def _flow(self) -> None:
        """Read while the peer reads our answers and few of its requests are pending."""
        t = self.transport
        if t is None or t.is_closing():
            return
        stop = self.writing_paused or len(self.inflight) >= MAX_TCP_INFLIGHT
        if stop and not self.reading_paused:
            t.pause_reading()
            self.reading_paused = True
        elif not stop and self.reading_paused:
            t.resume_reading()
            self.reading_paused = False

    def pause_writing(self) -> None:
        self.writing_paused = True
        self._flow()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._flow()

    def eof_received(self) -> bool:
        # The client is done sending; keep the connection until its pending answers are written.
        if self.inflight:
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.idle is not None:
            self.idle.cancel()
        self.dispatcher.challenges.drop_owner(self, self.peer)  # nobody else can answer them
        if self in self.server.connections:
            self.server.connections.discard(self)
            self.server.limits.disconnect(self.peer)
        self.transport = None


class TcpServer:
    def __init__(self, dispatcher: Dispatcher, *, idle_timeout: float | None = None, max_message: int = 4 << 20):
        self.dispatcher = dispatcher
        self.limits = dispatcher.service.limits
        self.idle_timeout = idle_timeout if idle_timeout is not None else self.limits.handle_idle_timeout
        self.max_message = max_message
        self.connections: set[TcpConnection] = set()
        self.proven = ProvenAddresses()  # shared with the UDP listener of the same address
        self.fast = compiled.TcpFast(dispatcher) if compiled.enabled() else None


class HandleListeners:
    """The UDP and TCP listeners of one address, started and stopped together."""

    def __init__(self, dispatcher: Dispatcher, host: str, port: int, *, idle_timeout: float | None = None,
                 reuse_port: bool = False):
        self.dispatcher = dispatcher
        self.reuse_port = reuse_port or None  # SO_REUSEPORT: workers share the port
        self.host, self.port = host, port
        self.tcp = TcpServer(dispatcher, idle_timeout=idle_timeout, max_message=dispatcher.max_message)
        self.udp_transport: asyncio.DatagramTransport | None = None
        self.udp_batched: compiled.BatchedUdp | None = None
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: TcpConnection(self.tcp), self.host, self.port, backlog=2048,
                                               reuse_port=self.reuse_port)
        log.info("handle://%s:%s: compiled fast path %s", self.host, self.port, compiled.describe())
        if compiled.enabled():
            sock = compiled.udp_socket(self.host, self.port, bool(self.reuse_port))
            self.udp_batched = compiled.BatchedUdp(UdpServer(self.dispatcher, self.tcp.proven), sock)
            loop.add_reader(sock.fileno(), self.udp_batched.readable)
            return
        self.udp_transport, _ = await loop.create_datagram_endpoint(lambda: UdpServer(self.dispatcher, self.tcp.proven),
                                                                    local_addr=(self.host, self.port),
                                                                    reuse_port=self.reuse_port)

    @property
    def name(self) -> str:
        return f"handle://{self.host}:{self.port} (TCP, UDP)"

    async def close(self) -> None:
        if self.udp_transport is not None:
            self.udp_transport.close()
        if self.udp_batched is not None:
            asyncio.get_running_loop().remove_reader(self.udp_batched.fd)
            self.udp_batched.sock.close()
        if self.server is not None:
            self.server.close()
            for conn in list(self.tcp.connections):
                if conn.transport is not None:
                    conn.transport.close()
            await self.server.wait_closed()
