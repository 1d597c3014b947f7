"""Pruning the change log once its readers have what it holds, and past a configured age.

The change log feeds two readers: mirrors, which replay it, and the daily ``masterdata`` reports to the
top-level nodes, which are built from it. A change may go when all of these hold:

- it is older than ``changelog_keep`` seconds;
- every mirror heard from within ``mirror_hold`` seconds has applied it (a mirror that asks for the
  changes after N acknowledges N: resolver/service/replication.py records it). A mirror gone longer than that no longer holds the
  log back: when it returns and asks for a pruned position it is told so (HTTP 410) and re-seeds from
  a snapshot, as a new mirror starts;
- on a node that reports upstream, the days it covers are reported complete (their masterdata queued;
  a day older than a month is never reported, resolver/reports/due.py).

The first worker prunes every ``changelog_prune_interval`` seconds (0: never), through the group
committer, at most ``PASS_LIMIT`` changes a transaction so that other writes are never held long.
The federation outbox is a queue of its own (storage/outbox.py) and does not read the change log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from storage import Tx

from .config import Config
from .federation.state import FEDERATION_META
from .reports.due import SENT_META

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger("idnode.changelog")

DAY = 86400
REPORT_DAYS_BACK = 31  # resolver/reports/due.py: an older day is never reported
PASS_LIMIT = 10_000  # changes removed in one transaction


def _reported_from(tx: Tx, now: int) -> int:
    """The start of the first day whose masterdata report is not queued complete yet."""
    today = now // DAY
    sent = tx.get_meta(SENT_META) or {}
    first = tx.get_meta("stats_first_day")
    start = sent.get("masterdata", (first if first is not None else today) - 1) + 1
    return max(start, today - REPORT_DAYS_BACK) * DAY


def prunable(tx: Tx, cfg: Config, now: int) -> tuple[int, int]:
    """(through, before): changes up to sequence ``through`` written before time ``before`` may go."""
    before = now - cfg.changelog_keep
    through = tx.last_seq()
    for ack in tx.mirror_acks().values():
        if now - ack.get("seen", 0) <= cfg.mirror_hold:
            through = min(through, ack.get("applied", 0))
    if tx.get_meta(FEDERATION_META):
        before = min(before, _reported_from(tx, now))
    return through, before


class Pruner:
    """The first worker's periodic pruning of the change log."""

    def __init__(self, svc: Service, cfg: Config, clock: Callable[[], float] = time.time):
        self.svc, self.cfg, self.clock = svc, cfg, clock
        self.task: asyncio.Task | None = None
        self.pruned = 0  # changes removed since start

    def start(self) -> None:
        if self.cfg.changelog_prune_interval > 0:
            self.task = asyncio.get_running_loop().create_task(self._run(), name="change-log pruning")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a full disk, say: the log stays as it is until the next pass
                log.warning("change log: pruning failed: %s: %s", type(e).__name__, e)
            await asyncio.sleep(self.cfg.changelog_prune_interval)

    async def prune(self) -> int:
        """One pruning pass (several transactions when much is due); the number of changes removed."""
        total = 0
        while True:
            n = await asyncio.wrap_future(self.svc.committer.submit(self._step))
            total += n
            if n < PASS_LIMIT:
                break
        if total:
            self.pruned += total
            log.info("change log: pruned %d changes", total)
        return total

    def _step(self, tx: Tx) -> int:
        now = int(self.clock())
        for name, ack in tx.mirror_acks().items():
            if now - ack.get("seen", 0) > self.cfg.mirror_hold:
                tx.delete_mirror_ack(name)  # gone too long: it re-seeds when it returns
        through, before = prunable(tx, self.cfg, now)
        return tx.prune_changes(through, before, PASS_LIMIT)
