"""Records kept in memory as their stored bytes and rendered answers, checked against LMDB on every use.

Each use reads the record's bytes from LMDB (a B-tree look-up) and compares them with the cached
copy, so a change made by any process, or by the CLI, is seen at once without invalidation messages.

An entry is a plain tuple of bytes, flags and strings. CPython stops tracking such tuples in its
garbage collector, so a cache of hundreds of thousands of records adds nothing to collection pauses
(decoded records, lists and dicts per entry made full collections take half a second).
"""

from __future__ import annotations

import hashlib

from protocol.values import HandleValue
from storage.records import Record, unpack_record


def record_version(raw: bytes) -> str:
    """A name for one version of a stored record (HTTP's ETag): a digest of its stored bytes, which
    every write that changes something changes (values carry their write's timestamp)."""
    return hashlib.blake2b(raw, digest_size=12).hexdigest()

# (raw record bytes, every value public?, rendered JSON values | None, spelling of the Handle-protocol
#  answer body kept | None, that body | None)
Entry = tuple[bytes, bool, bytes | None, str | None, bytes | None]

RAW, ALL_PUBLIC, JSON, HDL_SPELLING, HDL_BODY = range(5)


class RecordCache:
    def __init__(self, max_entries: int = 100_000):
        self.max_entries = max_entries
        self._d: dict[bytes, Entry] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes, raw: bytes) -> tuple[Entry, Record | None]:
        """The entry for these stored bytes, and the record when it had to be decoded just now."""
        e = self._d.get(key)
        if e is not None and e[RAW] == raw:
            self.hits += 1
            return e, None
        self.misses += 1
        record = unpack_record(raw)
        e = (raw, all(v.public_read for v in record.values), None, None, None)
        d = self._d
        if len(d) >= self.max_entries:
            # Drop the oldest eighth: dicts keep insertion order, so this is a cheap approximate LRU.
            for k in list(d)[: self.max_entries // 8]:
                del d[k]
        d[key] = e
        return e, record

    def remember(self, key: bytes, entry: Entry, kind: str, body: bytes, spelling: str) -> None:
        """Keep a rendered answer on the entry, unless the record changed meanwhile."""
        if self._d.get(key) is not entry:
            return
        if kind == "json":
            self._d[key] = (entry[0], entry[1], body, entry[3], entry[4])
        else:
            self._d[key] = (entry[0], entry[1], entry[2], spelling, body)

    def __len__(self) -> int:
        return len(self._d)


class Resolution:
    """A resolved handle as a caller may see it; decodes and filters only when asked."""

    __slots__ = ("handle", "key", "entry", "indexes", "types", "full", "_cache", "_record", "_values")

    def __init__(self, handle: str, key: bytes, entry: Entry, cache: RecordCache, record: Record | None,
                 indexes: set[int] | None, types: list[str] | None, full: bool):
        self.handle = handle  # as the client asked for it
        self.key = key
        self.entry = entry
        self._cache = cache
        self._record = record
        self.indexes = indexes
        self.types = types
        self.full = full  # the caller may read values that are not public
        self._values: list[HandleValue] | None = None

    @property
    def version(self) -> str:
        return record_version(self.entry[RAW])

    @property
    def all_public(self) -> bool:
        return self.entry[ALL_PUBLIC]

    @property
    def unfiltered_public(self) -> bool:
        """The answer is exactly the record's public values (so a kept rendering of them serves)."""
        return not self.indexes and not self.types and (self.entry[ALL_PUBLIC] or not self.full)

    @property
    def record(self) -> Record:
        if self._record is None:
            self._record = unpack_record(self.entry[RAW])
        return self._record

    @property
    def values(self) -> list[HandleValue]:
        if self._values is None:
            from protocol.values import select

            vals = self.record.values
            if not self.full and not self.entry[ALL_PUBLIC]:
                vals = [v for v in vals if v.public_read]
            self._values = select(vals, self.indexes, self.types)
        return self._values

    def rendered(self, kind: str) -> bytes | None:
        """A kept rendering of the unfiltered public answer: "json" (values only) or "hdl" (this spelling)."""
        e = self.entry
        if kind == "json":
            return e[JSON]
        return e[HDL_BODY] if e[HDL_SPELLING] == self.handle else None

    def remember(self, kind: str, body: bytes) -> None:
        self._cache.remember(self.key, self.entry, kind, body, self.handle)
