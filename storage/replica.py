"""A mirror's side of the change log: replaying a primary's entries (its snapshot is storage.backup's).

A mirror applies each entry through the same operations that wrote it on the primary, so the derived
indexes (per-prefix counts, the ``accounts`` index) stay in step, and writes it to its own change log
under the primary's sequence number in the same transaction. Its last sequence is therefore exactly
how far it has come: following resumes there after a restart, with nothing applied twice.
"""

from __future__ import annotations

from .records import unpack, unpack_record


class ReplayError(Exception):
    """The entries do not follow on from what this store holds (a gap, or another primary's log)."""


class ReplicaStore:
    """Mixed into ``Tx``."""

    __slots__ = ()

    def replay(self, seq: int, entry: list) -> None:
        op, k, payload, who, now = entry[:5]
        last = self._seq or self.last_seq()
        if seq != last + 1:
            raise ReplayError(f"change {seq} does not follow change {last}")
        self._seq = last  # the operation's own log() writes ``seq``
        self._first = entry[5] if len(entry) > 5 else seq  # ... marked as the primary's write marked it
        if op == "put":
            raw = self.get_raw(k)
            rec = unpack_record(payload)
            self.put_handle(rec.handle, list(rec.values), old=None if raw is None else unpack_record(raw),
                            who=who, now=now, k=k)
        elif op == "del":
            if self.delete_handle(k.decode(), who=who, now=now) is None:
                self.log(op, k, payload, who, now)  # absent already: keep the sequence all the same
        elif op == "prefix":
            self.put_prefix(unpack(payload), who=who, now=now)
        elif op == "prefix-del":
            if not self.delete_prefix(k.decode(), who=who, now=now):
                self.log(op, k, payload, who, now)
        elif op == "template":
            self.put_template(unpack(payload), who=who, now=now)
        elif op == "template-del":
            prefix, _, version = k.decode().partition("\0")
            if not self.delete_template(prefix, version, who=who, now=now):
                self.log(op, k, payload, who, now)
        else:
            self.log(op, k, payload, who, now)  # a kind this version does not know: keep its place

