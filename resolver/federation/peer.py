"""Asking other Handle servers, from inside the event loop: resolution over UDP (an answer split over
several datagrams is put back together; TCP when the answer comes back truncated, is refused over
UDP with RC 2, or UDP is not offered) and administration over TCP with challenge-response.

All UDP questions share one socket; answers are matched to questions by request id and source
address, so thousands of outstanding look-ups cost one file descriptor.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket

from protocol import bodies as b
from protocol import datagrams
from protocol.codes import RC, HandleError
from protocol.envelope import PO, Op
from protocol.framing import TcpFramer
from protocol.message import Message, MessageError, decode_message, encode

from ..handleclient import Identity, challenge_body

VERSION = (2, 10)
UDP_RETRIES = 2  # sends per UDP question: a lost datagram costs half the time-out, not all of it


class PeerError(HandleError):
    """A peer that did not answer, or answered nonsense: worth trying another."""

    def __init__(self, message: str):
        super().__init__(RC.ERROR, message, status=502)


def message(opcode: int, body: b.Body, opflags: int = 0, session_id: int = 0) -> Message:
    return Message(opcode, body, opflags=opflags, major=VERSION[0], minor=VERSION[1], session_id=session_id,
                   request_id=int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiting: dict[tuple[int, str, int], asyncio.Future] = {}
        self.slices: dict[tuple[int, str, int], list[bytes]] = {}  # of answers split over datagrams
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if len(data) < 20:
            return
        k = (int.from_bytes(data[8:12], "big"), addr[0], addr[1])
        fut = self.waiting.get(k)
        if fut is None or fut.done():
            return  # only answers we wait for are read (and kept, for a split one)
        whole = int.from_bytes(data[16:20], "big")
        if whole != len(data) - 20:
            # One slice of an answer in several datagrams (RFC 3651 §2.3): wait for the others.
            parts = self.slices.setdefault(k, [])
            parts.append(data)
            if sum(len(p) - 20 for p in parts) < whole or len(parts) > datagrams.count(whole + 20):
                return
            try:
                data = datagrams.reassemble(self.slices.pop(k))
            except HandleError:
                return
        try:
            ans = decode_message(data)
        except MessageError:
            return
        fut.set_result(ans)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable and the like: the wait times out
        pass


class Peers:
    """The node's client side of the Handle protocol."""

    def __init__(self, timeout: float = 2.0):
        self.timeout = timeout
        self._udp: dict[int, _Udp] = {}

    async def _endpoint(self, family: int) -> _Udp:
        proto = self._udp.get(family)
        if proto is None or proto.transport is None or proto.transport.is_closing():
            loop = asyncio.get_running_loop()
            local = ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)
            _, proto = await loop.create_datagram_endpoint(_Udp, local_addr=local, family=family)
            self._udp[family] = proto
        return proto

    def close(self) -> None:
        for proto in self._udp.values():
            if proto.transport is not None:
                proto.transport.close()
        self._udp.clear()

    # --- resolution -------------------------------------------------------------------------------
    async def resolve(self, host: str, port: int, handle: str, *, udp: bool = True, types: tuple[str, ...] = (),
                      indexes: tuple[int, ...] = ()) -> Message:
        """Ask ``host`` for the public values of ``handle``: never recursively (we follow referrals
        ourselves, so two misconfigured servers cannot bounce a question between them for ever)."""
        msg = message(Op.RESOLUTION, b.ResolutionRequest(handle, indexes, types), PO)
        if udp:
            ans = await self._udp_exchange(host, port, msg)
            # RC 2 over UDP: an idnode peer asks for TCP for a large answer to an unproven address.
            if not ans.truncated and ans.rc != RC.ERROR:
                return ans
        return await self.tcp(host, port, msg)

    async def _udp_exchange(self, host: str, port: int, msg: Message) -> Message:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        proto = await self._endpoint(family)
        fut = asyncio.get_running_loop().create_future()
        k = (msg.request_id, _canonical(host), port)
        proto.waiting[k] = fut
        data = encode(msg)
        try:
            for _ in range(UDP_RETRIES):
                proto.transport.sendto(data, (host, port))
                try:
                    return await asyncio.wait_for(asyncio.shield(fut), self.timeout / UDP_RETRIES)
                except TimeoutError:
                    continue
            raise PeerError(f"{host}:{port} did not answer over UDP within {self.timeout:g} s")
        finally:
            proto.waiting.pop(k, None)
            proto.slices.pop(k, None)
            fut.cancel()

    # --- TCP, with challenge-response ---------------------------------------------------------------
    async def tcp(self, host: str, port: int, msg: Message, identity: Identity | None = None) -> Message:
        try:
            return await asyncio.wait_for(self._tcp(host, port, msg, identity), self.timeout * 2)
        except TimeoutError:
            raise PeerError(f"{host}:{port} did not answer over TCP within {self.timeout * 2:g} s") from None
        except OSError as e:
            raise PeerError(f"{host}:{port}: {e.strerror or e}") from None

    async def _tcp(self, host: str, port: int, msg: Message, identity: Identity | None) -> Message:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            framer = TcpFramer()
            ans = await _exchange(reader, writer, framer, msg)
            if ans.rc == RC.AUTHENTICATION_NEEDED and identity is not None:
                reply = message(Op.CHALLENGE_RESPONSE, challenge_body(msg, ans, identity),
                                session_id=ans.session_id)
                ans = await _exchange(reader, writer, framer, reply)
            return ans
        finally:
            writer.close()

    async def call(self, host: str, port: int, opcode: int, body: b.Body, identity: Identity,
                   opflags: int = 0) -> Message:
        """An administrative request, authenticated as ``identity``."""
        return await self.tcp(host, port, message(opcode, body, opflags), identity)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, framer: TcpFramer,
                    msg: Message) -> Message:
    writer.write(encode(msg))
    await writer.drain()
    while True:
        data = await reader.read(65536)
        if not data:
            raise PeerError("the peer closed the connection without answering")
        for frame in framer.feed(data):
            try:
                ans = decode_message(frame)
            except MessageError as e:
                raise PeerError(f"the peer's answer could not be read: {e.message}") from None
            if ans.request_id == msg.request_id:
                return ans


@functools.lru_cache(maxsize=1024)
def _canonical(host: str) -> str:
    """The address as the socket reports a datagram's source."""
    try:
        return socket.getaddrinfo(host, None, proto=socket.IPPROTO_UDP)[0][4][0]
    except OSError:
        return host
