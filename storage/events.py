"""EPCIS events in LMDB: the events themselves and the indexes that make a timeline or a lineage step
one range read.

- ``events``: event key → msgpack ``[event JSON, time ms, its document's JSON-LD context, capturer]``
  (``capturer``: the identity that captured it; absent on events stored before it was kept)
- ``ev_time``: time(8) + event key → ``b""`` (every event in time order: unfiltered queries, paging)
- ``ev_ident``: identifier + NUL + time(8) + event key → ``b""`` (an item's timeline)
- ``ev_down``: upstream + NUL + downstream + NUL + event key (child → parent, input → output)
- ``ev_up``: downstream + NUL + upstream + NUL + event key (parent → child, output → input)
- ``ev_jobs``: capture job id → msgpack status

Identifiers are the canonical spellings of ``protocol.epcis_ids``; a key part longer than LMDB
allows is replaced by its SHA-256. Events are immutable: storing an id again does nothing, except
that an error declaration is attached to the event it declares.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable

import msgpack

from protocol.epcis import EventFacts, facts

EVENT_DBS = ("events", "ev_time", "ev_ident", "ev_down", "ev_up", "ev_jobs")
INDEX_DBS = ("ev_time", "ev_ident", "ev_down", "ev_up")

_T = struct.Struct(">Q")
_EPOCH_SHIFT = 1 << 62  # times before 1970 still sort first
_MAX_PART = 160
_pack = msgpack.Packer(use_bin_type=True).pack


def part(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > _MAX_PART or b"\0" in raw:
        return b"#" + hashlib.sha256(raw).digest()
    return raw


def _t(ms: int) -> bytes:
    return _T.pack(ms + _EPOCH_SHIFT)


class EventStore:
    """Event operations, mixed into ``storage.txn.Tx`` (which supplies ``txn`` and ``dbs``)."""

    __slots__ = ()

    def get_event(self, event_id: str) -> tuple[dict, int, object] | None:
        """(event, time ms, the JSON-LD context of the document it came in)."""
        raw = self.txn.get(part(event_id), db=self.dbs["events"])
        return None if raw is None else tuple(msgpack.unpackb(raw, raw=False)[:3])

    def load_event(self, event_key: bytes) -> tuple[dict, int, object]:
        return tuple(msgpack.unpackb(self.txn.get(event_key, db=self.dbs["events"]), raw=False)[:3])

    def load_event_row(self, event_key: bytes) -> tuple[dict, int, object, str | None]:
        """(event, time ms, context, the identity that captured it or None)."""
        row = msgpack.unpackb(self.txn.get(event_key, db=self.dbs["events"]), raw=False)
        return row[0], row[1], row[2], (row[3] if len(row) > 3 else None)

    def event_capturer(self, event_id: str) -> tuple[bool, str | None]:
        """(is the event stored, the identity that captured it: None when not known)."""
        raw = self.txn.get(part(event_id), db=self.dbs["events"])
        if raw is None:
            return False, None
        row = msgpack.unpackb(raw, raw=False)
        return True, row[3] if len(row) > 3 else None

    def put_event(self, f: EventFacts, event: dict, context: object = None, capturer: str | None = None) -> str:
        """Store one event with its indexes: "stored", "duplicate", or "declared" (an error declaration
        attached to an event stored before; whether the caller may declare it is the service's to decide)."""
        k = part(f.event_id)
        dbs, txn = self.dbs, self.txn
        old = txn.get(k, db=dbs["events"])
        if old is not None:
            row = msgpack.unpackb(old, raw=False)
            stored = row[0]
            if f.declared and "errorDeclaration" not in stored:
                stored["errorDeclaration"] = event["errorDeclaration"]
                txn.put(k, _pack(row), db=dbs["events"])
                return "declared"
            return "duplicate"
        txn.put(k, _pack((event, f.time, context, capturer)), db=dbs["events"])
        tk = _t(f.time)
        txn.put(tk + k, b"", db=dbs["ev_time"])
        ident = dbs["ev_ident"]
        for i in f.identifiers:
            txn.put(part(i) + b"\0" + tk + k, b"", db=ident)
        down, up = dbs["ev_down"], dbs["ev_up"]
        for a, b in f.links():
            pa, pb = part(a), part(b)
            txn.put(pa + b"\0" + pb + b"\0" + k, b"", db=down)
            txn.put(pb + b"\0" + pa + b"\0" + k, b"", db=up)
        return "stored"

    def event_keys_for(self, ident: str, start: bytes | None = None, lo: int | None = None,
                       hi: int | None = None):
        """Event keys naming ``ident`` in time order from ``lo`` (ms, inclusive) to ``hi`` (exclusive).
        Yields (index key, event key); ``start`` resumes after an index key."""
        base = part(ident) + b"\0"
        cur = self.txn.cursor(db=self.dbs["ev_ident"])
        first = base + (_t(lo) if lo is not None else b"")
        if start is not None and start > first:
            first = start
        if not cur.set_range(first):
            return
        end = base + _t(hi) if hi is not None else None
        for key in cur.iternext(keys=True, values=False):
            if not key.startswith(base) or (end is not None and key >= end):
                return
            if start is not None and key == start:
                continue
            yield key, key[len(base) + 8:]

    def event_keys_by_time(self, start: bytes | None = None, lo: int | None = None, hi: int | None = None):
        cur = self.txn.cursor(db=self.dbs["ev_time"])
        first = _t(lo) if lo is not None else b""
        if start is not None and start > first:
            first = start
        if not cur.set_range(first):
            return
        end = _t(hi) if hi is not None else None
        for key in cur.iternext(keys=True, values=False):
            if end is not None and key >= end:
                return
            if start is not None and key == start:
                continue
            yield key, key[8:]

    def linked(self, ident: str, direction: str, limit: int | None = None) -> list[tuple[str, bytes]]:
        """One lineage step: (identifier key part, event key) upstream ("up") or downstream ("down"); at most
        ``limit`` of them."""
        base = part(ident) + b"\0"
        cur = self.txn.cursor(db=self.dbs["ev_up" if direction == "up" else "ev_down"])
        out = []
        if cur.set_range(base):
            for key in cur.iternext(keys=True, values=False):
                if not key.startswith(base) or (limit is not None and len(out) >= limit):
                    break
                other, _, ek = key[len(base):].partition(b"\0")
                out.append((other.decode("utf-8", "replace"), ek))
        return out

    def put_job(self, job_id: str, status: dict) -> None:
        self.txn.put(job_id.encode(), _pack(status), db=self.dbs["ev_jobs"])

    def get_job(self, job_id: str) -> dict | None:
        raw = self.txn.get(job_id.encode(), db=self.dbs["ev_jobs"])
        return None if raw is None else msgpack.unpackb(raw, raw=False)

    def count_events(self) -> int:
        return self.txn.stat(self.dbs["events"])["entries"]

    def check_event_indexes(self, problem: Callable[[str], None]) -> int:
        """Each stored event against the indexes: the entries its facts call for are there, and each
        index holds no others (compared by count, which with the first check means the same set).
        Returns the number of events."""
        dbs, txn = self.dbs, self.txn
        expected = dict.fromkeys(INDEX_DBS, 0)
        n = 0
        for k, raw in txn.cursor(db=dbs["events"]):
            n += 1
            try:
                row = msgpack.unpackb(raw, raw=False)
                event, t = row[0], row[1]  # then the context, and (since it was kept) the capturer
                f = facts(event)
            except Exception as e:  # garbage of any kind is a finding, not a crash of the check
                problem(f"event {k!r} does not decode: {e}")
                continue
            if part(f.event_id) != k:
                problem(f"event {f.event_id!r} is stored under another key ({k!r})")
            tk = _t(t)
            want = [("ev_time", tk + k)] + [("ev_ident", part(i) + b"\0" + tk + k) for i in f.identifiers]
            for a, b in set(f.links()):
                pa, pb = part(a), part(b)
                want += [("ev_down", pa + b"\0" + pb + b"\0" + k), ("ev_up", pb + b"\0" + pa + b"\0" + k)]
            for name, ik in want:
                expected[name] += 1
                if txn.get(ik, db=dbs[name]) is None:
                    problem(f"event {f.event_id!r}: an entry of index {name} is missing")
        for name, count in expected.items():
            have = txn.stat(dbs[name])["entries"]
            if have != count:
                problem(f"index {name} holds {have:,} entries; the stored events call for {count:,}")
        return n
