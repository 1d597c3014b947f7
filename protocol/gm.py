"""China's national algorithms: SM3 (GM/T 0004), SM2 (GM/T 0003) and SM4-GCM (RFC 8998), pure computation.

The arithmetic is GmSSL's, through the ``gmssl-pyx`` wheel (chosen over gmssl-fast, gmalg, snowland-smx
and the old pure-Python gmssl: it is a compiled, statically linked GmSSL, it has had several releases,
it takes the signer's ID that GM/T 0003's Z value needs, and an SM2 verification costs about 1 ms where
the pure-Python packages take about 100 ms). This module fixes the byte formats every caller of the
node shares, so that nothing else depends on the wrapper's conventions:

- keys: private = the 32-byte scalar d; public = 65 bytes ``04 | x | y`` (SEC 1 uncompressed);
- signatures: DER ``SEQUENCE { r INTEGER, s INTEGER }`` over ``SM3(Z | data)``, where Z is GM/T 0003.2's
  hash of the signer's ID (default ``1234567812345678``, GM/T 0009's default) and the public key;
- ciphertexts: raw ``C1 | C3 | C2`` (GM/T 0003.4-2012's order, which Bouncy Castle's SM2Engine writes in
  its C1C3C2 mode): C1 = ``04 | x1 | y1`` (65 bytes), C3 = the 32-byte SM3 check value, C2 = the masked
  data, as long as the plaintext. GmSSL limits one SM2 encryption to 255 bytes of plaintext; longer data
  is sealed with SM4-GCM under a key that SM2 encrypts;
- SM4-GCM: ``ciphertext | 16-byte tag``, 12-byte nonce (RFC 8998's vectors hold).

``spki_der``/``pkcs8_der`` and their readers carry SM2 keys in the X.509/PKCS #8 structures that Java
(Bouncy Castle) and OpenSSL use: id-ecPublicKey with the named curve sm2p256v1 (1.2.156.10197.1.301).
"""

from __future__ import annotations

import base64
import functools
import secrets

import gmssl_pyx

DEFAULT_UID = b"1234567812345678"
PRIVATE_SIZE = 32
PUBLIC_SIZE = 65
MAX_SM2_PLAINTEXT = 255
GCM_TAG = 16

# The curve sm2p256v1 (GM/T 0003.5).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_SM2P256V1 = "1.2.156.10197.1.301"


class GMError(ValueError):
    """A key, signature or ciphertext that is not well formed, or a ciphertext that fails its check."""


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest (GM/T 0004)."""
    return gmssl_pyx.sm3_hash(bytes(data))


# --- keys -------------------------------------------------------------------------------------------


def _on_curve(x: int, y: int) -> bool:
    return x < P and y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def check_public(public: bytes) -> bytes:
    """``public`` as 65 bytes ``04|x|y`` on the curve (64 bytes ``x|y`` are accepted too), or GMError."""
    public = bytes(public)
    if len(public) == PUBLIC_SIZE - 1:
        public = b"\x04" + public
    if len(public) != PUBLIC_SIZE or public[0] != 4:
        raise GMError("an SM2 public key is 65 bytes: 04, x, y")
    x, y = int.from_bytes(public[1:33], "big"), int.from_bytes(public[33:], "big")
    if not _on_curve(x, y):
        raise GMError("the SM2 public key is not a point of the curve sm2p256v1")
    return public


def check_private(private: bytes) -> bytes:
    private = bytes(private)
    if len(private) != PRIVATE_SIZE or not 1 <= int.from_bytes(private, "big") < N - 1:
        raise GMError("an SM2 private key is a 32-byte integer in [1, n-2]")
    return private


def _add(p1: tuple[int, int] | None, p2: tuple[int, int] | None) -> tuple[int, int] | None:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        lam = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


@functools.lru_cache(maxsize=64)
def public_of(private: bytes) -> bytes:
    """The public key ``04|x|y`` of a private key (d·G; computed here since GmSSL's wrapper has no call
    for it: a few milliseconds, cached for the signing keys a process holds)."""
    d = int.from_bytes(check_private(private), "big")
    result, addend = None, (GX, GY)
    while d:
        if d & 1:
            result = _add(result, addend)
        addend = _add(addend, addend)
        d >>= 1
    assert result is not None
    return b"\x04" + result[0].to_bytes(32, "big") + result[1].to_bytes(32, "big")


def sm2_generate() -> tuple[bytes, bytes]:
    """A new key pair: (private 32 bytes, public 65 bytes ``04|x|y``)."""
    public, private = gmssl_pyx.sm2_key_generate()
    return private, b"\x04" + public


# --- signatures -------------------------------------------------------------------------------------


def z_value(public: bytes, uid: bytes = DEFAULT_UID) -> bytes:
    """GM/T 0003.2's Z = SM3(ENTL | ID | a | b | xG | yG | xA | yA): the prefix of every signed digest."""
    public = check_public(public)
    if len(uid) >= 8192:
        raise GMError("an SM2 signer ID is shorter than 8192 bytes")
    curve = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))
    return sm3((len(uid) * 8).to_bytes(2, "big") + uid + curve + public[1:])


def sm2_sign(private: bytes, data: bytes, uid: bytes = DEFAULT_UID) -> bytes:
    """The DER signature of SM3(Z | data) under ``private`` (GM/T 0003.2)."""
    public = public_of(check_private(private))
    return gmssl_pyx.sm2_sign(private, public[1:], bytes(data), bytes(uid))


def sm2_verify(public: bytes, data: bytes, signature: bytes, uid: bytes = DEFAULT_UID) -> bool:
    """Whether ``signature`` (DER r, s) signs SM3(Z | data) for ``public``; False for any malformed input
    except the key, whose faults raise GMError (a stored key is checked once, when it is stored)."""
    public = check_public(public)
    if not 8 <= len(signature) <= 72:
        return False
    try:
        return bool(gmssl_pyx.sm2_verify(public[1:], bytes(data), bytes(signature), bytes(uid)))
    except gmssl_pyx.GmsslInnerError:
        return False


def sm2_sign_digest(private: bytes, digest: bytes) -> bytes:
    """The DER signature of a 32-byte digest that already includes Z (e = SM3(Z | M))."""
    if len(digest) != 32:
        raise GMError("an SM2 digest is 32 bytes")
    return gmssl_pyx.sm2_sign_sm3_digest(check_private(private), bytes(digest))


def sm2_verify_digest(public: bytes, digest: bytes, signature: bytes) -> bool:
    """Whether ``signature`` signs the 32-byte ``digest`` (e = SM3(Z | M), computed by the caller)."""
    public = check_public(public)
    if len(digest) != 32 or not 8 <= len(signature) <= 72:
        return False
    try:
        return bool(gmssl_pyx.sm2_verify_sm3_digest(public[1:], bytes(digest), bytes(signature)))
    except gmssl_pyx.GmsslInnerError:
        return False


def signature_der(raw: bytes) -> bytes:
    """DER (r, s) from the 64-byte ``r | s`` form some clients send."""
    if len(raw) != 64:
        raise GMError("a raw SM2 signature is 64 bytes: r, s")
    return _seq(_int(int.from_bytes(raw[:32], "big")) + _int(int.from_bytes(raw[32:], "big")))


def signature_raw(der: bytes) -> bytes:
    """The 64-byte ``r | s`` form of a DER signature."""
    r, s = _read_ints(der, 2)
    if not (0 < r < N and 0 < s < N):
        raise GMError("an SM2 signature's r and s lie in [1, n-1]")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


# --- encryption -------------------------------------------------------------------------------------


def sm2_encrypt(public: bytes, data: bytes) -> bytes:
    """SM2 encryption of at most 255 bytes, returned as raw ``C1 | C3 | C2`` (GM/T 0003.4-2012)."""
    public = check_public(public)
    if not 1 <= len(data) <= MAX_SM2_PLAINTEXT:
        raise GMError(f"SM2 encrypts 1 to {MAX_SM2_PLAINTEXT} bytes; seal longer data with SM4-GCM")
    der = gmssl_pyx.sm2_encrypt(public[1:], bytes(data))
    x, y, c3, c2 = _read_cipher(der)
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big") + c3 + c2


def sm2_decrypt(private: bytes, ciphertext: bytes) -> bytes:
    """The plaintext of a raw ``C1 | C3 | C2`` ciphertext; GMError if it is malformed or fails its check."""
    private = check_private(private)
    ciphertext = bytes(ciphertext)
    if not PUBLIC_SIZE + 32 < len(ciphertext) <= PUBLIC_SIZE + 32 + MAX_SM2_PLAINTEXT or ciphertext[0] != 4:
        raise GMError("an SM2 ciphertext is C1 (65 bytes from 04), C3 (32 bytes), C2 (1 to 255 bytes)")
    x, y = int.from_bytes(ciphertext[1:33], "big"), int.from_bytes(ciphertext[33:65], "big")
    if not _on_curve(x, y):
        raise GMError("the ciphertext's C1 is not a point of the curve")
    der = _seq(_int(x) + _int(y) + _octets(ciphertext[65:97]) + _octets(ciphertext[97:]))
    try:
        return gmssl_pyx.sm2_decrypt(private, der)
    except gmssl_pyx.GmsslInnerError as e:
        raise GMError("the SM2 ciphertext does not decrypt under this key") from e


def sm4_gcm_encrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes = b"") -> bytes:
    """SM4-GCM (RFC 8998): ``ciphertext | 16-byte tag``. The nonce (12 bytes) must never repeat under a key."""
    _check_gcm(key, nonce)
    ciphertext, tag = gmssl_pyx.sm4_gcm_encrypt(bytes(key), bytes(nonce), bytes(aad), bytes(data))
    return ciphertext + tag


def sm4_gcm_decrypt(key: bytes, nonce: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
    """The plaintext of ``ciphertext | tag``; GMError if the tag does not authenticate it."""
    _check_gcm(key, nonce)
    if len(sealed) < GCM_TAG:
        raise GMError("an SM4-GCM message ends with a 16-byte tag")
    try:
        return gmssl_pyx.sm4_gcm_decrypt(
            bytes(key), bytes(nonce), bytes(aad), bytes(sealed[:-GCM_TAG]), bytes(sealed[-GCM_TAG:])
        )
    except gmssl_pyx.GmsslInnerError as e:
        raise GMError("SM4-GCM authentication failed") from e


def _check_gcm(key: bytes, nonce: bytes) -> None:
    if len(key) != 16:
        raise GMError("an SM4 key is 16 bytes")
    if len(nonce) != 12:
        raise GMError("an SM4-GCM nonce is 12 bytes")


def random_bytes(n: int) -> bytes:
    return secrets.token_bytes(n)


# --- X.509 / PKCS #8 carriage -----------------------------------------------------------------------


def spki_der(public: bytes) -> bytes:
    """SubjectPublicKeyInfo of an SM2 key (what Java's ``PublicKey.getEncoded()`` returns)."""
    alg = _seq(_oid(OID_EC_PUBLIC_KEY) + _oid(OID_SM2P256V1))
    return _seq(alg + b"\x03" + _len(PUBLIC_SIZE + 1) + b"\x00" + check_public(public))


def pkcs8_der(private: bytes) -> bytes:
    """PKCS #8 PrivateKeyInfo of an SM2 key, with the public key inside (RFC 5915's ECPrivateKey)."""
    private = check_private(private)
    public = public_of(private)
    bits = b"\x03" + _len(PUBLIC_SIZE + 1) + b"\x00" + public
    ec = _seq(_int(1) + _octets(private) + b"\xa1" + _len(len(bits)) + bits)
    alg = _seq(_oid(OID_EC_PUBLIC_KEY) + _oid(OID_SM2P256V1))
    return _seq(_int(0) + alg + _octets(ec))


def public_from_spki(der: bytes) -> bytes:
    body = _Der(der).seq()
    alg = body.seq()
    if alg.oid() != OID_EC_PUBLIC_KEY or alg.oid() != OID_SM2P256V1:
        raise GMError("not an SM2 public key (id-ecPublicKey on sm2p256v1)")
    bits = body.take(0x03)
    if not bits or bits[0] != 0:
        raise GMError("malformed public key bits")
    return check_public(bits[1:])


def private_from_pkcs8(der: bytes) -> bytes:
    body = _Der(der).seq()
    if body.integer() != 0:
        raise GMError("unsupported PKCS #8 version")
    alg = body.seq()
    if alg.oid() != OID_EC_PUBLIC_KEY or alg.oid() != OID_SM2P256V1:
        raise GMError("not an SM2 private key (id-ecPublicKey on sm2p256v1)")
    ec = _Der(body.take(0x04)).seq()
    if ec.integer() != 1:
        raise GMError("unsupported ECPrivateKey version")
    scalar = ec.take(0x04)
    return check_private(scalar.rjust(PRIVATE_SIZE, b"\0")[-PRIVATE_SIZE:])


def pem(der: bytes, label: str) -> str:
    lines = base64.encodebytes(der).decode().replace("\n", "")
    body = "\n".join(lines[i : i + 64] for i in range(0, len(lines), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def unpem(text: str, label: str) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if begin not in text or end not in text:
        raise GMError(f"no {label} block")
    inner = text.split(begin, 1)[1].split(end, 1)[0]
    try:
        return base64.b64decode("".join(inner.split()), validate=True)
    except ValueError as e:
        raise GMError(f"the {label} block is not base64") from e


# --- minimal DER, for the four structures above -----------------------------------------------------


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _seq(body: bytes) -> bytes:
    return b"\x30" + _len(len(body)) + body


def _int(v: int) -> bytes:
    b = v.to_bytes(v.bit_length() // 8 + 1, "big")
    return b"\x02" + _len(len(b)) + b


def _octets(b: bytes) -> bytes:
    return b"\x04" + _len(len(b)) + b


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        while p > 0x7F:
            p >>= 7
            chunk.append(0x80 | (p & 0x7F))
        out += bytes(reversed(chunk))
    return b"\x06" + _len(len(out)) + bytes(out)


class _Der:
    """A bounded reader of the few DER elements these structures hold."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = bytes(data), 0

    def take(self, tag: int) -> bytes:
        d, i = self.data, self.pos
        if i + 2 > len(d) or d[i] != tag:
            raise GMError(f"malformed DER: expected tag {tag:#x}")
        n, i = d[i + 1], i + 2
        if n & 0x80:
            k = n & 0x7F
            if not 1 <= k <= 3 or i + k > len(d):
                raise GMError("malformed DER length")
            n, i = int.from_bytes(d[i : i + k], "big"), i + k
        if i + n > len(d):
            raise GMError("DER element runs past its container")
        self.pos = i + n
        return d[i : i + n]

    def seq(self) -> _Der:
        return _Der(self.take(0x30))

    def integer(self) -> int:
        b = self.take(0x02)
        if not b:
            raise GMError("empty DER integer")
        return int.from_bytes(b, "big", signed=True)

    def oid(self) -> str:
        b = self.take(0x06)
        if not b:
            raise GMError("empty OID")
        parts, v = [b[0] // 40, b[0] % 40], 0
        for c in b[1:]:
            v = (v << 7) | (c & 0x7F)
            if not c & 0x80:
                parts.append(v)
                v = 0
        return ".".join(map(str, parts))


def _read_ints(der: bytes, count: int) -> list[int]:
    seq = _Der(der).seq()
    return [seq.integer() for _ in range(count)]


def _read_cipher(der: bytes) -> tuple[int, int, bytes, bytes]:
    seq = _Der(der).seq()
    x, y = seq.integer(), seq.integer()
    return x, y, seq.take(0x04), seq.take(0x04)
