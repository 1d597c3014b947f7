"""A message too long for one UDP datagram, sent in several (RFC 3651 §2.3), as Handle.Net does it.

Each datagram is the message's envelope followed by the next at most 492 bytes (512 minus the
envelope) of what follows the envelope. Every envelope carries the same request id and the length of
the whole message; the sequence number says which slice it holds, so the receiver can put the
slices in place in any order (Handle.Net's client copies slice ``n`` to offset ``n × 492``). The
9.3.1 server sets the truncated flag in the envelopes of such a message (``02 0b 22 0b``: flag 0x20
with the suggested version), and its client pays no attention to it.
"""

from __future__ import annotations

import struct

from .envelope import ENV_TRUNCATED, ENVELOPE_SIZE
from .wire import WireError

UDP_PACKET = 512
SLICE = UDP_PACKET - ENVELOPE_SIZE  # 492: what Handle.Net's client assumes
_ENV = struct.Struct(">BBBBIIII")


def count(message_length: int) -> int:
    """How many datagrams a message of ``message_length`` bytes (envelope included) takes."""
    body = max(0, message_length - ENVELOPE_SIZE)
    return max(1, -(-body // SLICE))


def split(message: bytes) -> list[bytes]:
    """The datagrams of ``message`` (envelope, then the rest): itself when it fits in one."""
    if len(message) <= UDP_PACKET:
        return [message]
    major, minor, b2, b3, sid, rid, _, length = _ENV.unpack_from(message)
    rest = memoryview(message)[ENVELOPE_SIZE:]
    out = []
    for seq, start in enumerate(range(0, len(rest), SLICE)):
        env = _ENV.pack(major, minor, b2 | ENV_TRUNCATED, b3, sid, rid, seq, length)
        out.append(env + bytes(rest[start:start + SLICE]))
    return out


def reassemble(datagrams: list[bytes]) -> bytes:
    """The message that ``datagrams`` (in any order) carry, envelope flags as in the first slice but
    without the truncated flag; raises WireError when slices are missing, repeated or inconsistent."""
    if not datagrams:
        raise WireError("no datagrams")
    head = _ENV.unpack_from(datagrams[0])
    length, rid = head[7], head[5]
    slices: dict[int, bytes] = {}
    for d in datagrams:
        env = _ENV.unpack_from(d)
        if env[5] != rid or env[7] != length:
            raise WireError("datagrams of different messages")
        if env[6] in slices:
            raise WireError(f"slice {env[6]} twice")
        slices[env[6]] = d[ENVELOPE_SIZE:]
    body = b"".join(slices.get(i, b"") for i in range(len(slices)))
    if len(body) != length or set(slices) != set(range(len(slices))):
        raise WireError(f"slices hold {len(body)} of {length} bytes")
    major, minor, b2, b3, sid = head[:5]
    return _ENV.pack(major, minor, b2 & ~ENV_TRUNCATED, b3, sid, rid, 0, length) + body
