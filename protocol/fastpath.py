"""The hot message read and answered from its fixed offsets: a plain resolution request, and the
answer framed around a body encoded beforehand.

``decode_message`` reads field by field through a bounded Reader and builds message objects, which
costs more than the rest of a resolution together. Most requests a resolver sees are alike: a
handle and nothing else. ``plain_resolution`` reads exactly those with one struct call and hands back
the few fields an answer needs, or None for anything else (filters, a credential, envelope flags, any
inconsistency), which then takes the codec's path. ``frame`` builds what ``Dispatcher._frame``
builds, for a body (and empty credential section) kept encoded. Sans-IO: the caller passes the time.
"""

from __future__ import annotations

import re
import struct
from typing import NamedTuple

from .bodies import ResolutionRequest
from .envelope import ENV_ENCRYPTED, ENV_TRUNCATED, ENVELOPE_SIZE, HEADER_SIZE, Op
from .handles import MAX_HANDLE_BYTES, MAX_PREFIX_SEGMENTS
from .message import OUR_VERSION, Message

_REQUEST = struct.Struct(">BBBBIIIIIIIHBBIII")  # envelope, header, handle length
_ANSWER = struct.Struct(">BBBBIIIIIIIHBBII")  # envelope and header of an answer
_OPCODE_RC = struct.Struct(">II")
_ENVELOPE = struct.Struct(">BBBBIIII")
_BODY_EXTRA = 4 + 8  # handle length field, index count, type count
_HANDLE_AT = ENVELOPE_SIZE + HEADER_SIZE + 4  # 48: the handle's first byte
_NO_FILTER = b"\0" * 8  # no index, no type
_NO_CREDENTIAL = b"\0\0\0\0"
_EMPTY_END = _NO_FILTER + _NO_CREDENTIAL
MIN_REQUEST = _HANDLE_AT + 1 + 8
MAX_REQUEST = _HANDLE_AT + MAX_HANDLE_BYTES + 8 + 4
ANSWER_HEAD = ENVELOPE_SIZE + HEADER_SIZE  # 44: where an answer's body starts
_SUGGEST = (OUR_VERSION[0] & 0x1F, OUR_VERSION[1])
_new = tuple.__new__  # a NamedTuple built without its Python-level constructor (the hot path)
# An ASCII handle that ``protocol.handles.split`` accepts as it is: a prefix of letters, digits, '-',
# '_' and dots, and a suffix of printable characters with no "." or ".." path segment.
_PLAIN_HANDLE = re.compile(rb"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*/[\x20-\x7e]+")
_DOT_SEGMENT = re.compile(rb"(?:^|/)\.\.?(?:/|$)")


class Request(NamedTuple):
    """What an answer to a plain resolution request echoes, and what it asks for."""

    major: int
    minor: int
    session_id: int
    request_id: int
    opflags: int
    handle: bytes  # as sent (UTF-8, not checked)


class Answer(NamedTuple):
    """A dispatcher's answer: its opcode and response code, so that nothing parses its bytes again."""

    opcode: int
    rc: int
    data: bytes


def plain_resolution(data: bytes) -> Request | None:
    """The fields of a resolution request with no index or type filter, no credential and no envelope
    flag; None for any other message (the codec's path decides what to answer it)."""
    n = len(data)
    if n < MIN_REQUEST or n > MAX_REQUEST:
        return None
    (major, minor, b2, _, session, request, _, length, opcode, rc, opflags, _, _, _, _, body_len,
     hlen) = _REQUEST.unpack_from(data)
    if opcode != Op.RESOLUTION or rc or b2 & 0xE0 or hlen > MAX_HANDLE_BYTES or body_len != hlen + _BODY_EXTRA:
        return None
    end = _HANDLE_AT + hlen
    # Nothing after the body, or an empty credential section; and the envelope must say so.
    if length != n - ENVELOPE_SIZE or (data[end:] != _EMPTY_END and data[end:] != _NO_FILTER):
        return None
    return _new(Request, (major, minor, session, request, opflags, data[_HANDLE_AT:end]))


def plain_handle(handle: bytes) -> bool:
    """Is ``handle`` an ASCII handle that handle syntax accepts as it is (so that its storage key is its
    lower-case form)? False means only: not decided here."""
    if _PLAIN_HANDLE.fullmatch(handle) is None:
        return False
    cut = handle.index(b"/")
    return handle.count(b".", 0, cut) < MAX_PREFIX_SEGMENTS and \
        (b"/." not in handle or _DOT_SEGMENT.search(handle, cut) is None)  # a dot segment follows a "/"


def resolution_message(data: bytes) -> Message | None:
    """The Message ``decode_message`` makes of a plain resolution request (raw bytes included), read in
    one step; None for any other message."""
    n = len(data)
    if n < MIN_REQUEST or n > MAX_REQUEST:
        return None
    (major, minor, b2, sminor, session, request, sequence, length, op, rc, opflags, serial, recursion, _,
     expiration, body_len, hlen) = _REQUEST.unpack_from(data)
    if op != Op.RESOLUTION or rc or b2 & 0xE0 or hlen > MAX_HANDLE_BYTES or body_len != hlen + _BODY_EXTRA:
        return None
    end = _HANDLE_AT + hlen
    if length != n - ENVELOPE_SIZE or (data[end:] != _EMPTY_END and data[end:] != _NO_FILTER):
        return None
    try:
        handle = data[_HANDLE_AT:end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return Message(op, ResolutionRequest(handle), 0, opflags, major, minor, session, request, sequence, serial,
                   recursion, expiration, None, None, 0, b2 & 0x1F, sminor, data[ENVELOPE_SIZE:end + 8])


def answer_bytes(major: int, minor: int, session_id: int, request_id: int, opcode: int, rc: int, flags: int,
                 site_serial: int, expiration: int, body: bytes) -> bytes:
    """Envelope, header, ``body`` (already encoded) and an empty credential section: what the codec
    encodes for such an answer, without building it."""
    size = len(body)
    return _ANSWER.pack(major, minor, _SUGGEST[0], _SUGGEST[1], session_id, request_id, 0, HEADER_SIZE + size + 4,
                        opcode, rc, flags, site_serial, 0, 0, expiration, size) + body + _NO_CREDENTIAL


def frame(req: Request, rc: int, flags: int, site_serial: int, expiration: int, tail: bytes) -> bytes:
    """An answer to ``req``: envelope, header, then ``tail`` (the body and the credential section)."""
    size = len(tail) - 4
    return _ANSWER.pack(req.major, req.minor, _SUGGEST[0], _SUGGEST[1], req.session_id, req.request_id, 0,
                        HEADER_SIZE + size + 4, Op.RESOLUTION, rc, flags, site_serial, 0, 0, expiration,
                        size) + tail


class Unsigned(NamedTuple):
    """An answer without a credential, cut where a signature needs it (protocol/credential.py)."""

    major: int
    minor: int
    flags_major: int  # byte 2: the envelope flags and the suggested major version
    suggest_minor: int
    session_id: int
    request_id: int
    sequence: int
    header_and_body: bytes


def unsigned(answer: bytes) -> Unsigned:
    """``answer`` (envelope, header, body, empty credential section) cut for signing; ValueError when it
    already carries a credential."""
    if len(answer) < ANSWER_HEAD + 4 or answer[-4:] != _NO_CREDENTIAL:
        raise ValueError("only an answer without a credential can be signed")
    major, minor, b2, sminor, session, request, sequence, _ = _ENVELOPE.unpack_from(answer)
    return Unsigned(major, minor, b2, sminor, session, request, sequence, answer[ENVELOPE_SIZE:-4])


def with_credential(parts: Unsigned, credential: bytes) -> bytes:
    """The answer ``parts`` came from, with ``credential`` (its wire form) as its credential section."""
    size = len(credential)
    return _ENVELOPE.pack(parts.major, parts.minor, parts.flags_major, parts.suggest_minor, parts.session_id,
                          parts.request_id, parts.sequence, len(parts.header_and_body) + 4 + size) \
        + parts.header_and_body + size.to_bytes(4, "big") + credential


def error_tail(message: bytes) -> bytes:
    """The body of an error answer (its message) and an empty credential section."""
    return len(message).to_bytes(4, "big") + message + _NO_CREDENTIAL


def answer_tail(answer: bytes) -> bytes:
    """What follows an answer's header: its body and credential section (kept to frame it again)."""
    return answer[ANSWER_HEAD:]


def opcode_rc(answer: bytes) -> tuple[int, int]:
    """The opcode and response code in a message's header."""
    return _OPCODE_RC.unpack_from(answer, ENVELOPE_SIZE)


# -- envelope fields, read where the codec is not needed --------------------------------------------

def session_id(data: bytes) -> int:
    """The envelope's session id (0 for bytes too short to have one)."""
    return int.from_bytes(data[4:8], "big") if len(data) >= 8 else 0


def opcode(data: bytes) -> int:
    """The header's opcode (0 for bytes too short to have one)."""
    return int.from_bytes(data[20:24], "big") if len(data) >= 24 else 0


def message_length(data: bytes) -> int:
    """The envelope's message length: the bytes that follow the envelope, in all."""
    return int.from_bytes(data[16:20], "big")


def sequence(data: bytes) -> int:
    return int.from_bytes(data[12:16], "big")


def request_id(data: bytes) -> int:
    return int.from_bytes(data[8:12], "big")


def is_slice(data: bytes) -> bool:
    """Is ``data`` one slice of a message sent in several datagrams (truncated flag, and a length that
    says more follows; protocol/datagrams.py)?"""
    return len(data) >= ENVELOPE_SIZE and bool(data[2] & ENV_TRUNCATED) and message_length(data) != len(data) - ENVELOPE_SIZE


def has_credential(data: bytes) -> bool:
    """Does the message carry a (non-empty) credential section? Read from the header's body length."""
    at = ENVELOPE_SIZE + 20
    if len(data) < at + 4:
        return False
    end = at + 4 + int.from_bytes(data[at:at + 4], "big")
    return len(data) >= end + 4 and int.from_bytes(data[end:end + 4], "big") != 0


def encrypted(data: bytes) -> bool:
    """Does the envelope say that what follows it is encrypted?"""
    return len(data) > 2 and bool(data[2] & ENV_ENCRYPTED)


def payload(data: bytes) -> bytes:
    """What follows the envelope (header, body, credential; or their cipher text)."""
    return bytes(data[ENVELOPE_SIZE:])


def with_payload(data: bytes, payload: bytes, *, encrypted: bool) -> bytes:
    """``data``'s envelope, its encrypted flag set or cleared and its length fitted, before ``payload``."""
    major, minor, b2, b3, sid, rid, seq, _ = _ENVELOPE.unpack_from(data)
    b2 = b2 | ENV_ENCRYPTED if encrypted else b2 & ~ENV_ENCRYPTED
    return _ENVELOPE.pack(major, minor, b2, b3, sid, rid, seq, len(payload)) + payload
