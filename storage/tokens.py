"""Bearer tokens in LMDB: what each was issued to, until when; expired ones purged in time order.

- ``tokens``: SHA-256 of the token → msgpack ``{"index", "handle", "expires", "issued", "client", "cred"}``
  (``cred``: a digest of the verifier the token was issued for; resolver/service/tokens.py)
- ``token_exp``: expiry (8 bytes, big-endian seconds) + SHA-256 → ``b""`` (the oldest first, to purge)

Only the digest is kept: a copy of the database (a backup, a mirror) holds no token that works.
"""

from __future__ import annotations

import struct

from .records import pack, unpack

TOKEN_DBS = ("tokens", "token_exp")

_EXP = struct.Struct(">Q")


class TokenStore:
    """Token operations, mixed into ``storage.txn.Tx`` (which supplies ``txn`` and ``dbs``)."""

    __slots__ = ()

    def put_token(self, digest: bytes, rec: dict) -> None:
        self.txn.put(digest, pack(rec), db=self.dbs["tokens"])
        self.txn.put(_EXP.pack(rec["expires"]) + digest, b"", db=self.dbs["token_exp"])

    def get_token(self, digest: bytes) -> dict | None:
        db = self.dbs.get("tokens")
        raw = self.txn.get(digest, db=db) if db is not None else None
        return None if raw is None else unpack(raw)

    def delete_token(self, digest: bytes) -> bool:
        raw = self.txn.pop(digest, db=self.dbs["tokens"])
        if raw is None:
            return False
        self.txn.delete(_EXP.pack(unpack(raw)["expires"]) + digest, db=self.dbs["token_exp"])
        return True

    def purge_tokens(self, now: int, limit: int = 1000) -> int:
        """Delete up to ``limit`` tokens that expired before ``now``; how many."""
        cur = self.txn.cursor(db=self.dbs["token_exp"])
        gone = 0
        while gone < limit and cur.first():
            k = cur.key()
            if _EXP.unpack_from(k)[0] >= now:
                break
            cur.delete()
            self.txn.delete(k[_EXP.size:], db=self.dbs["tokens"])
            gone += 1
        return gone

    def list_tokens(self, limit: int | None = None) -> list[tuple[bytes, dict]]:
        """Up to ``limit`` tokens (every one kept, expired ones not yet purged included, when None), by
        digest: (digest, record)."""
        db = self.dbs.get("tokens")
        if db is None:
            return []
        out = []
        for k, v in self.txn.cursor(db=db):
            if limit is not None and len(out) >= limit:
                break
            out.append((bytes(k), unpack(v)))
        return out

    def find_token(self, digest_prefix: bytes) -> bytes | None:
        """The one digest starting with ``digest_prefix`` (None when none does, or more than one)."""
        db = self.dbs.get("tokens")
        if db is None or not digest_prefix:
            return None
        cur = self.txn.cursor(db=db)
        if not cur.set_range(digest_prefix) or not bytes(cur.key()).startswith(digest_prefix):
            return None
        found = bytes(cur.key())
        if cur.next() and bytes(cur.key()).startswith(digest_prefix):
            return None
        return found
