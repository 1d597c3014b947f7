"""Reporting in a serving process: the counts flushed every second, what is due queued periodically."""

from __future__ import annotations

import asyncio
import logging

from protocol.site import Site

from ..config import Config
from ..reports.flush import Flusher
from ..reports.monitor import Monitor
from ..reports.sending import queue_now
from ..reports.tables import SITE_META
from ..service import Service

log = logging.getLogger("idnode.reports")


class Reporting:
    def __init__(self, svc: Service, cfg: Config, *, first: bool, site: bytes | None = None):
        self.svc = svc
        # A mirror writes nothing of its own (its store is its primary's copy): it neither counts for
        # the reports nor sends them; its primary reports for the node.
        primary = svc.mirror_of is None
        self.site = Site.from_wire(site).to_json() if site and first and primary else None
        self.flusher = Flusher(svc, first=first) if svc.counters is not None else None  # cfg.counting, on a primary
        self.interval = cfg.report_interval
        self.queues = first and primary and bool(cfg.upstream) and self.interval > 0
        self.monitor = Monitor(svc, calm=cfg.monitor_calm) if first and primary else None
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        if self.site is not None:  # the routes of table 2, for ``report send`` in another process
            site = self.site

            def op(tx) -> None:
                if tx.get_meta(SITE_META) != site:
                    tx.put_meta(SITE_META, site)

            await self.svc.write(op)
        if self.flusher is not None:
            await self.flusher.start()
        if self.queues:
            self.task = asyncio.get_running_loop().create_task(self._loop(), name="reports due")
        if self.monitor is not None:
            await self.monitor.start()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await queue_now(self.svc)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reports: queueing what is due failed")

    async def stop(self) -> None:
        if self.monitor is not None:
            await self.monitor.stop()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.flusher is not None:
            await self.flusher.stop()
