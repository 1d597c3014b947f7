"""Sessions (RFC 3651 §3.8, opcodes 400-402), laid out as Handle.Net 9.3.1 writes them.

Session setup request body (opcode 400)::

    key exchange mode u16 | timeout u32 (seconds) | identity handle (len+bytes) | identity index u32 |
      mode 1 (client cipher), 4 (Diffie-Hellman): the client's public key (len+bytes, HS_PUBKEY layout)
      mode 3 (key in a handle): exchange key handle (len+bytes) | index u32
      mode 2 (server cipher): nothing

Handle.Net sizes the mode as four bytes but writes two, so its bodies end with two zero bytes; a
reader ignores what follows the fields. Session setup answer body (after the request digest)::

    key exchange mode u16 | data (len+bytes) | (two zero bytes, as above)

``data`` is, by mode: 4 the server's Diffie-Hellman public key after a u32 cipher code; 1 and 3 the
session key (a u32 cipher code, then the key) encrypted with the client's RSA key; 2 the server's
RSA public key, the client then sending the session key encrypted with it (opcode 402, body: the
encrypted key, len+bytes).

Messages in a session carry an HS_MAC credential (protocol/credential.py: the signer-index slot
holds the session counter; the MAC covers ``credential.signed_data``), and the envelope's encrypted
flag says that everything after the envelope is ``IV | AES-CBC(message)`` under the session key.
The key exchange and the ciphers need keys and randomness: resolver/handle/sessions.py does them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .wire import Reader, WireError, Writer

NONE = 0
CIPHER_CLIENT = 1
CIPHER_SERVER = 2
CIPHER_HDL = 3
DIFFIE_HELLMAN = 4
MODE_NAMES = {CIPHER_CLIENT: "client cipher", CIPHER_SERVER: "server cipher", CIPHER_HDL: "key in a handle",
              DIFFIE_HELLMAN: "Diffie-Hellman"}

# Cipher codes of a session key (HdlSecurityProvider's numbering).
DES, DESEDE, AES = 1, 2, 3

MAC_SHA256 = "HMAC-SHA256"  # the MAC of protocol 2.7 and later
MAC_SHA1 = "HMAC-SHA1"
MAX_KEY = 16 * 1024
NO_INDEX = 0xFFFFFFFF  # -1 as a u32: "no identity"
_TAIL = b"\0\0"


@dataclass(frozen=True, slots=True)
class SessionSetupRequest:
    mode: int
    timeout: int = 24 * 3600
    identity_handle: str = ""
    identity_index: int = NO_INDEX
    public_key: bytes = b""  # modes 1 and 4
    exchange_handle: str = ""  # mode 3
    exchange_index: int = 0

    @property
    def anonymous(self) -> bool:
        return not self.identity_handle or self.identity_index == NO_INDEX

    def write(self, w: Writer) -> None:
        w.u16(self.mode).u32(self.timeout).text(self.identity_handle).u32(self.identity_index)
        if self.mode in (CIPHER_CLIENT, DIFFIE_HELLMAN):
            w.blob(self.public_key)
        elif self.mode == CIPHER_HDL:
            w.text(self.exchange_handle).u32(self.exchange_index)
        w.raw(_TAIL)

    @classmethod
    def read(cls, r: Reader) -> SessionSetupRequest:
        mode = r.u16("key exchange mode")
        timeout = r.u32("session timeout")
        handle = r.blob("identity handle", 1024).decode("utf-8", "replace")
        index = r.u32("identity index")
        key, xhandle, xindex = b"", "", 0
        if mode in (CIPHER_CLIENT, DIFFIE_HELLMAN):
            key = r.blob("exchange key", MAX_KEY)
        elif mode == CIPHER_HDL:
            xhandle = r.blob("exchange key handle", 1024).decode("utf-8", "replace")
            xindex = r.u32("exchange key index")
        elif mode != CIPHER_SERVER:
            raise WireError(f"unknown key exchange mode {mode}")
        r.raw(r.remaining)  # Handle.Net's two padding bytes
        return cls(mode, timeout, handle, index, key, xhandle, xindex)


@dataclass(frozen=True, slots=True)
class SessionSetupResponse:
    mode: int
    data: bytes

    def write(self, w: Writer) -> None:
        w.u16(self.mode).blob(self.data).raw(_TAIL)

    @classmethod
    def read(cls, r: Reader) -> SessionSetupResponse:
        mode = r.u16("key exchange mode")
        data = r.blob("key exchange data", MAX_KEY)
        r.raw(r.remaining)
        return cls(mode, data)


@dataclass(frozen=True, slots=True)
class ExchangeKeyRequest:
    """Opcode 402: the session key, encrypted with the server's RSA key (server-cipher mode)."""

    encrypted_key: bytes

    def write(self, w: Writer) -> None:
        w.blob(self.encrypted_key)

    @classmethod
    def read(cls, r: Reader) -> ExchangeKeyRequest:
        key = r.blob("encrypted session key", MAX_KEY)
        r.raw(r.remaining)
        return cls(key)


def cipher_key(code: int, key: bytes) -> bytes:
    """``u32 cipher code | key``: how a session key travels inside an RSA envelope."""
    return Writer().u32(code).raw(key).getvalue()


def split_cipher_key(data: bytes) -> tuple[int, bytes]:
    r = Reader(data)
    return r.u32("cipher code"), r.raw(r.remaining)
