"""What the reports count, in memory, per worker process; merged into the store every second.

The resolution path calls ``Counters.resolved`` once per request: a few dictionary increments and two
comparisons (README "Reports to the top-level node" has the cost measured). Everything else (which
day, the busiest second, the bounded list of sources) happens once a second in ``take``, off the
request path. Every table here is bounded: an attacker resolving random prefixes from random
addresses fills at most ``MAX_PREFIXES`` × ``MAX_SOURCES`` entries a second; the rest is summed.

Top identifiers: every found resolution whose folded handle key the caller passes (``k``) is counted
exactly, one dictionary increment, into a table per prefix of at most ``MAX_IDS`` identifiers between two
flushes (and ``MAX_IDS_TOTAL`` over all prefixes); a resolution of an identifier past those slots is not
counted by identifier (its prefix's counts still have it). Exact counts in bounded slots rather than a
1-in-N sample: a sample needs many resolutions before the order of a small enterprise's top ten means
anything, and the exact count costs no more than the sample's own counter. A flood of new identifiers
cannot take the slots from the busy ones: each prefix's ``CARRY_IDS`` busiest of a second hold their
slots in the next (they are set aside in ``take``, off the request path). Unknown handles never reach
the table (``k`` is given only for found ones). storage/stats.py keeps the busiest ``KEEP_IDS`` per
prefix and day.
"""

from __future__ import annotations

import heapq
import time

MAX_PREFIXES = 4096  # distinct prefixes counted between two flushes; more are not counted by prefix
MAX_SOURCES = 256  # distinct source addresses per prefix between two flushes; more are summed in "rest"
MAX_IDS = 256  # distinct identifiers counted per prefix between two flushes; more are not counted by identifier
MAX_IDS_TOTAL = 16384  # … and over all prefixes: a second's identifier table stays a few megabytes at most
CARRY_IDS = 32  # a prefix's busiest identifiers of one second get their slots first in the next
REQ, OK, SRC, REST, IDS = 0, 1, 2, 3, 4
LATENCY_SAMPLE = 7  # a mask: the latency of every 8th resolution of a prefix is measured

_perf = time.perf_counter


class Counters:
    """One worker's counts since the last ``take``."""

    def __init__(self) -> None:
        self.offset = time.time() - _perf()  # perf_counter → wall clock, for the "when" of an extreme
        self.prefixes: dict[bytes, list] = {}
        self.uncounted = 0  # requests for prefixes past MAX_PREFIXES (still part of the busiest second)
        self.ids = 0  # distinct identifiers counted since the last ``take`` (over all prefixes)
        self.carry: dict[bytes, list[bytes]] = {}  # prefix → its busiest identifiers of the last second
        self.lat = [0, 0.0, 0.0, 0.0, float("inf"), 0.0]  # n, sum, max, max at, min, min at (seconds)
        self.reg = [0, 0.0, 0.0, 0.0, float("inf"), 0.0]

    def resolved(self, p: bytes, ok: bool, client: str | None, t0: float, k: bytes | None = None) -> None:
        """One resolution request for folded prefix ``p`` (found or not) from ``client``; ``t0``: when
        the request arrived (perf_counter), 0 when unknown; ``k``: the folded handle key of a found one
        (the top identifiers). Kept inline and short: it runs per request."""
        c = self.prefixes.get(p)
        if c is None:
            c = self._first(p)
            if c is None:
                return
        c[0] += 1
        if ok:
            c[1] += 1
            if k is not None:
                ids = c[4]
                m = ids.get(k)
                if m is not None:
                    ids[k] = m + 1
                elif len(ids) < MAX_IDS and self.ids < MAX_IDS_TOTAL:
                    ids[k] = 1
                    self.ids += 1
        if client is not None:
            src = c[2]
            n = src.get(client)
            if n is not None:
                src[client] = n + 1
            elif len(src) < MAX_SOURCES:
                src[client] = 1
            else:
                c[3] += 1
        if t0 and not c[0] & LATENCY_SAMPLE:  # one request in 8 is timed: a clock read costs as much as the rest
            seconds = _perf() - t0
            lat = self.lat
            lat[0] += 1
            lat[1] += seconds
            if seconds > lat[2] or seconds < lat[4]:
                _extreme(lat, seconds, t0 + seconds + self.offset)

    def resolved_many(self, p: bytes, ok: bool, client: str | None, t0: float, n: int) -> None:
        """``n`` resolutions as ``resolved`` counts each (the compiled fast path counts per batch): the
        latency sampled as often, each sample the batch's time since ``t0``."""
        c = self.prefixes.get(p)
        if c is None:
            c = self._first(p)
            if c is None:
                return
        before = c[0]
        c[0] = after = before + n
        if ok:
            c[1] += n
        if client is not None:
            src = c[2]
            m = src.get(client)
            if m is not None:
                src[client] = m + n
            elif len(src) < MAX_SOURCES:
                src[client] = n
            else:
                c[3] += n
        every = LATENCY_SAMPLE + 1
        samples = after // every - before // every  # how many of them ``resolved`` would have timed
        if t0 and samples:
            seconds = _perf() - t0
            lat = self.lat
            lat[0] += samples
            lat[1] += seconds * samples
            if seconds > lat[2] or seconds < lat[4]:
                _extreme(lat, seconds, t0 + seconds + self.offset)

    def _first(self, p: bytes) -> list | None:
        if len(self.prefixes) >= MAX_PREFIXES:
            self.uncounted += 1
            return None
        seeds = self.carry.get(p)
        ids = dict.fromkeys(seeds, 0) if seeds else {}  # (an identifier left at 0 is not stored)
        self.ids += len(ids)
        c = self.prefixes[p] = [0, 0, {}, 0, ids]
        return c

    def identified(self, hits: dict[bytes, int]) -> None:
        """Found resolutions counted by folded handle key, ``{key: n}``, whose requests were counted
        already (``resolved_many``: the compiled fast path hands its batches' answers here)."""
        for k, n in hits.items():
            c = self.prefixes.get(k[:k.find(b"/")])
            if c is None:
                continue  # its prefix past MAX_PREFIXES: not counted by prefix either
            ids = c[4]
            m = ids.get(k)
            if m is not None:
                ids[k] = m + n
            elif len(ids) < MAX_IDS and self.ids < MAX_IDS_TOTAL:
                ids[k] = n
                self.ids += 1

    def registered(self, t0: float) -> None:
        """One identifier registered; ``t0``: when the request arrived (perf_counter)."""
        now = _perf()
        _sample(self.reg, now - t0, now + self.offset)

    def take(self) -> tuple[dict[bytes, list], list, list]:
        """The counts so far, leaving empty ones in their place."""
        prefixes, lat, reg = self.prefixes, self.lat, self.reg
        self.prefixes = {}
        self.ids = 0
        self.carry = {p: heapq.nlargest(CARRY_IDS, (k for k, n in c[IDS].items() if n), key=c[IDS].__getitem__)
                      for p, c in prefixes.items() if c[IDS]}
        self.lat = [0, 0.0, 0.0, 0.0, float("inf"), 0.0]
        self.reg = [0, 0.0, 0.0, 0.0, float("inf"), 0.0]
        return prefixes, lat, reg


def requests_of(prefixes: dict[bytes, list]) -> int:
    return sum(c[REQ] for c in prefixes.values())


def _sample(fig: list, seconds: float, at: float) -> None:
    fig[0] += 1
    fig[1] += seconds
    _extreme(fig, seconds, at)


def _extreme(fig: list, seconds: float, at: float) -> None:
    if seconds > fig[2]:
        fig[2], fig[3] = seconds, at
    if seconds < fig[4]:
        fig[4], fig[5] = seconds, at
