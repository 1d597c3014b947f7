"""Upstream work not yet acknowledged: the federation outbox.

- ``outbox``: sequence (8 bytes, big-endian) → msgpack entry (``{"op", "prefix", …, "at"}``)
- ``meta`` ``o:<upstream>``: the last sequence that upstream acknowledged (its cursor)

An entry is written in the same transaction as the change it reports (allocating a prefix writes
the prefix and the work of registering it upstream together), so neither exists without the other.
Each upstream reads the outbox in sequence order from its own cursor; an entry is removed once every
configured upstream has acknowledged it.
"""

from __future__ import annotations

import struct

from .records import pack, unpack

OUTBOX_DBS = ("outbox",)
_SEQ = struct.Struct(">Q")


def _cursor_key(upstream: str) -> bytes:
    return b"o:" + upstream.encode()


class OutboxStore:
    """Outbox operations; mixed into ``Tx`` (they need its ``txn`` and ``dbs``)."""

    __slots__ = ()

    def outbox_put(self, entry: dict) -> int:
        db = self.dbs["outbox"]
        cur = self.txn.cursor(db=db)
        seq = (_SEQ.unpack(cur.key())[0] if cur.last() else self.outbox_floor()) + 1
        self.txn.put(_SEQ.pack(seq), pack(entry), db=db, append=True)
        return seq

    def outbox_floor(self) -> int:
        """The highest sequence ever removed (so numbering goes on after the outbox empties)."""
        raw = self.txn.get(b"o-floor", db=self.dbs["meta"])
        return 0 if raw is None else unpack(raw)

    def outbox_after(self, seq: int, limit: int = 1) -> list[tuple[int, dict]]:
        cur = self.txn.cursor(db=self.dbs["outbox"])
        out: list[tuple[int, dict]] = []
        if cur.set_range(_SEQ.pack(seq + 1)):
            for k, raw in cur:
                out.append((_SEQ.unpack(k)[0], unpack(raw)))
                if len(out) >= limit:
                    break
        return out

    def outbox_last(self) -> int:
        cur = self.txn.cursor(db=self.dbs["outbox"])
        return _SEQ.unpack(cur.key())[0] if cur.last() else self.outbox_floor()

    def outbox_cursor(self, upstream: str) -> int | None:
        raw = self.txn.get(_cursor_key(upstream), db=self.dbs["meta"])
        return None if raw is None else unpack(raw)

    def set_outbox_cursor(self, upstream: str, seq: int) -> None:
        self.txn.put(_cursor_key(upstream), pack(seq), db=self.dbs["meta"])

    def drop_outbox_cursor(self, upstream: str) -> None:
        self.txn.delete(_cursor_key(upstream), db=self.dbs["meta"])

    def outbox_trim(self, upstreams: list[str]) -> int:
        """Remove what every upstream has acknowledged; the number removed."""
        cursors = [self.outbox_cursor(u) or 0 for u in upstreams]
        done = min(cursors) if cursors else 0
        db = self.dbs["outbox"]
        cur = self.txn.cursor(db=db)
        removed = 0
        while cur.first() and _SEQ.unpack(cur.key())[0] <= done:
            cur.delete()
            removed += 1
        if removed and done > self.outbox_floor():
            self.txn.put(b"o-floor", pack(done), db=self.dbs["meta"])
        return removed

    def outbox_depth(self, after: int = 0) -> tuple[int, int | None]:
        """How many entries lie after ``after``, and when the oldest of them was written."""
        cur = self.txn.cursor(db=self.dbs["outbox"])
        n, oldest = 0, None
        if cur.set_range(_SEQ.pack(after + 1)):
            oldest = unpack(cur.value()).get("at")
            n = 1
            while cur.next():
                n += 1
        return n, oldest
