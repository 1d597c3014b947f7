"""Handle sessions (opcode 400): the table of open sessions, the key exchanges and the session ciphers.

A session gives a client a key shared with the node, so that its later requests are MACed (an
HS_MAC credential, protocol/sessions.py) and, when it asks, encrypted; once the client has answered
one challenge in the session as the identity it named when setting it up, its later requests in the
session are carried out as that identity without a new challenge. This is what Handle.Net's
``HandleResolver`` does for every administrative request.

A session cannot be taken over by someone else:

- its id is 31 random bits (``secrets``), never a counter;
- it is bound to the address it was set up from: a request from elsewhere finds no session;
- every request in it but a challenge answer must carry a valid MAC under the session key, with a
  session counter not seen before (a replayed request is refused);
- it is authenticated only for the identity named at setup, and only by answering a challenge.

It expires after the time-out the client asked for, at most ``max_timeout``. The table holds at most
``per_address`` sessions per address and ``limit`` in all; past either, the oldest goes first.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from protocol import sessions as ps
from protocol.codes import RC, HandleError
from protocol.credential import MAC, Credential, signed_data
from protocol.pubkey import DH, RSA, PublicKey

from ..credentials import Identity
from .challenges import Pending

DEFAULT_TIMEOUT = 24 * 3600  # Handle.Net's default (Common.DEFAULT_SESSION_TIMEOUT)
AES_KEY_SIZE = 16  # Handle.Net's AES key generator makes 128-bit keys
DH_KEY_SIZE = 32  # a Diffie-Hellman AES session key: the first 32 bytes of the shared secret
# A client names the Diffie-Hellman group; bound its size, so that one set-up costs at most a few
# tens of milliseconds (Handle.Net clients use 1024 bits).
DH_MIN_BITS, DH_MAX_BITS = 1024, 2048
# The node's private exponent: 256 random bits, at least twice the strength of a 2048-bit group
# (NIST SP 800-56A), and a quarter of the work of a full-size exponent.
DH_EXPONENT_BITS = 256
MAX_COUNTERS = 64  # session counters remembered per session, for replay refusal (older ones: refused)
# Requests held for the challenges open in sessions, in all: past this, the oldest are dropped (their
# answer then finds no challenge, RC 405). A request may be 4 MB; sessions must not hold 10,000 of them.
MAX_PENDING_BYTES = 64 << 20


class SessionError(HandleError):
    pass


class Duplicate(Exception):
    """The very message already received in the session (a retransmission over UDP)."""


@dataclass(slots=True, eq=False)
class Session:
    id: int
    address: str | None
    mode: int
    expires: float
    identity: tuple[int, str] | None  # (index, handle) named at set-up; None: anonymous
    version: tuple[int, int]
    key: bytes | None = None  # None until a server-cipher client sends it (opcode 402)
    cipher: int = ps.AES
    encrypt_all: bool = False
    authenticated: Identity | None = None  # set once a challenge in the session was answered
    pending: Pending | None = None  # the open challenge of this session
    counters: dict[int, int] = field(default_factory=dict)  # session counter -> request id
    floor: int = -1  # counters at or below this were forgotten: refused too

    def accept_counter(self, counter: int, request_id: int) -> bool:
        """False for a counter already used (a replayed message); raises Duplicate for the same
        message again (same counter and request id: a UDP client sending its request once more)."""
        seen = self.counters.get(counter)
        if seen is not None:
            if seen == request_id:
                raise Duplicate()
            return False
        if counter <= self.floor:
            return False
        if len(self.counters) >= MAX_COUNTERS:
            # Keep the newest half; what is forgotten stays refused (Handle.Net's counters only grow).
            keep = sorted(self.counters)[MAX_COUNTERS // 2:]
            self.floor = keep[0] - 1
            self.counters = {c: self.counters[c] for c in keep}
        self.counters[counter] = request_id
        return True


class SessionTable:
    def __init__(self, *, limit: int = 10_000, per_address: int = 32, max_timeout: float = DEFAULT_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic, max_pending_bytes: int = MAX_PENDING_BYTES):
        self.limit = limit
        self.max_pending_bytes = max_pending_bytes
        self._held: OrderedDict[int, int] = OrderedDict()  # session id -> bytes of its pending request
        self._held_bytes = 0
        self.per_address = per_address
        self.max_timeout = max_timeout
        self.clock = clock
        self._sessions: OrderedDict[int, Session] = OrderedDict()
        self._by_address: dict[str | None, OrderedDict[int, None]] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, address: str | None, mode: int, timeout: int, identity: tuple[int, str] | None,
             version: tuple[int, int]) -> Session:
        now = self.clock()
        self._expire(now)
        mine = self._by_address.setdefault(address, OrderedDict())
        while len(mine) >= self.per_address:
            self.remove(next(iter(mine)))
        while len(self._sessions) >= self.limit:
            self.remove(next(iter(self._sessions)))
        sid = 0
        while sid == 0 or sid in self._sessions:
            sid = secrets.randbits(31)
        life = min(timeout if timeout > 0 else DEFAULT_TIMEOUT, self.max_timeout)
        s = Session(sid, address, mode, now + life, identity, version)
        self._sessions[sid] = s
        self._by_address.setdefault(address, OrderedDict())[sid] = None
        return s

    def has(self, sid: int) -> bool:
        return sid in self._sessions

    def get(self, sid: int, address: str | None) -> Session | None:
        """The live session ``sid`` of ``address``; None when there is none (or it is another's)."""
        s = self._sessions.get(sid)
        if s is None:
            return None
        if s.expires <= self.clock():
            self.remove(sid)
            return None
        return s if s.address == address else None

    def hold(self, session: Session, pending: Pending) -> None:
        """Open ``pending`` as the challenge of ``session``, within the bound on held requests."""
        self.release(session)
        size = pending.size
        while self._held and self._held_bytes + size > self.max_pending_bytes:
            oldest, _ = next(iter(self._held.items()))
            other = self._sessions.get(oldest)
            if other is not None:
                other.pending = None
            self._held_bytes -= self._held.pop(oldest)
        session.pending = pending
        self._held[session.id] = size
        self._held_bytes += size

    def release(self, session: Session) -> Pending | None:
        """The challenge open in ``session``, no longer held."""
        pending, session.pending = session.pending, None
        self._held_bytes -= self._held.pop(session.id, 0)
        return pending

    def remove(self, sid: int) -> None:
        s = self._sessions.pop(sid, None)
        if s is None:
            return
        self._held_bytes -= self._held.pop(sid, 0)
        mine = self._by_address.get(s.address)
        if mine is not None:
            mine.pop(sid, None)
            if not mine:
                del self._by_address[s.address]

    def _expire(self, now: float) -> None:
        # Sessions are kept in set-up order; time-outs differ, so look at a few of the oldest only.
        for sid in list(self._sessions)[:8]:
            if self._sessions[sid].expires <= now:
                self.remove(sid)


# -- key exchange ----------------------------------------------------------------------------------

def _int_bytes(n: int) -> bytes:
    return n.to_bytes(n.bit_length() // 8 + 1, "big")


def dh_exchange(client_key: bytes) -> tuple[bytes, bytes]:
    """Diffie-Hellman in the client's group: (answer data, session key). The answer data is the
    cipher code (AES) then the node's public key in HS_PUBKEY layout."""
    try:
        key = PublicKey.from_wire(client_key)
    except HandleError:
        raise SessionError(RC.SESSION_FAILED, "the Diffie-Hellman key of the session set-up is malformed") from None
    if key.key_type != DH or len(key.parts) != 3:
        raise SessionError(RC.SESSION_FAILED, f"a Diffie-Hellman set-up carries a DH_PUB_KEY, not {key.key_type}")
    y, p, g = key.numbers()
    if not DH_MIN_BITS <= p.bit_length() <= DH_MAX_BITS or p % 2 == 0:
        raise SessionError(RC.SESSION_FAILED,
                           f"a Diffie-Hellman group of {p.bit_length()} bits is refused ({DH_MIN_BITS}-{DH_MAX_BITS})")
    if not (1 < g < p - 1 and 1 < y < p - 1):
        raise SessionError(RC.SESSION_FAILED, "the Diffie-Hellman public value is out of range")
    # The modular exponentiations themselves, not cryptography's DH objects: those check that the
    # client's p is a safe prime on every set-up (half a second of CPU for anyone who asks), and the
    # group is the client's choice, whose strength only the client's own session depends on.
    x = secrets.randbits(DH_EXPONENT_BITS) | (1 << (DH_EXPONENT_BITS - 1))
    shared = pow(y, x, p).to_bytes((p.bit_length() + 7) // 8, "big")
    y_ours = pow(g, x, p)
    # Java pads the shared secret to the size of p, then skips leading zeros while more than the
    # key size remains: the key is the first 32 bytes from there.
    i = 0
    while i + DH_KEY_SIZE < len(shared) and shared[i] == 0:
        i += 1
    session_key = shared[i:i + DH_KEY_SIZE]
    public = PublicKey(DH, (_int_bytes(y_ours), _int_bytes(p), _int_bytes(g))).to_wire()
    return ps.cipher_key(ps.AES, public), session_key


def rsa_public(hs_pubkey: bytes) -> rsa.RSAPublicKey:
    try:
        key = PublicKey.from_wire(hs_pubkey)
        if key.key_type != RSA:
            raise SessionError(RC.SESSION_FAILED, f"a session key is sent under an RSA key, not {key.key_type}")
        e, n = key.rsa_numbers()
        return rsa.RSAPublicNumbers(e, n).public_key()
    except SessionError:
        raise
    except (HandleError, ValueError):
        raise SessionError(RC.SESSION_FAILED, "the exchange key is not a usable RSA public key") from None


def wrap_new_key(key: rsa.RSAPublicKey) -> tuple[bytes, bytes]:
    """A fresh AES session key, and the same (after its cipher code) encrypted with ``key``."""
    session_key = os.urandom(AES_KEY_SIZE)
    return key.encrypt(ps.cipher_key(ps.AES, session_key), asym_padding.PKCS1v15()), session_key


def unwrap_key(private: rsa.RSAPrivateKey, data: bytes) -> tuple[int, bytes]:
    """The (cipher code, key) a server-cipher client encrypted with the node's key."""
    try:
        code, key = ps.split_cipher_key(private.decrypt(data, asym_padding.PKCS1v15()))
    except (ValueError, HandleError):
        raise SessionError(RC.SESSION_FAILED, "the session key could not be decrypted with the node's key") from None
    if code != ps.AES or len(key) not in (16, 24, 32):
        raise SessionError(RC.SESSION_FAILED, f"session cipher {code} is not supported (AES only)")
    return code, key


# -- MACs and the session cipher ------------------------------------------------------------------

_MAC_HASHES = {ps.MAC_SHA256: "sha256", ps.MAC_SHA1: "sha1"}


def _mac_hash(name: str) -> str:
    h = _MAC_HASHES.get(name.upper().replace("_", "-"))
    if h is None:
        raise SessionError(RC.INVALID_SESSION_KEY, f"session MAC algorithm {name!r} is not supported")
    return h


def check_mac(session: Session, cred: Credential | None, major: int, minor: int, suggest_major: int,
              suggest_minor: int, request_id: int, header_and_body: bytes) -> None:
    """Raise unless ``cred`` is an HS_MAC under the session key over this message, with a counter
    not used before in the session."""
    if cred is None or cred.type != MAC:
        raise SessionError(RC.INVALID_SESSION_KEY, "a request in a session must carry the session's MAC")
    if session.key is None:
        raise SessionError(RC.SESSION_FAILED, "the session key was never sent (opcode 402)")
    if (major, minor) < (2, 7):
        raise SessionError(RC.SESSION_FAILED, "sessions need protocol 2.7 or later here")
    data = signed_data(major, minor, suggest_major, suggest_minor, session.id, request_id, cred.signer_index,
                       header_and_body)
    expected = hmac.new(session.key, data, _mac_hash(cred.digest_algorithm)).digest()
    if not hmac.compare_digest(expected, cred.signature):
        raise SessionError(RC.INVALID_SESSION_KEY, "the session MAC does not match")
    if not session.accept_counter(cred.signer_index, request_id):
        raise SessionError(RC.SESSION_MESSAGE_REJECTED, f"session counter {cred.signer_index} was already used")


def _aes(key: bytes) -> algorithms.AES:
    return algorithms.AES(key[:16])  # Handle.Net keys AES with the first 16 bytes


def encrypt(key: bytes, plain: bytes) -> bytes:
    """``IV | AES-128-CBC(PKCS#7(plain))`` as Handle.Net's session cipher (protocol 2.4 and later)."""
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain) + padder.finalize()
    enc = Cipher(_aes(key), modes.CBC(iv)).encryptor()
    return iv + enc.update(data) + enc.finalize()


def decrypt(key: bytes, data: bytes) -> bytes:
    if len(data) < 32 or len(data) % 16:
        raise SessionError(RC.SESSION_FAILED, "an encrypted message must be an IV and whole AES blocks")
    dec = Cipher(_aes(key), modes.CBC(data[:16])).decryptor()
    padded = dec.update(data[16:]) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise SessionError(RC.SESSION_FAILED, "the message could not be decrypted with the session key") from None


__all__ = ["Duplicate", "Session", "SessionError", "SessionTable", "check_mac", "decrypt", "dh_exchange", "encrypt", "hashes",
           "rsa_public", "unwrap_key", "wrap_new_key"]
