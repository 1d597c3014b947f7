"""Check a store's derived data against what it is derived from (``idnode verify``).

Everything is read in one read transaction, so the check runs beside a serving node and sees one
committed state. It reads every record, so its time grows with the store (a full scan); on a busy
node, pages freed meanwhile are reused only once it ends.

What is checked:
- every handle record decodes and is stored under the key of its own spelling;
- each per-prefix counter equals the number of records under that prefix;
- ``accounts`` holds exactly the HS_SECKEY values of the records, with the same data, and ``gs1``
  exactly the GS1 keys they carry;
- every event decodes, and the event indexes hold exactly the entries the events call for;
- the change log decodes and its sequence has no gaps;
- prefix and template records decode.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from protocol.gs1 import GS1
from protocol.handles import fold, key
from protocol.values import HS_SECKEY

from .env import Store
from .records import unpack, unpack_record
from .txn import _SEQ, Tx, account_key

MAX_LISTED = 200  # problems listed in full; past this they are only counted


@dataclass
class Report:
    handles: int = 0
    prefix_counts: dict[str, int] = field(default_factory=dict)  # folded prefix -> records counted
    accounts: int = 0
    gs1: int = 0
    events: int = 0
    changes: int = 0
    last_seq: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(text)


def verify(store: Store) -> Report:
    report = Report()
    with store.read() as tx:
        accounts, gs1 = _check_handles(tx, report)
        _check_counters(tx, report)
        _check_index(tx, report, "accounts", accounts)
        if tx.dbs.get("gs1") is not None:
            _check_index(tx, report, "gs1", gs1)
        if tx.dbs.get("events") is not None:
            report.events = tx.check_event_indexes(report.problem)
        _check_changelog(tx, report)
        _check_records(tx, report)
    return report


def _rows(tx: Tx, name: str):
    """(key, value) of a named database in key order; none when a read-only open found it absent."""
    db = tx.dbs.get(name)
    return iter(()) if db is None else tx.txn.cursor(db=db)


def _check_handles(tx: Tx, report: Report) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
    """Decode every record, count them per prefix; returns the accounts and gs1 entries they call for."""
    counts: Counter = Counter()
    accounts: dict[bytes, bytes] = {}
    gs1: dict[bytes, bytes] = {}
    for k, raw in _rows(tx, "handles"):
        report.handles += 1
        try:
            rec = unpack_record(raw)
            stored_under = key(rec.handle)
        except Exception as e:  # garbage of any kind is a finding, not a crash of the check
            report.problem(f"handle record {k!r} does not decode: {e}")
            continue
        if stored_under != k:
            report.problem(f"handle {rec.handle!r} is stored under another key ({k!r})")
        counts[fold(rec.handle.partition("/")[0])] += 1
        for v in rec.values:
            if v.type == HS_SECKEY:
                accounts[account_key(v.index, rec.handle)] = v.data
        if any(v.type == GS1 for v in rec.values):
            try:
                gs1.update(tx.gs1_entries_for(k, rec.values))
            except Exception as e:
                report.problem(f"handle {rec.handle!r}: a GS1 value does not read as a GS1 key: {e}")
    report.prefix_counts = dict(counts)
    return accounts, gs1


def _check_counters(tx: Tx, report: Report) -> None:
    counters = tx.prefix_counters()
    for prefix in sorted(counters.keys() | report.prefix_counts.keys()):
        said, found = counters.get(prefix, 0), report.prefix_counts.get(prefix, 0)
        if said != found:
            report.problem(f"prefix {prefix}: its counter says {said:,} handles; {found:,} are stored")


_INDEXED = {"accounts": "HS_SECKEY value", "gs1": "GS1 value"}


def _check_index(tx: Tx, report: Report, name: str, expected: dict[bytes, bytes]) -> None:
    """An index kept in step with the records holds exactly the entries they call for."""
    what = _INDEXED[name]
    seen = set()
    for k, data in _rows(tx, name):
        setattr(report, name, getattr(report, name) + 1)
        seen.add(k)
        want = expected.get(k)
        if want is None:
            report.problem(f"{name} entry {k.decode(errors='replace')} has no {what} behind it (stale)")
        elif want != data:
            report.problem(f"{name} entry {k.decode(errors='replace')} differs from its {what}")
    for k in sorted(expected.keys() - seen):
        report.problem(f"{what} {k.decode(errors='replace')} is missing from the {name} index")


def _check_changelog(tx: Tx, report: Report) -> None:
    previous = tx.changelog_floor() or None  # the log starts after what pruning removed (storage/pruning.py)
    for k, raw in _rows(tx, "changelog"):
        report.changes += 1
        seq = _SEQ.unpack(k)[0] if len(k) == _SEQ.size else None
        if seq is None:
            report.problem(f"change log key {k!r} is not a sequence number")
            continue
        if previous is not None and seq != previous + 1:
            report.problem(f"change log jumps from {previous} to {seq}")
        previous = seq
        try:
            unpack(raw)
        except Exception as e:
            report.problem(f"change {seq} does not decode: {e}")
    report.last_seq = previous or 0


def _check_records(tx: Tx, report: Report) -> None:
    for name in ("prefixes", "templates"):
        for k, raw in _rows(tx, name):
            try:
                unpack(raw)
            except Exception as e:
                report.problem(f"{name} record {k!r} does not decode: {e}")
