"""HS_PUBKEY data (RFC 3651 §3.2.3, as Handle.Net lays it out): a key type, flags, the key parts.

    key type (len+bytes: "RSA_PUB_KEY", "DSA_PUB_KEY", "DH_PUB_KEY") | flags u16 (0) |
    parts, each len+bytes, big-endian two's-complement integers as Java writes them:
      RSA_PUB_KEY: exponent, modulus
      DSA_PUB_KEY: q, p, g, y
      DH_PUB_KEY:  y, p, g

Handle.Net sizes its RSA buffer for four length fields and fills three, so its RSA keys end with
four zero bytes (seen in the 9.3.1 HS_SITE vector); decoders ignore what follows the parts. Here
those bytes are kept in ``extra`` so that a decoded key encodes back to the same bytes.

Sans-IO: this module parses and builds the layout; turning the numbers into ``cryptography`` key
objects (and checking signatures) is resolver/'s business.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from .codes import RC, HandleError
from .wire import Reader, Writer

RSA = "RSA_PUB_KEY"
DSA = "DSA_PUB_KEY"
DH = "DH_PUB_KEY"
_PARTS = {RSA: 2, DSA: 4, DH: 3}
_HANDLE_NET_RSA_TAIL = b"\0\0\0\0"
MAX_PART = 64 * 1024


def _int_bytes(n: int) -> bytes:
    """Big-endian two's complement, as Java's BigInteger.toByteArray() (a leading 0 for a high bit)."""
    return n.to_bytes(n.bit_length() // 8 + 1, "big")


def _b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b.lstrip(b"\0") or b"\0").rstrip(b"=").decode()


def _bad(message: str, field: str = "data") -> HandleError:
    return HandleError(RC.INVALID_VALUE, message, field=field)


@dataclass(frozen=True, slots=True)
class PublicKey:
    key_type: str
    parts: tuple[bytes, ...] = ()
    flags: int = 0
    extra: bytes = b""  # bytes after the parts (Handle.Net RSA: four zero bytes); all of it for unknown types

    @classmethod
    def rsa(cls, exponent: int, modulus: int) -> PublicKey:
        return cls(RSA, (_int_bytes(exponent), _int_bytes(modulus)), 0, _HANDLE_NET_RSA_TAIL)

    @classmethod
    def dsa(cls, p: int, q: int, g: int, y: int) -> PublicKey:
        return cls(DSA, tuple(_int_bytes(x) for x in (q, p, g, y)))

    def numbers(self) -> tuple[int, ...]:
        """The parts as unsigned integers, in wire order (RSA: e, n; DSA: q, p, g, y; DH: y, p, g)."""
        return tuple(int.from_bytes(p, "big") for p in self.parts)

    def rsa_numbers(self) -> tuple[int, int]:
        """(exponent, modulus)."""
        if self.key_type != RSA:
            raise _bad(f"not an RSA key: {self.key_type}")
        e, n = self.numbers()
        return e, n

    def dsa_numbers(self) -> tuple[int, int, int, int]:
        """(p, q, g, y)."""
        if self.key_type != DSA:
            raise _bad(f"not a DSA key: {self.key_type}")
        q, p, g, y = self.numbers()
        return p, q, g, y

    def to_wire(self) -> bytes:
        w = Writer().text(self.key_type).u16(self.flags)
        for part in self.parts:
            w.blob(part)
        return w.raw(self.extra).getvalue()

    @classmethod
    def from_wire(cls, data: bytes) -> PublicKey:
        r = Reader(data)
        key_type = r.text("public key type", 256)
        flags = r.u16("public key flags")
        parts = tuple(r.blob("public key part", MAX_PART) for _ in range(_PARTS.get(key_type, 0)))
        return cls(key_type, parts, flags, r.raw(r.remaining, "public key"))

    def to_json(self) -> dict | str:
        """A JWK for RSA and DSA keys (as Handle.Net writes the "key" format); base64 of the bytes
        for other types."""
        if self.key_type == RSA:
            e, n = self.parts
            return {"kty": "RSA", "n": _b64url(n), "e": _b64url(e)}
        if self.key_type == DSA:
            q, p, g, y = self.parts
            return {"kty": "DSA", "p": _b64url(p), "q": _b64url(q), "g": _b64url(g), "y": _b64url(y)}
        return base64.b64encode(self.to_wire()).decode()

    @classmethod
    def from_json(cls, obj: object) -> PublicKey:
        if isinstance(obj, str):
            try:
                raw = base64.b64decode(obj, validate=True)
            except (binascii.Error, ValueError):
                raise _bad("HS_PUBKEY value is not valid base64") from None
            try:
                return cls.from_wire(raw)
            except HandleError as e:
                raise _bad(f"HS_PUBKEY bytes do not parse: {e.message}") from None
        if not isinstance(obj, dict):
            raise _bad("HS_PUBKEY data must be a JWK object or a base64 string")
        kty = obj.get("kty")
        if kty == "RSA":
            return cls.rsa(_jwk_int(obj, "e"), _jwk_int(obj, "n"))
        if kty == "DSA":
            return cls.dsa(*(_jwk_int(obj, k) for k in ("p", "q", "g", "y")))
        raise _bad(f"HS_PUBKEY key type {kty!r} is not supported (RSA or DSA)", "data.kty")


def _jwk_int(obj: dict, name: str) -> int:
    v = obj.get(name)
    if not isinstance(v, str) or not v:
        raise _bad(f"HS_PUBKEY JWK needs '{name}'", f"data.{name}")
    try:
        return int.from_bytes(base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)), "big")
    except (binascii.Error, ValueError):
        raise _bad(f"HS_PUBKEY JWK '{name}' is not base64url", f"data.{name}") from None


def from_json(obj: object) -> bytes:
    """The JSON "key" format's value → HS_PUBKEY bytes."""
    return PublicKey.from_json(obj).to_wire()


def to_json(data: bytes) -> dict | str:
    """HS_PUBKEY bytes → the JSON "key" format's value."""
    return PublicKey.from_wire(data).to_json()
