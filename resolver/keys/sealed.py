"""HS_SECKEY secrets sealed for the Handle protocol's challenge-response.

HTTP checks a secret against its scrypt verifier: the client sends the secret itself. The Handle
protocol never sends it: a Handle.Net client answers a challenge with a MAC keyed by the secret
(at protocol 2.7 and later PBKDF2-HMAC-SHA1 under a salt *the client picks* each time, before
that HMAC or a keyed hash), so the server must hold something from which it can recompute that
MAC for any salt, that is, the secret. A verifier cannot do that.

So when a node sets a secret it keeps, next to the verifier, the secret encrypted with AES-256-GCM
under the node's seal key (``DATA/seckey-seal.key``, 0600, never in LMDB). The database alone, a
copy of it or a mirror's copy, reveals nothing (an ``idnode backup`` folder, which holds the key
too, does); HTTP keeps checking the verifier only; the
Handle protocol unseals the secret just long enough to check one proof.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .keyfiles import load_or_create_seal_key

TAG = "hs1"  # the first token of a sealed secret: format version 1
_AAD = b"idnode HS_SECKEY seal v1"


class Sealer:
    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    @classmethod
    def for_data(cls, data_dir: Path) -> Sealer:
        return cls(load_or_create_seal_key(data_dir))

    def seal(self, secret: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, secret.encode("utf-8"), _AAD)
        # base64url so that the token holds no ':' (the verifier's field separator).
        return TAG + "." + base64.urlsafe_b64encode(nonce + ct).decode().rstrip("=")

    def unseal(self, token: str) -> str | None:
        """The secret, or None when the token is not ours (another node's key, damaged, unknown format)."""
        tag, _, body = token.partition(".")
        if tag != TAG or not body:
            return None
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return self._aead.decrypt(raw[:12], raw[12:], _AAD).decode("utf-8")
        except (ValueError, InvalidTag, UnicodeDecodeError):
            return None
