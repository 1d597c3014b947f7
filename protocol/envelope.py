"""The fixed parts of a Handle message (RFC 3651 §2.2.1-2.2.2): the envelope and the header.

Envelope, 20 bytes, as Handle.Net writes it::

    major u8 | minor u8 | flags+suggested-major u8 | suggested-minor u8 |
    session id u32 | request id u32 | sequence number u32 | message length u32

RFC 3651 calls bytes 2-3 a 16-bit MessageFlag; Handle.Net keeps the flags in the top bits of
byte 2 (compressed 0x80, encrypted 0x40, truncated 0x20) and puts the version it would rather
speak in the low bits of byte 2 and in byte 3 (the 9.3.1 server writes 2.11 there: ``02 0b``).

Header, 24 bytes::

    opcode u32 | response code u32 | op-flags u32 | site serial u16 | recursion u8 | reserved u8 |
    expiration u32 | body length u32
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .wire import Reader, WireError, Writer

ENVELOPE_SIZE = 20
HEADER_SIZE = 24
CREDENTIAL_LENGTH_SIZE = 4

# Envelope flags (top bits of byte 2).
ENV_COMPRESSED = 0x80
ENV_ENCRYPTED = 0x40
ENV_TRUNCATED = 0x20
_SUGGEST_MAJOR_MASK = 0x1F  # Handle.Net reads only 0x03; keep the rest so bytes round-trip

# Op-flags (header).
AT = 0x80000000  # authoritative: skip caches, ask primaries
CT = 0x40000000  # certify: sign the answer
ENC = 0x20000000  # encrypt the answer
REC = 0x10000000  # recursive
CA = 0x08000000  # cache authentication
CN = 0x04000000  # continuous: more messages follow
KA = 0x02000000  # keep the connection alive
PO = 0x01000000  # public values only
RD = 0x00800000  # return the request digest
OVRW = 0x00400000  # overwrite existing values
MINT = 0x00200000  # mint a new suffix on create
DNRF = 0x00100000  # do not refer


class Op(IntEnum):
    RESERVED = 0
    RESOLUTION = 1
    GET_SITE_INFO = 2
    CREATE_HANDLE = 100
    DELETE_HANDLE = 101
    ADD_VALUE = 102
    REMOVE_VALUE = 103
    MODIFY_VALUE = 104
    LIST_HANDLES = 105
    LIST_NA = 106  # RFC 3651; Handle.Net lists homed prefixes with LIST_HOMED_NAS instead
    CHALLENGE_RESPONSE = 200
    VERIFY_RESPONSE = 201
    HOME_NA = 300
    UNHOME_NA = 301
    LIST_HOMED_NAS = 302
    SESSION_SETUP = 400
    SESSION_TERMINATE = 401
    SESSION_EXCHANGEKEY = 402
    GET_NEXT_TXN_ID = 1000
    RETRIEVE_TXN_LOG = 1001
    DUMP_HANDLES = 1002
    BACKUP_SERVER = 1003


@dataclass(frozen=True, slots=True)
class Envelope:
    major: int = 2
    minor: int = 10
    session_id: int = 0
    request_id: int = 0
    sequence: int = 0
    length: int = 0
    flags: int = 0  # ENV_* bits
    suggest_major: int = 0  # 0: none offered
    suggest_minor: int = 0

    @property
    def truncated(self) -> bool:
        return bool(self.flags & ENV_TRUNCATED)

    @property
    def version(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def write(self, w: Writer) -> None:
        w.u8(self.major).u8(self.minor)
        w.u8((self.flags & 0xE0) | (self.suggest_major & _SUGGEST_MAJOR_MASK)).u8(self.suggest_minor)
        w.u32(self.session_id).u32(self.request_id).u32(self.sequence).u32(self.length)

    def to_bytes(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def read(cls, r: Reader, max_length: int) -> Envelope:
        major = r.u8("envelope major version")
        minor = r.u8("envelope minor version")
        b2 = r.u8("envelope flags")
        suggest_minor = r.u8("envelope suggested minor version")
        session = r.u32("session id")
        request = r.u32("request id")
        sequence = r.u32("sequence number")
        length = r.u32("message length")
        if length > max_length:
            raise WireError(f"message length {length} over the limit {max_length}")
        return cls(major, minor, session, request, sequence, length, b2 & 0xE0,
                   b2 & _SUGGEST_MAJOR_MASK, suggest_minor)


@dataclass(frozen=True, slots=True)
class Header:
    opcode: int
    rc: int = 0
    opflags: int = 0
    site_serial: int = 0xFFFF
    recursion: int = 0
    expiration: int = 0
    body_length: int = 0

    def write(self, w: Writer) -> None:
        w.u32(self.opcode).u32(self.rc).u32(self.opflags).u16(self.site_serial)
        w.u8(self.recursion).u8(0).u32(self.expiration).u32(self.body_length)

    @classmethod
    def read(cls, r: Reader) -> Header:
        opcode = r.u32("opcode")
        rc = r.u32("response code")
        opflags = r.u32("op-flags")
        serial = r.u16("site info serial")
        recursion = r.u8("recursion count")
        r.u8("reserved")
        expiration = r.u32("expiration")
        body_length = r.u32("body length")
        return cls(opcode, rc, opflags, serial, recursion, expiration, body_length)
