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

# Everything kept for one identifier, in one tuple under one key (no per-entry dict or object): (raw record
# bytes, every value public?, rendered JSON values | None, spelling of the Handle-protocol answer body
# kept | None, that body | None, the HTTP ETag header | None, the scanner's redirect target as aiohttp
# writes it in Location, "" for none | None, the whole HTTP answers the front keeps (resolver/http/front.py:
# ``Answers``) | None). What is derived is filled in by the first request that needs it; a write makes new
# stored bytes, hence a new entry with none of it.
Entry = tuple[bytes, bool, bytes | None, str | None, bytes | None, str | None, str | None, tuple | None]

RAW, ALL_PUBLIC, JSON, HDL_SPELLING, HDL_BODY, ETAG, TARGET, HTTP = range(8)


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
        e = (raw, all(v.public_read for v in record.values), None, None, None, None, None, None)
        d = self._d
        if len(d) >= self.max_entries:
            # Drop the oldest eighth: dicts keep insertion order, so this is a cheap approximate LRU.
            for k in list(d)[: self.max_entries // 8]:
                del d[k]
        d[key] = e
        return e, record

    def remember(self, key: bytes, entry: Entry, kind: str, body: bytes, spelling: str) -> Entry:
        """Keep a rendered answer on the entry, unless the record changed meanwhile; the entry now."""
        if kind == "json":
            new = entry[:JSON] + (body,) + entry[JSON + 1:]
        else:
            new = entry[:HDL_SPELLING] + (spelling, body) + entry[HDL_BODY + 1:]
        return self._replace(key, entry, new)

    def remember_http(self, key: bytes, entry: Entry, etag: str, target: str) -> Entry:
        """Keep the ETag header and the redirect target on the entry (resolver/http/fastget.py)."""
        return self._replace(key, entry, entry[:ETAG] + (etag, target) + entry[HTTP:])

    def remember_answers(self, key: bytes, entry: Entry, answers: tuple) -> Entry:
        """Keep the encoded HTTP answers on the entry (resolver/http/front.py), unless the record changed."""
        return self._replace(key, entry, entry[:HTTP] + (answers,))

    def drop_hdl(self, key: bytes, raw: bytes) -> None:
        """Forget the Handle answer body kept for these stored bytes: the Handle fast path keeps the
        framed answer itself (resolver/handle/fastpath.py), so the body would be kept twice."""
        e = self._d.get(key)
        if e is not None and e[HDL_BODY] is not None and e[RAW] is raw:
            self._d[key] = e[:HDL_SPELLING] + (None, None) + e[HDL_BODY + 1:]

    def _replace(self, key: bytes, entry: Entry, new: Entry) -> Entry:
        d = self._d
        if d.get(key) is not entry:
            return entry  # the record changed (or the entry went) meanwhile: keep nothing
        d[key] = new  # the dict keeps the key object it first stored
        return new

    def stored(self, key: bytes, raw: bytes) -> bytes | None:
        """The cache's own copy of ``raw`` for ``key`` when it holds these bytes (so that other tables
        can keep a reference instead of a copy), else None."""
        e = self._d.get(key)
        return e[RAW] if e is not None and e[RAW] == raw else None

    def peek(self, key: bytes) -> Entry | None:
        """The entry kept for ``key``, unchecked (for tests and tools)."""
        return self._d.get(key)

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
        self.entry = self._cache.remember(self.key, self.entry, kind, body, self.handle)

    def http_kept(self) -> tuple[str, str] | None:
        """The kept ETag header and redirect target, None when not worked out yet."""
        e = self.entry
        return None if e[ETAG] is None else (e[ETAG], e[TARGET])

    def remember_http(self, etag: str, target: str) -> None:
        self.entry = self._cache.remember_http(self.key, self.entry, etag, target)
