"""What the reports count, in memory, per worker process; merged into the store every second.

The resolution path calls ``Counters.resolved`` once per request: a few dictionary increments and two
comparisons (README "Reports to the top-level node" has the cost measured). Everything else (which
day, the busiest second, the bounded list of sources) happens once a second in ``take``, off the
request path. Every table here is bounded: an attacker resolving random prefixes from random
addresses fills at most ``MAX_PREFIXES`` × ``MAX_SOURCES`` entries a second; the rest is summed.
"""

from __future__ import annotations

import time

MAX_PREFIXES = 4096  # distinct prefixes counted between two flushes; more are not counted by prefix
MAX_SOURCES = 256  # distinct source addresses per prefix between two flushes; more are summed in "rest"
REQ, OK, SRC, REST = 0, 1, 2, 3
LATENCY_SAMPLE = 7  # a mask: the latency of every 8th resolution of a prefix is measured

_perf = time.perf_counter


class Counters:
    """One worker's counts since the last ``take``."""

    def __init__(self) -> None:
        self.offset = time.time() - _perf()  # perf_counter → wall clock, for the "when" of an extreme
        self.prefixes: dict[bytes, list] = {}
        self.uncounted = 0  # requests for prefixes past MAX_PREFIXES (still part of the busiest second)
        self.lat = [0, 0.0, 0.0, 0.0, float("inf"), 0.0]  # n, sum, max, max at, min, min at (seconds)
        self.reg = [0, 0.0, 0.0, 0.0, float("inf"), 0.0]

    def resolved(self, p: bytes, ok: bool, client: str | None, t0: float) -> None:
        """One resolution request for folded prefix ``p`` (found or not) from ``client``; ``t0``: when
        the request arrived (perf_counter), 0 when unknown. Kept inline and short: it runs per request."""
        c = self.prefixes.get(p)
        if c is None:
            c = self._first(p)
            if c is None:
                return
        c[0] += 1
        if ok:
            c[1] += 1
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
        c = self.prefixes[p] = [0, 0, {}, 0]
        return c

    def registered(self, t0: float) -> None:
        """One identifier registered; ``t0``: when the request arrived (perf_counter)."""
        now = _perf()
        _sample(self.reg, now - t0, now + self.offset)

    def take(self) -> tuple[dict[bytes, list], list, list]:
        """The counts so far, leaving empty ones in their place."""
        prefixes, lat, reg = self.prefixes, self.lat, self.reg
        self.prefixes = {}
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
