"""The request digest (RD flag): an answer proves which request it answers.

With the RD op-flag set, an answer's body starts with a digest of the request's header and body
(the 24-byte header and the body, never the envelope nor the credential). Handle.Net picks the
algorithm from the protocol version of the exchange:

- before 2.1: MD5 in the old format (a 4-byte length, then the 16 bytes; algorithm code 0);
- 2.1 … 2.6: SHA-1 (code 2, then 20 bytes);
- 2.7 and later: SHA-256 (code 3, then 32 bytes).

The 9.3.1 vectors confirm SHA-256 for 2.10, on an RD answer and on a 402 challenge alike.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from .codes import RC, HandleError
from .wire import Reader, WireError, Writer

MD5_OLD = 0
MD5 = 1
SHA1 = 2
SHA256 = 3

_SIZES = {MD5: 16, SHA1: 20, SHA256: 32}
_NAMES = {MD5_OLD: "md5", MD5: "md5", SHA1: "sha1", SHA256: "sha256"}


def algorithm_for(major: int, minor: int) -> int:
    """The digest algorithm Handle.Net uses for a given protocol version."""
    if (major, minor) < (2, 1):
        return MD5_OLD
    if (major, minor) >= (2, 7):
        return SHA256
    return SHA1


def compute(algorithm: int, header_and_body: bytes) -> bytes:
    name = _NAMES.get(algorithm)
    if name is None:
        raise HandleError(RC.ERROR, f"unknown digest algorithm {algorithm}")
    return hashlib.new(name, header_and_body).digest()


@dataclass(frozen=True, slots=True)
class RequestDigest:
    algorithm: int
    value: bytes

    @classmethod
    def of(cls, header_and_body: bytes, major: int, minor: int) -> RequestDigest:
        """The digest an answer at version ``major.minor`` carries for this request."""
        alg = algorithm_for(major, minor)
        return cls(alg, compute(alg, header_and_body))

    def matches(self, header_and_body: bytes) -> bool:
        """True when this digest is the digest of ``header_and_body`` (constant-time compare)."""
        if self.algorithm not in _NAMES:
            return False
        return hmac.compare_digest(self.value, compute(self.algorithm, header_and_body))

    def write(self, w: Writer) -> None:
        if self.algorithm == MD5_OLD:
            w.blob(self.value)
            return
        size = _SIZES.get(self.algorithm)
        if size is None or len(self.value) != size:
            raise HandleError(RC.ERROR, f"digest algorithm {self.algorithm} with {len(self.value)} bytes")
        w.u8(self.algorithm).raw(self.value)

    @classmethod
    def read(cls, r: Reader) -> RequestDigest:
        alg = r.u8("request digest algorithm")
        if alg == MD5_OLD:
            # The old format has no code byte: what was read is the top byte of a length.
            r.pos -= 1
            return cls(MD5_OLD, r.blob("request digest", 64))
        size = _SIZES.get(alg)
        if size is None:
            raise WireError(f"request digest: unknown algorithm {alg}")
        return cls(alg, r.raw(size, "request digest"))
