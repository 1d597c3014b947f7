"""The audit trail in LMDB: who tried to change what, when, from where, and with what result.

- ``audit``: sequence (8 bytes, big-endian) → msgpack of one entry (a dict; see resolver/audit_trail.py)

Sequences are dense (1, 2, 3 …) and entries are appended in the order their transactions commit,
which is also, to within the few milliseconds a batch of refusals waits, the order of their times
(``t``, milliseconds since the epoch). So a time is found by bisecting the sequence range: a few
page reads however long the trail, with no index to keep.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .records import pack, unpack

AUDIT_DBS = ("audit",)

_SEQ = struct.Struct(">Q")


class AuditStore:
    """Audit operations, mixed into ``storage.txn.Tx`` (which supplies ``txn`` and ``dbs``)."""

    __slots__ = ()

    def put_audit(self, entry: dict) -> int:
        """Append one entry; its sequence number."""
        db = self.dbs["audit"]
        cur = self.txn.cursor(db=db)
        seq = _SEQ.unpack(cur.key())[0] + 1 if cur.last() else 1
        self.txn.put(_SEQ.pack(seq), pack(entry), db=db, append=True)
        return seq

    def audit_bounds(self) -> tuple[int, int]:
        """(first, last) sequence held; (0, 0) when the trail is empty."""
        db = self.dbs.get("audit")
        if db is None:  # a read-only store of a folder made before the audit trail existed
            return 0, 0
        cur = self.txn.cursor(db=db)
        if not cur.first():
            return 0, 0
        first = _SEQ.unpack(cur.key())[0]
        cur.last()
        return first, _SEQ.unpack(cur.key())[0]

    def audit_entry(self, seq: int) -> dict | None:
        raw = self.txn.get(_SEQ.pack(seq), db=self.dbs["audit"])
        return None if raw is None else unpack(raw)

    def audit_seq_at(self, ms: int) -> int:
        """The first sequence whose entry's time is at or after ``ms`` (one past the last if none)."""
        lo, hi = self.audit_bounds()
        if hi == 0:
            return 1
        hi += 1
        while lo < hi:
            mid = (lo + hi) // 2
            entry = self.audit_entry(mid)
            if entry is not None and entry.get("t", 0) < ms:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def audit_from(self, seq: int) -> Iterator[tuple[int, dict]]:
        """Entries from ``seq`` on, in sequence order."""
        db = self.dbs.get("audit")
        if db is None:
            return
        cur = self.txn.cursor(db=db)
        if cur.set_range(_SEQ.pack(max(seq, 0))):
            for k, raw in cur:
                yield _SEQ.unpack(k)[0], unpack(raw)
