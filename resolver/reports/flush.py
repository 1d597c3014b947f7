"""Moving one worker's counts into the store, once a second, through the group committer.

Counts go to the UTC day in which they are flushed, so a request in the last second of a day may be
counted to the next. Only prefixes this node holds are kept: a resolution of someone else's prefix
costs a dictionary slot for at most a second.
"""

from __future__ import annotations

import asyncio
import logging
import time

from storage import Tx
from storage.stats import day_of

from ..counters import OK, Counters, requests_of
from ..service import Service

log = logging.getLogger("idnode.reports")

FLUSH_EVERY = 1.0
IDLE_WRITE_EVERY = 10.0  # with nothing counted, the serving time is still recorded this often
FLUSHED_META = "stats_flushed_at"  # when the reporting worker last flushed (``report send`` waits for it)
FLUSH_WANTED_META = "stats_flush_wanted"  # set by ``report send``: flush now, whatever the counts


class Flusher:
    """One worker's flushing task. ``first``: the worker that also records serving time and answers
    ``report send``'s request for a flush (one per node, so serving time is not counted twice)."""

    def __init__(self, svc: Service, *, first: bool):
        self.svc = svc
        self.first = first
        assert svc.counters is not None, "the service counts only when it was given counters (resolver/assembly/serve.py)"
        self.counters: Counters = svc.counters
        self.task: asyncio.Task | None = None
        self.last_flush = time.time()
        self.last_write = 0.0
        self.pending_up = 0.0

    async def start(self) -> None:
        if self.first:
            now = time.time()

            def first_day(tx: Tx) -> None:  # availability counts from the node's first day of counting
                if tx.get_meta("stats_first_at") is None:
                    tx.put_meta("stats_first_at", now)
                    tx.put_meta("stats_first_day", day_of(now))

            await self.svc.write(first_day)
        self.task = asyncio.get_running_loop().create_task(self._loop(), name="statistics flush")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.flush(force=True)

    async def _loop(self) -> None:
        while True:
            # Wake just after each second of the wall clock: the rise of the count is that second's.
            await asyncio.sleep(FLUSH_EVERY - time.time() % FLUSH_EVERY + 0.005)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store full or failing: the counts of this second are lost, not the node
                log.exception("reports: flushing the counts failed")

    async def flush(self, *, force: bool = False) -> None:
        now = time.time()
        c = self.counters
        prefixes, lat, reg = c.take()
        risen, c.uncounted = requests_of(prefixes) + c.uncounted, 0
        legacy = self.svc.resolutions  # the interval statistics of resolver/federation/sync.py
        for p, counts in prefixes.items():
            if counts[OK]:
                legacy[p] = legacy.get(p, 0) + counts[OK]
        if self.first:
            self.pending_up += now - self.last_flush
        self.last_flush = now
        wanted = False
        if self.first and not force:
            with self.svc.store.read() as tx:
                asked = tx.get_meta(FLUSH_WANTED_META)
                done = tx.get_meta(FLUSHED_META)
            wanted = asked is not None and (done is None or asked > done)
        idle = not prefixes and not lat[0] and not reg[0]
        if idle and not force and not wanted and now - self.last_write < IDLE_WRITE_EVERY:
            return
        node: dict = {"secs": {int(now) - 1: risen}} if risen else {}
        if lat[0]:
            node["lat"] = lat
        if reg[0]:
            node["reg"] = reg
        if self.first:
            node["up"], self.pending_up = self.pending_up, 0.0
        day = day_of(now)
        first = self.first

        def op(tx: Tx) -> None:
            held = {p: c for p, c in prefixes.items() if tx.get_prefix(p.decode()) is not None}
            tx.stats_merge(day, held, node)
            if first:
                tx.put_meta(FLUSHED_META, now)

        self.last_write = now
        await self.svc.write(op)
