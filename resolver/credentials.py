"""Secrets as salted slow hashes, HTTP Basic identities, and a short cache of verified secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from protocol.codes import RC, HandleError
from protocol.handles import fold

# scrypt at N=2^14, r=8: ~16 MiB and tens of milliseconds per check, too slow to guess at scale.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
NODE_ADMIN_INDEX = 300  # the index of an admin identity's secret in 0.NA/<prefix> (the node admin: the node's own)
_PREFIX = "scrypt:"
# The Handle protocol's HS_SECKEY challenge-response needs the secret itself (clients MAC with it
# under a salt they pick), so a node gives its service a sealer (resolver/assembly/service_setup.py):
# verifiers then carry a seventh field, the secret encrypted under a key kept outside LMDB
# (resolver/keys/sealed.py). HTTP never reads it.
Seal = Callable[[str], str]


def sealed_part(verifier: bytes | str) -> str | None:
    """The sealed secret a verifier carries, if any."""
    text = verifier.decode("utf-8", "replace") if isinstance(verifier, bytes) else verifier
    parts = text.split(":")
    return parts[6] if len(parts) == 7 and is_verifier(text) else None


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated ``index:handle`` (e.g. ``300:0.NA/88.101.5``)."""

    index: int
    handle: str
    node_admin: bool = False

    def __str__(self) -> str:
        return f"{self.index}:{self.handle}"

    @property
    def folded(self) -> str:
        return fold(self.handle)


def hash_secret(secret: str, *, n: int = SCRYPT_N, seal: Seal | None = None) -> str:
    """The verifier of ``secret``; with ``seal``, carrying the secret sealed for the Handle protocol."""
    salt = os.urandom(16)
    dk = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    v = f"{_PREFIX}{n}:{SCRYPT_R}:{SCRYPT_P}:{base64.b64encode(salt).decode()}:{base64.b64encode(dk).decode()}"
    return v if seal is None else f"{v}:{seal(secret)}"


def is_verifier(data: bytes | str) -> bool:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    parts = text.split(":")
    return len(parts) in (6, 7) and parts[0] == "scrypt" and all(p.isdigit() for p in parts[1:4])


# What a verifier may cost to check: the node's own parameters at most. A verifier is data a caller
# could once write, so its N, r and p must never decide how long a login takes.
MAX_SALT, MAX_DK = 64, 64


def verifier_problem(data: bytes | str) -> str | None:
    """Why a verifier given in a write is not taken as it is (None: it is one this node makes).

    The node chooses the parameters of its hashes: a write may carry a verifier made elsewhere only
    if it has exactly the node's N, r and p (an export of this node, say); anything else is refused
    rather than stored, since nobody could then log in with it at a bounded cost."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    parts = text.split(":")
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, dk = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except (ValueError, IndexError):
        return "it is not a well-formed scrypt verifier"
    if (n, r, p) != (SCRYPT_N, SCRYPT_R, SCRYPT_P):
        return (f"its scrypt parameters N={n}, r={r}, p={p} are not this node's (N={SCRYPT_N}, r={SCRYPT_R}, "
                f"p={SCRYPT_P}): send the secret itself and the node hashes it")
    if not 8 <= len(salt) <= MAX_SALT or not 16 <= len(dk) <= MAX_DK:
        return f"its salt ({len(salt)} bytes) or hash ({len(dk)} bytes) has an unusual length"
    return None


def check_secret(secret: str, verifier: str) -> bool:
    """Does ``secret`` match ``verifier``? A verifier whose parameters would cost more than the node's
    own (N, r, p, salt or hash length) matches nothing: the check is never run at a cost it names."""
    try:
        _, n, r, p, salt, dk = verifier.split(":")[:6]
        n_, r_, p_ = int(n), int(r), int(p)
        expect = base64.b64decode(dk)
        raw_salt = base64.b64decode(salt)
        if not (1 < n_ <= SCRYPT_N and 0 < r_ <= SCRYPT_R and 0 < p_ <= SCRYPT_P
                and len(raw_salt) <= MAX_SALT and 0 < len(expect) <= MAX_DK):
            return False
        got = hashlib.scrypt(secret.encode(), salt=raw_salt, n=n_, r=r_, p=p_,
                             dklen=len(expect), maxmem=64 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expect)


def new_secret() -> str:
    return secrets.token_urlsafe(18)


class VerifiedCache:
    """Remembers for a short while that a secret matched a verifier, keyed by a fast digest of both."""

    def __init__(self, ttl: float = 300.0, max_entries: int = 10_000):
        self.ttl = ttl
        self.max_entries = max_entries
        self._seen: dict[bytes, float] = {}

    @staticmethod
    def _key(secret: str, verifier: bytes) -> bytes:
        return hashlib.sha256(verifier + b"\0" + secret.encode()).digest()

    def fresh(self, secret: str, verifier: bytes) -> bool:
        """True when this secret was verified against this verifier a short while ago."""
        exp = self._seen.get(self._key(secret, verifier))
        return exp is not None and exp > time.monotonic()

    def key(self, secret: str, verifier: bytes) -> bytes:
        """What identifies one check: identical checks in flight share their work (resolver/kdfpool.py)."""
        return self._key(secret, verifier)

    def check(self, secret: str, verifier: bytes) -> bool:
        if self.fresh(secret, verifier):
            return True
        if not check_secret(secret, verifier.decode("utf-8", "replace")):
            return False
        if len(self._seen) >= self.max_entries:
            self._seen.clear()
        self._seen[self._key(secret, verifier)] = time.monotonic() + self.ttl
        return True


def parse_identity(text: str) -> tuple[int, str]:
    """``300:0.NA/88.101.5`` → (300, "0.NA/88.101.5")."""
    idx, sep, handle = text.partition(":")
    if not sep or not idx.isdigit() or not handle or "/" not in handle:
        raise HandleError(RC.AUTHENTICATION_NEEDED, f"identity {text!r} is not of the form index:prefix/suffix")
    return int(idx), handle


def parse_basic(header: str) -> tuple[int, str, str]:
    """HTTP Basic as Handle clients send it: user is ``index:handle`` (the colon percent-encoded)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "only HTTP Basic and Bearer authentication are accepted")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise HandleError(RC.AUTHENTICATION_NEEDED, "the Basic credentials are not valid base64 UTF-8") from None
    user, sep, secret = decoded.partition(":")
    if not sep:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "the Basic credentials have no ':' before the secret")
    if user.isdigit():
        # A client that did not percent-encode the identity's own colon: index:handle:secret.
        handle, sep, secret = secret.partition(":")
        if not sep:
            raise HandleError(RC.AUTHENTICATION_NEEDED, "the Basic credentials have no secret")
        return int(user), unquote(handle), secret
    index, handle = parse_identity(unquote(user))
    return index, handle, secret
