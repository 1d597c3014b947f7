"""The hot message, read in one step: a plain resolution request (no index or type filter).

``decode_message`` reads field by field through a bounded Reader, which costs more than the rest
of a resolution together. Most requests a resolver sees are alike: a handle and nothing else. This
reads exactly those with two struct calls and hands back the same Message ``decode_message`` would;
anything else (filters, a credential, odd flags, any inconsistency) returns None and takes the
codec's path. tests/test_handle_units.py holds the two to agreeing on every input tried.
"""

from __future__ import annotations

import struct

from protocol.bodies import ResolutionRequest
from protocol.envelope import Op
from protocol.message import Message

_HEAD = struct.Struct(">BBBBIIIIIIIHBBIII")  # envelope, header, handle length
_TAIL = b"\0" * 8  # no index, no type
_BODY_EXTRA = 4 + 8  # handle length field, index count, type count
MAX_HANDLE = 255


def fast_resolution(data: bytes) -> Message | None:
    n = len(data)
    if n < 60 or n > 20 + 24 + _BODY_EXTRA + MAX_HANDLE + 4:
        return None
    (major, minor, b2, sminor, session, request, sequence, length, opcode, rc, opflags, serial, recursion,
     _, expiration, body_len, hlen) = _HEAD.unpack_from(data)
    if opcode != Op.RESOLUTION or rc or b2 & 0xE0 or hlen > MAX_HANDLE or body_len != hlen + _BODY_EXTRA:
        return None
    end = 48 + hlen
    # Nothing after the body, or an empty credential section; and the envelope must say so.
    if data[end:end + 8] != _TAIL or length != n - 20 or (n != end + 8 and data[end + 8:] != b"\0\0\0\0"):
        return None
    try:
        handle = data[48:end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return Message(opcode, ResolutionRequest(handle), 0, opflags, major, minor, session, request, sequence, serial,
                   recursion, expiration, None, None, 0, b2 & 0x1F, sminor, data[20:end + 8])
