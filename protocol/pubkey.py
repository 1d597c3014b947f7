"""HS_PUBKEY data (RFC 3651 §3.2.3, as Handle.Net lays it out): a key type, flags, the key parts.

    key type (len+bytes) | flags u16 (0) | parts, each len+bytes:
      RSA_PUB_KEY: exponent, modulus       } big-endian two's-complement integers,
      DSA_PUB_KEY: q, p, g, y              } as Java writes them (Handle.Net's own types)
      DH_PUB_KEY:  y, p, g                 }
      EC_PUB_KEY:      curve ("P-256", "P-384" or "P-521", UTF-8), point (SEC 1 uncompressed: 04 | X | Y)
      ED25519_PUB_KEY: the 32-byte public key of RFC 8032
      SM2_PUB_KEY:     the X.509 PEM text of the key (SubjectPublicKeyInfo, id-ecPublicKey on sm2p256v1)

Handle.Net (9.3) defines no elliptic-curve key type: its encoder knows RSA, DSA and DH only. The two
last types are this node's, chosen to follow Handle.Net's pattern (a ``<ALGORITHM>_PUB_KEY`` name,
the reserved flags, length-prefixed parts) with the parts each algorithm's own standard fixes, so
that no integer conversion is involved. A Handle.Net server reads such a value as an unknown key
type and ignores it; RSA and DSA values stay byte for byte what Handle.Net writes. In JSON (the
"key" format) they are JWKs: ``{"kty":"EC","crv","x","y"}`` (RFC 7518) and
``{"kty":"OKP","crv":"Ed25519","x"}`` (RFC 8037).

Handle.Net sizes its RSA buffer for four length fields and fills three, so its RSA keys end with
four zero bytes (seen in the 9.3.1 HS_SITE vector); decoders ignore what follows the parts. Here
those bytes are kept in ``extra`` so that a decoded key encodes back to the same bytes.

SM2_PUB_KEY is the national SDK's (teleinfo-dev/id-pointer-sdk, ``Util.getBytesFromPublicKey``): its one
part is the UTF-8 text of ``KeyConverter.toX509Pem``: ``-----BEGIN PUBLIC KEY-----`` CRLF, the DER in
MIME base64 (76-character lines joined by CRLF), CRLF, ``-----END PUBLIC KEY-----`` CRLF. The SDK's own
reader takes the DER itself in that part, so both are read here (and the bare point 04|x|y, which other
vendors' tools hold); what this node writes is the SDK's PEM text, byte for byte. In JSON an SM2 key is
``{"kty":"EC","crv":"SM2","x","y"}``, the JWK shape of RFC 7518 with the curve's name.

Sans-IO: this module parses and builds the layout; turning the numbers into ``cryptography`` key
objects (and checking signatures) is resolver/'s business.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from . import gm
from .codes import RC, HandleError
from .wire import Reader, Writer

RSA = "RSA_PUB_KEY"
DSA = "DSA_PUB_KEY"
DH = "DH_PUB_KEY"
EC = "EC_PUB_KEY"
ED25519 = "ED25519_PUB_KEY"
SM2 = "SM2_PUB_KEY"
_PARTS = {RSA: 2, DSA: 4, DH: 3, EC: 2, ED25519: 1, SM2: 1}
SM2_CRV = "SM2"
# The curves an EC_PUB_KEY may name (their JWK names), and the size of a coordinate on each.
EC_CURVES = {"P-256": 32, "P-384": 48, "P-521": 66}
ED25519_SIZE = 32
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

    @classmethod
    def ec(cls, curve: str, point: bytes) -> PublicKey:
        """``point`` in SEC 1 uncompressed form (04 | X | Y) on ``curve`` (P-256, P-384, P-521)."""
        size = EC_CURVES.get(curve)
        if size is None:
            raise _bad(f"EC curve {curve!r} is not supported (P-256, P-384 or P-521)", "data.crv")
        if len(point) != 1 + 2 * size or point[0] != 4:
            raise _bad(f"an EC point on {curve} is 04 followed by two {size}-byte coordinates", "data")
        return cls(EC, (curve.encode(), bytes(point)))

    @classmethod
    def ed25519(cls, raw: bytes) -> PublicKey:
        if len(raw) != ED25519_SIZE:
            raise _bad(f"an Ed25519 public key is {ED25519_SIZE} bytes, not {len(raw)}", "data.x")
        return cls(ED25519, (bytes(raw),))

    @classmethod
    def sm2(cls, point: bytes) -> PublicKey:
        """``point`` = 04|x|y on sm2p256v1, laid out as the national SDK writes it (its X.509 PEM text)."""
        try:
            der = gm.spki_der(point)
        except gm.GMError as e:
            raise _bad(str(e)) from None
        return cls(SM2, (sm2_pem(der),))

    def sm2_point(self) -> bytes:
        """The 65-byte point 04|x|y of an SM2_PUB_KEY, from PEM text, DER or the bare point."""
        if self.key_type != SM2:
            raise _bad(f"not an SM2 key: {self.key_type}")
        part = self.parts[0]
        try:
            if part.lstrip().startswith(b"-----BEGIN"):
                return gm.public_from_spki(gm.unpem(part.decode("ascii", "replace"), "PUBLIC KEY"))
            if part[:1] == b"\x30":
                return gm.public_from_spki(part)
            return gm.check_public(part)
        except gm.GMError as e:
            raise _bad(f"SM2_PUB_KEY does not hold an SM2 key: {e}") from None

    def ec_point(self) -> tuple[str, bytes]:
        """(curve, SEC 1 point)."""
        if self.key_type != EC:
            raise _bad(f"not an EC key: {self.key_type}")
        curve = self.parts[0].decode("utf-8", "replace")
        return curve, self.ec(curve, self.parts[1]).parts[1]  # checked as on the way in

    def ed25519_bytes(self) -> bytes:
        if self.key_type != ED25519:
            raise _bad(f"not an Ed25519 key: {self.key_type}")
        return self.ed25519(self.parts[0]).parts[0]

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
        """A JWK for RSA and DSA keys (as Handle.Net writes the "key" format) and for EC and Ed25519
        keys; base64 of the bytes for other types, and for a key whose parts do not hold together."""
        if self.key_type == RSA:
            e, n = self.parts
            return {"kty": "RSA", "n": _b64url(n), "e": _b64url(e)}
        if self.key_type == DSA:
            q, p, g, y = self.parts
            return {"kty": "DSA", "p": _b64url(p), "q": _b64url(q), "g": _b64url(g), "y": _b64url(y)}
        try:
            if self.key_type == EC and not self.extra:
                curve, point = self.ec_point()
                size = EC_CURVES[curve]
                return {"kty": "EC", "crv": curve, "x": _b64url_exact(point[1:1 + size]),
                        "y": _b64url_exact(point[1 + size:])}
            if self.key_type == ED25519 and not self.extra:
                return {"kty": "OKP", "crv": "Ed25519", "x": _b64url_exact(self.ed25519_bytes())}
            if self.key_type == SM2 and not self.extra:
                point = self.sm2_point()
                return {"kty": "EC", "crv": SM2_CRV, "x": _b64url_exact(point[1:33]), "y": _b64url_exact(point[33:])}
        except HandleError:
            pass
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
        if kty == "EC" and obj.get("crv") == SM2_CRV:
            return cls.sm2(b"\x04" + _jwk_bytes(obj, "x", 32) + _jwk_bytes(obj, "y", 32))
        if kty == "EC":
            crv = obj.get("crv")
            size = EC_CURVES.get(crv) if isinstance(crv, str) else None
            if size is None:
                raise _bad(f"HS_PUBKEY EC key curve {crv!r} is not supported (P-256, P-384, P-521 or SM2)",
                           "data.crv")
            return cls.ec(crv, b"\x04" + _jwk_bytes(obj, "x", size) + _jwk_bytes(obj, "y", size))
        if kty == "OKP":
            if obj.get("crv") != "Ed25519":
                raise _bad(f"HS_PUBKEY OKP key curve {obj.get('crv')!r} is not supported (Ed25519)", "data.crv")
            return cls.ed25519(_jwk_bytes(obj, "x", ED25519_SIZE))
        raise _bad(f"HS_PUBKEY key type {kty!r} is not supported (RSA, DSA, EC or OKP Ed25519)", "data.kty")


def sm2_pem(der: bytes) -> bytes:
    """The text Java's ``KeyConverter.toX509Pem`` makes of an SPKI: MIME base64 (76 columns, CRLF), CRLF ends."""
    b64 = base64.b64encode(der)
    lines = b"\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    return b"-----BEGIN PUBLIC KEY-----\r\n" + lines + b"\r\n-----END PUBLIC KEY-----\r\n"


def _b64url_exact(b: bytes) -> str:
    """base64url of all the bytes: EC coordinates and Ed25519 keys keep their leading zeros (RFC 7518)."""
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _jwk_raw(obj: dict, name: str) -> bytes:
    v = obj.get(name)
    if not isinstance(v, str) or not v:
        raise _bad(f"HS_PUBKEY JWK needs '{name}'", f"data.{name}")
    try:
        return base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
    except (binascii.Error, ValueError):
        raise _bad(f"HS_PUBKEY JWK '{name}' is not base64url", f"data.{name}") from None


def _jwk_int(obj: dict, name: str) -> int:
    return int.from_bytes(_jwk_raw(obj, name), "big")


def _jwk_bytes(obj: dict, name: str, size: int) -> bytes:
    raw = _jwk_raw(obj, name)
    if len(raw) != size:
        raise _bad(f"HS_PUBKEY JWK '{name}' must be {size} bytes, not {len(raw)}", f"data.{name}")
    return raw


def from_json(obj: object) -> bytes:
    """The JSON "key" format's value → HS_PUBKEY bytes."""
    return PublicKey.from_json(obj).to_wire()


def to_json(data: bytes) -> dict | str:
    """HS_PUBKEY bytes → the JSON "key" format's value."""
    return PublicKey.from_wire(data).to_json()
