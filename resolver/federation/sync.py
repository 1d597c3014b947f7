"""The running federation of one node: the outbox drained to each upstream, statistics reports, and
what ``idnode federation status`` and ``/api/federation`` show.

One process per node delivers (the only worker, or worker 0 under ``--workers``): each upstream has
its own task reading the outbox from its own cursor, so one top-level node being down delays nothing
for the others. A delivered entry moves that upstream's cursor in a durable write; an entry every
upstream has taken is removed. A failure is retried with exponential back-off (0.2 s doubling to
30 s, with jitter) for as long as it takes: nothing is dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from typing import TYPE_CHECKING

from protocol.codes import HandleError
from protocol.handles import fold
from storage import Tx

from .state import FEDERATION_META, health_key
from .upstream import Deliverer, Upstream

if TYPE_CHECKING:  # the service is handed in: federation drives it without importing it
    from ..service import Service

log = logging.getLogger("idnode.federation")

POLL = 0.25  # seconds between looks at the outbox when idle (the CLI writes to it from other processes)
BACKOFF_MIN, BACKOFF_MAX = 0.2, 30.0
HEALTH_EVERY = 10.0  # persist an unchanged failure at most this often
RESOLUTIONS_META = "resolutions"  # per prefix, not yet reported: {folded prefix: count}
STATS_SINCE_META = "stats_since"


class FederationSync:
    def __init__(self, svc: Service, upstreams: list[Upstream], deliverer: Deliverer, *, stats_interval: float,
                 identity: str):
        self.svc = svc
        self.upstreams = upstreams
        self.deliverer = deliverer
        self.stats_interval = stats_interval
        self.identity = identity
        self.tasks: list[asyncio.Task] = []
        self.health: dict[str, dict] = {}
        self._persisted: dict[str, float] = {}

    # --- start and stop ------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.configure()
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._drain(up), name=f"upstream {up.name}") for up in self.upstreams]
        self.tasks.append(loop.create_task(self._report(), name="statistics"))

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []

    async def configure(self) -> None:
        """Record the upstreams and our site; when either changed since last time, queue a full sync
        (our site, then every enterprise prefix in its state) so the upstreams converge on it."""
        names = [u.name for u in self.upstreams]
        wanted = {"upstreams": names, "identity": self.identity,
                  "site": hashlib.sha256(self.deliverer.site).hexdigest()}
        now = self.svc.now()

        def op(tx: Tx) -> bool:
            current = tx.get_meta(FEDERATION_META) or {}
            if current == wanted:
                return False
            tx.put_meta(FEDERATION_META, wanted)
            last = tx.outbox_last()
            for name in names:
                if tx.outbox_cursor(name) is None:
                    tx.set_outbox_cursor(name, last)  # a new upstream starts with the full sync below
            for name in current.get("upstreams", []):
                if name not in names:
                    tx.drop_outbox_cursor(name)
            tx.outbox_put({"op": "site", "at": now})
            for rec in tx.list_prefixes():
                if rec.get("kind") == "enterprise":
                    tx.outbox_put({"op": "put", "prefix": rec["prefix"], "state": rec.get("state", "enabled"),
                                   "at": now})
            tx.outbox_trim(names)
            return True

        if await self.svc.write(op):
            log.info("federation: upstreams %s; full sync queued", ", ".join(names))

    # --- delivery ----------------------------------------------------------------------------------
    async def _drain(self, up: Upstream) -> None:
        while True:
            try:
                await self._drain_until_error(up)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug: keep the entry, say so, go on after a pause
                log.exception("federation: delivering to %s failed", up.name)
                await asyncio.sleep(BACKOFF_MAX)

    async def _drain_until_error(self, up: Upstream) -> None:
        backoff = BACKOFF_MIN
        names = [u.name for u in self.upstreams]
        while True:
            with self.svc.store.read() as tx:
                cursor = tx.outbox_cursor(up.name) or 0
                nxt = tx.outbox_after(cursor, 1)
            if not nxt:
                await asyncio.sleep(POLL)
                continue
            seq, entry = nxt[0]
            try:
                await self.deliverer.deliver(up, entry)
            except (HandleError, OSError) as e:
                message = e.message if isinstance(e, HandleError) else str(e)
                await self._failed(up, seq, message)
                await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_MIN
            health = {"ok_at": time.time(), "error": None, "error_at": None, "delivered": seq}
            self.health[up.name] = health

            def done(tx: Tx, seq: int = seq, health: dict = health) -> None:
                if (tx.outbox_cursor(up.name) or 0) < seq:
                    tx.set_outbox_cursor(up.name, seq)
                tx.put_meta(health_key(up.name), health)
                tx.outbox_trim(names)

            await self.svc.write(done)
            log.info("federation: %s took entry %d (%s %s)", up.name, seq, entry.get("op"), entry.get("prefix", ""),
                     extra={"upstream": up.name, "seq": seq})

    async def _failed(self, up: Upstream, seq: int, message: str) -> None:
        old = self.health.get(up.name, {})
        now = time.time()
        health = {**old, "error": message, "error_at": now, "failing_seq": seq}
        self.health[up.name] = health
        if old.get("error") != message or now - self._persisted.get(up.name, 0.0) > HEALTH_EVERY:
            self._persisted[up.name] = now
            log.warning("federation: %s: %s (entry %d waits)", up.name, message, seq,
                        extra={"upstream": up.name, "seq": seq})
            await self.svc.write(lambda tx: tx.put_meta(health_key(up.name), health))

    # --- statistics ----------------------------------------------------------------------------------
    async def _report(self) -> None:
        while True:
            await asyncio.sleep(min(self.stats_interval, 5.0))
            try:
                await self._report_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("federation: the statistics report failed")

    async def _report_once(self) -> None:
        await flush_resolutions(self.svc)
        with self.svc.store.read() as tx:
            since = tx.get_meta(STATS_SINCE_META)
        now = self.svc.now()
        if since is None:
            await self.svc.write(lambda tx: tx.put_meta(STATS_SINCE_META, now))
        elif now - since >= self.stats_interval:
            node = self.svc.require_initialised()
            await self.svc.write(lambda tx: queue_report(tx, node, since, now))


async def flush_resolutions(svc: Service) -> None:
    """Move this process's resolution counts into the store, where the report (and other workers') meet."""
    counts, svc.resolutions = svc.resolutions, {}
    if not counts:
        return

    def op(tx: Tx) -> None:
        kept = tx.get_meta(RESOLUTIONS_META) or {}
        for p, n in counts.items():
            name = p.decode()
            kept[name] = kept.get(name, 0) + n
        tx.put_meta(RESOLUTIONS_META, kept)

    await svc.write(op)


def queue_report(tx: Tx, node_prefix: str, since: int, now: int) -> None:
    """One report of the interval: identifiers registered and resolutions, per prefix served here."""
    resolved = tx.get_meta(RESOLUTIONS_META) or {}
    prefixes = {}
    for rec in tx.list_prefixes():
        p = rec["prefix"]
        prefixes[p] = {"identifiers": tx.count_handles(p), "resolutions": resolved.get(fold(p), 0)}
    report = {"node": node_prefix, "from": since, "to": now, "prefixes": prefixes}
    tx.outbox_put({"op": "stats", "report": report, "at": now})
    tx.put_meta(RESOLUTIONS_META, {})
    tx.put_meta(STATS_SINCE_META, now)
