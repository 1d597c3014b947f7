"""Decoded records kept in memory, checked against the stored bytes on every use.

Each use reads the record's bytes from LMDB (a B-tree look-up) and compares them with the cached
copy, so a change made by any process, or by the CLI, is seen at once without invalidation messages.
What the transports render from a record (JSON, wire answers) is memoised on the entry.
"""

from __future__ import annotations

from protocol.values import HandleValue
from storage.records import Record, unpack_record


class Entry:
    __slots__ = ("raw", "record", "public", "all_public", "memo")

    def __init__(self, raw: bytes, record: Record):
        self.raw = raw
        self.record = record
        self.public: list[HandleValue] = [v for v in record.values if v.public_read]
        self.all_public = len(self.public) == len(record.values)
        self.memo: dict[object, bytes] = {}


class RecordCache:
    def __init__(self, max_entries: int = 100_000):
        self.max_entries = max_entries
        self._d: dict[bytes, Entry] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes, raw: bytes) -> Entry:
        e = self._d.get(key)
        if e is not None and e.raw == raw:
            self.hits += 1
            return e
        self.misses += 1
        e = Entry(raw, unpack_record(raw))
        d = self._d
        if len(d) >= self.max_entries:
            # Drop the oldest eighth: dicts keep insertion order, so this is a cheap approximate LRU.
            for k in list(d)[: self.max_entries // 8]:
                del d[k]
        d[key] = e
        return e

    def __len__(self) -> int:
        return len(self._d)
