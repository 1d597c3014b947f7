"""A consistent copy of a live store, and the facts a backup's manifest states about it.

The copy and the facts come from one read transaction: the copy is the store exactly as it was at
change-log sequence ``change_seq``, whatever the writers did meanwhile. It never blocks them
(LMDB MVCC), but pages they free during the copy are reused only once it ends, so a long copy
under heavy writing makes the data file grow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from .env import Store
from .txn import Tx

DATA_FILE = "data.mdb"


@dataclass(frozen=True)
class Snapshot:
    change_seq: int  # the last change-log sequence the copy holds
    handles: int  # records, prefix handles included
    prefix_counts: dict[str, int]  # the per-prefix counters: folded prefix -> handles
    prefixes: int  # allocated prefixes (the node's own and its enterprises')
    templates: int
    events: int
    node_prefix: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def snapshot_of(tx: Tx) -> Snapshot:
    dbs = tx.dbs

    def entries(name: str) -> int:
        return 0 if dbs.get(name) is None else tx.txn.stat(dbs[name])["entries"]

    return Snapshot(change_seq=tx.last_seq(), handles=entries("handles"), prefix_counts=tx.prefix_counters(),
                    prefixes=entries("prefixes"), templates=entries("templates"), events=entries("events"),
                    node_prefix=tx.get_meta("node_prefix"))


def copy_snapshot(store: Store, dest: Path) -> Snapshot:
    """Write a compacted copy of the store into the empty folder ``dest``; the facts of that copy."""
    with store.read() as tx:
        store.env.copy(str(dest), compact=True, txn=tx.txn)
        return snapshot_of(tx)


def snapshot_at(path: Path) -> Snapshot:
    """The facts of the store in folder ``path`` (opened read-only)."""
    store = Store(path, readonly=True)
    try:
        with store.read() as tx:
            return snapshot_of(tx)
    finally:
        store.close()
