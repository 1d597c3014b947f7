"""Cutting a TCP stream into messages, and fitting an answer into one UDP datagram.

Over TCP, Handle messages follow one another: a 20-byte envelope whose last field is the length of
what follows. ``TcpFramer`` buffers at most one incomplete message and refuses a length over its
limit before reading it, so a peer cannot make it allocate more than ``max_message`` bytes.
"""

from __future__ import annotations

from .envelope import ENV_TRUNCATED, ENVELOPE_SIZE, HEADER_SIZE, RD, Envelope, Header
from .message import MAX_MESSAGE
from .wire import Reader, WireError, Writer

UDP_LIMIT = 512


class TcpFramer:
    """Feed it bytes as they arrive; it hands back each complete message (envelope included).

    After a WireError (a length over the limit) the stream cannot be resynchronised: the caller
    answers the error (``envelope`` holds what was read) and closes the connection.
    """

    def __init__(self, max_message: int = MAX_MESSAGE):
        self.max_message = max_message
        self._buf = bytearray()
        self.failed = False

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        if self.failed:
            raise WireError("stream already failed")
        self._buf += data
        out: list[bytes] = []
        while len(self._buf) >= ENVELOPE_SIZE:
            try:
                env = Envelope.read(Reader(self._buf, 0, ENVELOPE_SIZE), self.max_message)
            except WireError:
                self.failed = True
                raise
            total = ENVELOPE_SIZE + env.length
            if len(self._buf) < total:
                break
            out.append(bytes(self._buf[:total]))
            del self._buf[:total]
        return out

    def at_boundary(self) -> bool:
        """True when no partial message is pending (the peer may close here cleanly)."""
        return not self._buf


def truncate_for_udp(answer: bytes, limit: int = UDP_LIMIT) -> bytes:
    """``answer`` when it fits in ``limit`` bytes; else the same envelope and header with the TC flag,
    no body and no credential, telling the client to ask again over TCP."""
    if len(answer) <= limit:
        return answer
    r = Reader(answer)
    env = Envelope.read(r, 1 << 32)
    header = Header.read(r)
    w = Writer()
    cut = Envelope(env.major, env.minor, env.session_id, env.request_id, env.sequence,
                   HEADER_SIZE + 4, env.flags | ENV_TRUNCATED, env.suggest_major, env.suggest_minor)
    cut.write(w)
    Header(header.opcode, header.rc, header.opflags & ~RD, header.site_serial, header.recursion,
           header.expiration, 0).write(w)
    w.u32(0)
    return w.getvalue()
