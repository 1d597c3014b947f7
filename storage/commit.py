"""Group commit: concurrent writes share one durable LMDB transaction; each is answered after it.

The writer thread is the only place that opens write transactions in this process. Each submitted
operation runs in a nested transaction, so one that fails is rolled back alone and the others still
commit together.

A large write (a batch of 2,000 registrations) is submitted with a ``prepare`` step that the writer
runs just before the transaction: the request body is decoded and checked on the thread that then
applies it, while it is still in the CPU's cache, and outside LMDB's write lock. A group holds about
``max_weight`` items, so one large write is not prepared long before it is applied.

Every write in the project goes through a ``GroupCommitter``: the service's, while the node or a CLI
command has one open (imports included), and otherwise one started for the job and closed after it
(a mirror's first snapshot, an escrow restore into a new folder): ``with GroupCommitter(store) as
writer: writer.apply(op)``, with the same durable commit. ``run_group`` is the committer's own step;
nothing else calls it (tests/test_structure.py checks).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import lmdb

from .env import Store
from .space import commit_refused, map_full
from .txn import Tx

T = TypeVar("T")
WriteOp = Callable[[Tx], T]
Prepare = Callable[[], "WriteOp | None"]  # the operation to run, or None when nothing needs writing
NOTHING_WRITTEN = object()  # a prepared write's result when its preparation found nothing to write
_STOP = object()


def run_group(store: Store, ops: list[WriteOp]) -> list[tuple[bool, object]]:
    """Run ``ops`` in one transaction and commit it durably; (ok, result or exception) for each.

    A full map is grown and the whole group re-run, so an operation must depend only on what it reads.
    When the map is at its ceiling or the disk refuses the commit, the whole group fails with
    ``StoreFull`` or ``WriteFailed`` (storage.space) and nothing of it is written.
    """
    for _ in range(32):
        store.grow_if_needed()
        txn = store.begin_write()
        results: list[tuple[bool, object]] = []
        try:
            for op in ops:
                child = store.env.begin(write=True, parent=txn)
                try:
                    tx = Tx(child, store.dbs)
                    result = op(tx)
                    tx.flush()
                    results.append((True, result))
                    child.commit()
                except (lmdb.MapFullError, lmdb.DiskError):  # the group's problem, not this operation's
                    child.abort()
                    raise
                except Exception as exc:  # the operation's own refusal or bug: it alone is rolled back
                    child.abort()
                    results.append((False, exc))
            try:
                txn.commit()
            except lmdb.MapFullError:
                raise
            except lmdb.Error as e:  # the disk refused it (full, or failing): LMDB has aborted it
                raise commit_refused(e, store.path) from e
            return results
        except lmdb.MapFullError:
            txn.abort()
            if not store.grow_if_needed(force=True):
                raise map_full(store.max_map_size) from None
        except lmdb.DiskError as e:  # a write transaction spilling pages met a full volume
            txn.abort()
            raise commit_refused(e, store.path) from e
        except BaseException:
            txn.abort()
            raise
    raise map_full(store.max_map_size)


class GroupCommitter:
    """A writer thread that drains queued operations into shared, durable commits."""

    def __init__(self, store: Store, *, max_ops: int = 1024, max_weight: int = 2048,
                 on_commit: Callable[[int, float], None] | None = None):
        self.store = store
        self.max_ops = max_ops
        self.max_weight = max_weight  # items in a group, as the writes estimate them
        self.on_commit = on_commit  # (operations in the group, seconds the commit took)
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="idnode-group-commit", daemon=True)
        self._closed = False
        self._thread.start()

    def __enter__(self) -> GroupCommitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, op: WriteOp, weight: int = 1) -> Future:
        return self.submit_prepared(lambda: op, weight)

    def apply(self, op: WriteOp[T], weight: int = 1) -> T:
        """Run ``op`` in the next group and wait until it is durable: its result, or its refusal raised.
        It blocks the calling thread meanwhile (the service's asynchronous writes use ``submit``)."""
        return self.submit(op, weight).result()

    def submit_prepared(self, prepare: Prepare, weight: int) -> Future:
        """A write whose operation ``prepare()`` builds on the writer thread, just before the group's
        transaction (an exception it raises is this write's answer). ``weight``: about how many items."""
        fut: Future = Future()
        if self._closed:
            fut.set_exception(RuntimeError("the store is closing"))
            return fut
        self._q.put((fut, prepare, weight))
        return fut

    def backlog(self) -> int:
        """Operations submitted and not yet taken into a commit (for shedding load before it piles up)."""
        return self._q.qsize()

    def close(self, timeout: float = 30.0) -> None:
        """Finish what was submitted, then stop."""
        if not self._closed:
            self._closed = True
            self._q.put(_STOP)
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            item = self._q.get()
            if item is _STOP:
                return
            batch = [item]
            weight = item[2]
            stop = False
            while len(batch) < self.max_ops and weight < self.max_weight:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
                weight += nxt[2]
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list) -> None:
        live = []
        for fut, prepare, _ in batch:
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                op = prepare()
            except Exception as exc:  # the write's own answer, as a refusal from its operation is
                fut.set_exception(exc)
                continue
            if op is None:
                fut.set_result(NOTHING_WRITTEN)
                continue
            live.append((fut, op))
        if not live:
            return
        t0 = time.perf_counter()
        try:
            results = run_group(self.store, [op for _, op in live])
        except BaseException as exc:
            for fut, _ in live:
                fut.set_exception(exc)
            return
        if self.on_commit:
            self.on_commit(len(live), time.perf_counter() - t0)
        for (fut, _), (ok, value) in zip(live, results, strict=True):
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
