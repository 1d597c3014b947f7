"""Pruning the change log: dropping its oldest entries once every reader of them has what they hold.

Half of what an identifier costs on disk is its entries in the change log (README "Scale"), and the
log grows with every write forever unless it is pruned. Its readers are the mirrors (which replay it)
and the daily reports upstream (built from it). What may go is decided above (resolver/
changelog_pruning.py); this module keeps the log's numbering whole when its start is removed:

- ``meta`` ``c-floor``: the highest sequence ever pruned. The log goes on numbering from there when it
  is empty (``Tx.last_seq``), and a reader asking for changes after a sequence below it is told that
  they are gone (it must start again from a snapshot).
- ``meta`` ``ma:<mirror>``: what each mirror has acknowledged (``{"applied": seq, "seen": time}``):
  a mirror that asks for the changes after N has applied everything up to N.
"""

from __future__ import annotations

import struct

from .records import pack, unpack

_SEQ = struct.Struct(">Q")
_FLOOR = b"c-floor"
_ACK = b"ma:"


class ChangeLogPruning:
    """Mixed into ``Tx`` (it needs its ``txn`` and ``dbs``)."""

    __slots__ = ()

    def changelog_floor(self) -> int:
        """The highest sequence pruned from the change log (0: nothing ever was)."""
        raw = self.txn.get(_FLOOR, db=self.dbs["meta"])
        return 0 if raw is None else unpack(raw)

    def prune_changes(self, through: int, before: int, limit: int) -> int:
        """Remove the oldest changes, up to sequence ``through`` and written before time ``before``, at
        most ``limit`` of them (a long log is pruned over several transactions); how many went."""
        cur = self.txn.cursor(db=self.dbs["changelog"])
        removed, last = 0, 0
        while removed < limit and cur.first():
            seq = _SEQ.unpack(cur.key())[0]
            if seq > through or unpack(cur.value())[4] >= before:
                break
            cur.delete()
            removed, last = removed + 1, seq
        if removed and last > self.changelog_floor():
            self.txn.put(_FLOOR, pack(last), db=self.dbs["meta"])
        return removed

    def first_change(self) -> tuple[int, int] | None:
        """(sequence, time) of the oldest change the log still holds."""
        cur = self.txn.cursor(db=self.dbs["changelog"])
        if not cur.first():
            return None
        return _SEQ.unpack(cur.key())[0], unpack(cur.value())[4]

    def mirror_ack(self, mirror: str) -> dict | None:
        raw = self.txn.get(_ACK + mirror.encode(), db=self.dbs["meta"])
        return None if raw is None else unpack(raw)

    def put_mirror_ack(self, mirror: str, applied: int, seen: int) -> None:
        self.txn.put(_ACK + mirror.encode(), pack({"applied": applied, "seen": seen}), db=self.dbs["meta"])

    def mirror_acks(self) -> dict[str, dict]:
        """Every mirror's acknowledgement: name → ``{"applied", "seen"}``."""
        out = {}
        cur = self.txn.cursor(db=self.dbs["meta"])
        if cur.set_range(_ACK):
            for k, raw in cur:
                if not k.startswith(_ACK):
                    break
                out[k[len(_ACK):].decode()] = unpack(raw)
        return out

    def delete_mirror_ack(self, mirror: str) -> None:
        self.txn.delete(_ACK + mirror.encode(), db=self.dbs["meta"])

    def forget_mirror_acks(self) -> None:
        """Drop every mirror's acknowledgement (a store copied to become a mirror has no mirrors)."""
        for name in list(self.mirror_acks()):
            self.delete_mirror_ack(name)
