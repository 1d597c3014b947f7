"""Quotas of an enterprise prefix, with the national system's response codes (id-pointer-sdk's
``AbstractMessage``): a daily request limit (603), a limit on the handles it holds (604) and one on the
prefixes allocated under it (605).

A prefix record carries them as ``quota``: ``{"dailyRequests", "handles", "prefixes"}``, each a
non-negative integer or absent (no limit). The node admin sets them (``PUT /api/prefixes/{p}/quota``,
or ``quota`` in the allocation) and the record reports them beside the usage.

- 604 and 605 are checked inside the write transaction that would pass the limit, against counts that
  transaction sees, so concurrent writers cannot overshoot and a batch counts its own creations.
- 603 counts, per prefix and per UTC day, the resolutions of its handles (every transport, cache hits
  included) and the writes to them. Counting every resolution durably would cost a disk write each, so
  each worker process counts in memory and each worker allows the whole limit: with ``--workers N`` a
  prefix gets up to N times its limit a day, and a restart starts the day again. The limits themselves
  are read from LMDB at most every ``REFRESH`` seconds, so a change reaches every worker within that.
  A node where no prefix has a daily limit pays one comparison per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from protocol.codes import RC, HandleError
from protocol.handles import fold, is_within
from storage import Store, Tx

REFRESH = 5.0
DAY = 86_400


_NO_LIMIT = (None, None)


def check_register(tx: Tx, prefix: str, memo: dict | None = None) -> None:
    """604 when creating one more handle under ``prefix`` would pass its quota (in the write transaction).

    ``memo`` (a dict kept for one transaction: a batch's ``TxMemo.quotas``) keeps what the prefix record
    says, so a batch reads and unpacks it once per prefix; the count is read every time (it includes
    this transaction's creations)."""
    got = memo.get(prefix) if memo is not None else None
    if got is None:
        rec = tx.get_prefix(prefix)
        limit = rec.get("quota", {}).get("handles") if rec else None
        got = _NO_LIMIT if limit is None else (rec["prefix"], limit)
        if memo is not None:
            memo[prefix] = got
    name, limit = got
    if limit is not None and tx.count_handles(name) >= limit:
        raise HandleError(RC.REGISTER_COUNT_LIMIT, f"prefix {name} holds {limit} handles, its quota; "
                          "no more can be registered", field="handle")


def check_allocate(tx: Tx, wanted: str) -> None:
    """605 when ``wanted`` lies under an enterprise prefix whose prefix quota is used up."""
    for rec in tx.list_prefixes():
        limit = rec.get("quota", {}).get("prefixes")
        if limit is None or fold(rec["prefix"]) == fold(wanted) or not is_within(wanted, rec["prefix"]):
            continue
        under = sum(1 for r in tx.list_prefixes()
                    if fold(r["prefix"]) != fold(rec["prefix"]) and is_within(r["prefix"], rec["prefix"]))
        if under >= limit:
            raise HandleError(RC.PREFIX_LIMIT, f"prefix {rec['prefix']} has {limit} prefixes under it, its quota; "
                              f"{wanted} cannot be allocated", field="prefix")


class DailyRequests:
    """Per-prefix request counts for the current UTC day, against the prefixes' daily limits."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self.store, self.clock, self.monotonic = store, clock, monotonic
        self.limits: dict[bytes, int] = {}  # folded prefix → requests a day
        self.counts: dict[bytes, int] = {}
        self.day = -1
        self.loaded = -REFRESH

    def refresh(self) -> None:
        with self.store.read() as tx:
            self.limits = {fold(r["prefix"]).encode(): r["quota"]["dailyRequests"]
                           for r in tx.list_prefixes() if r.get("quota", {}).get("dailyRequests") is not None}
        self.loaded = self.monotonic()

    def admit(self, prefix_key: bytes, *, refresh: bool = True) -> None:
        """Count one request against the prefix (folded, as bytes); 603 past its daily limit. Inside a
        write transaction pass ``refresh=False``: the limits are then not re-read (a read transaction
        on the writer's thread would collide with its write)."""
        if refresh and self.monotonic() - self.loaded >= REFRESH:
            self.refresh()
        if not self.limits:
            return
        limit = self.limits.get(prefix_key)
        if limit is None:
            return
        now = self.clock()
        day = int(now // DAY)
        if day != self.day:
            self.day, self.counts = day, {}
        n = self.counts.get(prefix_key, 0)
        if n >= limit:
            wait = (day + 1) * DAY - now
            raise HandleError(RC.REQUEST_LIMIT_DAILY, f"prefix {prefix_key.decode()} has had its {limit} requests "
                              f"for today (UTC); retry in {int(wait) + 1} s", field="handle")
        self.counts[prefix_key] = n + 1

    def admit_prefix(self, prefix: str, *, refresh: bool = True) -> None:
        if not refresh and not self.limits:
            return  # no prefix has a daily limit: nothing to count (a batch calls this per item)
        self.admit(fold(prefix).encode(), refresh=refresh)

    def used_today(self, prefix: str) -> int:
        return self.counts.get(fold(prefix).encode(), 0) if int(self.clock() // DAY) == self.day else 0
