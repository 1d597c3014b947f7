"""Intent-level operations inside one LMDB transaction: handles, the change log and derived indexes."""

from __future__ import annotations

import struct

import lmdb

from protocol.gs1 import GS1
from protocol.handles import fold, key
from protocol.values import HS_SECKEY, HandleValue

from .audit import AUDIT_DBS, AuditStore
from .events import EVENT_DBS, EventStore
from .gs1index import GS1_DBS, GS1Index
from .outbox import OUTBOX_DBS, OutboxStore
from .pruning import ChangeLogPruning
from .records import Record, pack, pack_record, unpack, unpack_record
from .replica import ReplicaStore
from .stats import STATS_DBS, StatsStore, day_of, registrations_key
from .tokens import TOKEN_DBS, TokenStore

# Named databases. ``accounts`` indexes every HS_SECKEY value (index:handle → verifier), ``gs1`` every
# GS1 value (key → handle), ``meta`` holds node settings and per-prefix counters.
DBS = ("handles", "prefixes", "templates", "accounts", "changelog", "meta", *EVENT_DBS, *OUTBOX_DBS, *GS1_DBS,
       *AUDIT_DBS, *TOKEN_DBS, *STATS_DBS)

_SEQ = struct.Struct(">Q")
_COUNT = struct.Struct("<q")


_COUNT_PREFIX = b"n:"


def _count_key(prefix: str) -> bytes:
    return _COUNT_PREFIX + fold(prefix).encode()


_INDEXED_TYPES = frozenset((HS_SECKEY, GS1))  # values with an index of their own (accounts, gs1)


def _indexed(values) -> bool:
    for v in values:
        if v[1] in _INDEXED_TYPES:
            return True
    return False


def account_key(index: int, handle: str) -> bytes:
    """Where the ``accounts`` index keeps the verifier of HS_SECKEY value ``index`` of ``handle``."""
    return f"{index}:{fold(handle)}".encode()


class Tx(EventStore, OutboxStore, ReplicaStore, ChangeLogPruning, GS1Index, AuditStore, TokenStore, StatsStore):
    """A read or write transaction with the operations the service needs; one place knows the layout."""

    __slots__ = ("txn", "dbs", "_handles", "_seq", "_first", "_counts", "_created")

    def __init__(self, txn: lmdb.Transaction, dbs: dict):
        self.txn = txn
        self.dbs = dbs
        self._handles = dbs["handles"]
        self._seq = 0
        self._first = 0  # the first change this write logs: every change of one write carries it
        self._counts: dict[bytes, int] = {}
        # Records created, per (folded prefix, write time): added to the per-prefix counters and the
        # day's registrations (``_settle``) once per prefix, not per record, before anything reads them.
        self._created: dict[tuple[bytes, int], int] = {}

    # --- handles -------------------------------------------------------------------------------
    def get_raw(self, k: bytes) -> bytes | None:
        return self.txn.get(k, db=self._handles)

    def get_handle(self, handle: str) -> Record | None:
        raw = self.txn.get(key(handle), db=self._handles)
        return None if raw is None else unpack_record(raw)

    def put_handle(self, handle: str, values: list[HandleValue], *, old: Record | None, who: str, now: int,
                   k: bytes | None = None) -> None:
        """Create or replace a record; ``old`` is what the caller read in this transaction (``k``, its
        key, when the caller has it already)."""
        if k is None:
            k = key(handle)
        spelling = old.handle if old is not None else handle
        before = old.values if old is not None else ()
        indexed = _indexed(before) or _indexed(values)  # most records carry no secret and no GS1 key
        gs1 = self.gs1_plan(k, before, values) if indexed else None  # refuses a key taken, before any write
        raw = pack_record(spelling, values)
        self.txn.put(k, raw, db=self._handles)
        if old is None:
            created = self._created
            t = (k[:k.index(b"/")], now)
            created[t] = created.get(t, 0) + 1
        if indexed:
            self._sync_accounts(spelling, before, values)
        if gs1 is not None:
            self.gs1_apply(k, *gs1)
        self.log("put", k, raw, who, now)

    def delete_handle(self, handle: str, *, who: str, now: int) -> Record | None:
        k = key(handle)
        raw = self.txn.pop(k, db=self._handles)
        if raw is None:
            return None
        old = unpack_record(raw)
        self._bump_key(k, -1)
        self._sync_accounts(old.handle, old.values, ())
        gs1 = self.gs1_plan(k, old.values, ())
        if gs1 is not None:
            self.gs1_apply(k, *gs1)
        self.log("del", k, None, who, now)
        return old

    def list_handles(self, prefix: str, offset: int, limit: int) -> list[str]:
        """Handles under ``prefix`` in key order (their registered spellings)."""
        start = fold(prefix).encode() + b"/"
        out: list[str] = []
        cur = self.txn.cursor(db=self._handles)
        if not cur.set_range(start):
            return out
        skipped = 0
        for k, raw in cur:
            if not k.startswith(start):
                break
            if skipped < offset:
                skipped += 1
                continue
            out.append(unpack_record(raw).handle)
            if len(out) >= limit:
                break
        return out

    def iter_records(self, prefix: str | None = None):
        """Every record in key order, or those under ``prefix``."""
        start = fold(prefix).encode() + b"/" if prefix else b""
        cur = self.txn.cursor(db=self._handles)
        if cur.set_range(start):
            for k, raw in cur:
                if start and not k.startswith(start):
                    break
                yield unpack_record(raw)

    def count_handles(self, prefix: str) -> int:
        self._settle()
        k = _count_key(prefix)
        raw = self.txn.get(k, db=self.dbs["meta"])
        return (_COUNT.unpack(raw)[0] if raw else 0) + self._counts.get(k, 0)

    def total_handles(self) -> int:
        return self.txn.stat(self._handles)["entries"]

    def prefix_counters(self) -> dict[str, int]:
        """Every per-prefix handle counter: folded prefix -> count (what ``count_handles`` reads)."""
        out = {}
        cur = self.txn.cursor(db=self.dbs["meta"])
        if cur.set_range(_COUNT_PREFIX):
            for k, raw in cur:
                if not k.startswith(_COUNT_PREFIX):
                    break
                out[k[len(_COUNT_PREFIX):].decode()] = _COUNT.unpack(raw)[0]
        return out

    def _bump_key(self, handle_key: bytes, delta: int) -> None:
        """Count a record of ``handle_key`` in or out; the key's folded prefix names its counter."""
        k = _COUNT_PREFIX + handle_key[:handle_key.index(b"/")]
        self._counts[k] = self._counts.get(k, 0) + delta

    def _settle(self) -> None:
        """Add the records created so far to the per-prefix counters and to the day's registrations
        (for the top-level node's reports), in ``_counts``."""
        if not self._created:
            return
        counts = self._counts
        for (prefix_key, now), n in self._created.items():
            k = _COUNT_PREFIX + prefix_key
            counts[k] = counts.get(k, 0) + n
            k = registrations_key(day_of(now), prefix_key)
            counts[k] = counts.get(k, 0) + n
        self._created.clear()

    def flush(self) -> None:
        """Write what this transaction deferred (the per-prefix counters). Called before commit."""
        self._settle()
        meta = self.dbs["meta"]
        for k, delta in self._counts.items():
            if delta:
                raw = self.txn.get(k, db=meta)
                self.txn.put(k, _COUNT.pack((_COUNT.unpack(raw)[0] if raw else 0) + delta), db=meta)
        self._counts.clear()

    # --- accounts: secret-key verifiers, kept in step with HS_SECKEY values -------------------
    def _sync_accounts(self, handle: str, old, new) -> None:
        if not any(v[1] == HS_SECKEY for v in old) and not any(v[1] == HS_SECKEY for v in new):
            return
        before = {v.index: v.data for v in old if v.type == HS_SECKEY}
        after = {v.index: v.data for v in new if v.type == HS_SECKEY}
        acc = self.dbs["accounts"]
        for index in before.keys() - after.keys():
            self.txn.delete(account_key(index, handle), db=acc)
        for index, data in after.items():
            if before.get(index) != data:
                self.txn.put(account_key(index, handle), data, db=acc)

    def get_verifier(self, index: int, handle: str) -> bytes | None:
        return self.txn.get(account_key(index, handle), db=self.dbs["accounts"])

    # --- prefixes, templates, settings ----------------------------------------------------------
    def get_prefix(self, prefix: str) -> dict | None:
        raw = self.txn.get(fold(prefix).encode(), db=self.dbs["prefixes"])
        return None if raw is None else unpack(raw)

    def put_prefix(self, rec: dict, *, who: str, now: int) -> None:
        k = fold(rec["prefix"]).encode()
        raw = pack(rec)
        self.txn.put(k, raw, db=self.dbs["prefixes"])
        self.log("prefix", k, raw, who, now)

    def delete_prefix(self, prefix: str, *, who: str, now: int) -> bool:
        k = fold(prefix).encode()
        if not self.txn.delete(k, db=self.dbs["prefixes"]):
            return False
        self.txn.delete(_count_key(prefix), db=self.dbs["meta"])
        self._settle()
        self._counts.pop(_count_key(prefix), None)
        self.log("prefix-del", k, None, who, now)
        return True

    def list_prefixes(self) -> list[dict]:
        return [unpack(raw) for _, raw in self.txn.cursor(db=self.dbs["prefixes"])]

    def get_template(self, prefix: str, version: str) -> dict | None:
        raw = self.txn.get(_template_key(prefix, version), db=self.dbs["templates"])
        return None if raw is None else unpack(raw)

    def put_template(self, tpl: dict, *, who: str, now: int) -> None:
        k = _template_key(tpl["prefix"], tpl["version"])
        raw = pack(tpl)
        self.txn.put(k, raw, db=self.dbs["templates"])
        self.log("template", k, raw, who, now)

    def delete_template(self, prefix: str, version: str, *, who: str, now: int) -> bool:
        k = _template_key(prefix, version)
        if not self.txn.delete(k, db=self.dbs["templates"]):
            return False
        self.log("template-del", k, None, who, now)
        return True

    def list_templates(self, prefix: str | None = None) -> list[dict]:
        cur = self.txn.cursor(db=self.dbs["templates"])
        if prefix is None:
            return [unpack(raw) for _, raw in cur]
        start = fold(prefix).encode() + b"\0"
        out = []
        if cur.set_range(start):
            for k, raw in cur:
                if not k.startswith(start):
                    break
                out.append(unpack(raw))
        return out

    def get_meta(self, name: str) -> object:
        raw = self.txn.get(b"s:" + name.encode(), db=self.dbs["meta"])
        return None if raw is None else unpack(raw)

    def put_meta(self, name: str, value: object) -> None:
        self.txn.put(b"s:" + name.encode(), pack(value), db=self.dbs["meta"])

    def delete_meta(self, name: str) -> None:
        self.txn.delete(b"s:" + name.encode(), db=self.dbs["meta"])

    # --- change log: the ordered record of every mutation (mirrors, upstream sync, audit) ------
    def log(self, op: str, k: bytes, payload: bytes | None, who: str, now: int) -> int:
        """Append a change: ``[op, key, payload, who, when, first]``, where ``first`` is the sequence of the
        first change of the same write, so a reader can take the log in whole writes (mirrors do)."""
        seq = (self._seq or self.last_seq()) + 1
        self._seq = seq
        if not self._first:
            self._first = seq
        self.txn.put(_SEQ.pack(seq), pack([op, k, payload, who, now, self._first]), db=self.dbs["changelog"],
                     append=True)
        return seq

    def last_seq(self) -> int:
        """The newest change's sequence (the highest pruned when pruning emptied the log, storage/pruning.py)."""
        cur = self.txn.cursor(db=self.dbs["changelog"])
        return _SEQ.unpack(cur.key())[0] if cur.last() else self.changelog_floor()

    def changes(self, after: int, limit: int) -> list[tuple[int, list]]:
        """The changes after ``after``: ``limit`` of them, and then the rest of the write the last one belongs
        to, so that the answer never ends inside a write (one write's changes are applied together or not
        at all; a mirror replaying them never shows a state the primary never had)."""
        cur = self.txn.cursor(db=self.dbs["changelog"])
        out: list[tuple[int, list]] = []
        if cur.set_range(_SEQ.pack(after + 1)):
            for k, raw in cur:
                seq, entry = _SEQ.unpack(k)[0], unpack(raw)
                if len(out) >= limit and change_starts_write(seq, entry):
                    break
                out.append((seq, entry))
        return out


def change_starts_write(seq: int, entry: list) -> bool:
    """Is this change the first of its write? (Changes logged before writes were marked stand alone.)"""
    return len(entry) < 6 or entry[5] == seq


def _template_key(prefix: str, version: str) -> bytes:
    return fold(prefix).encode() + b"\0" + version.encode()
