"""Rate and connection limits: per client address and per identity, over HTTP and the Handle protocol.

The service owns one ``Limits``; every transport asks it (HTTP routes, UDP datagrams, TCP messages),
so neither protocol has a way around it. A limit is a token bucket per key, kept as one number
(GCRA): a request costs a dict look-up, a comparison and a store, with the time the transport has
already read (``time.perf_counter``) for its metrics.

Buckets are bounded in number: a burst of new addresses (over UDP a source address costs nothing to
forge) prunes the buckets that are full again, then the oldest.
"""

from __future__ import annotations

import math
import time

from protocol.codes import RC

from .lockout import Refused

DEFAULT_RATE_PER_ADDRESS = 100_000  # requests a second: above what one node serves, so off in practice
DEFAULT_RATE_PER_IDENTITY = 10_000  # authenticated requests a second (a batch of 2,000 is one)
DEFAULT_CONNECTIONS_PER_ADDRESS = 1024  # HTTP and Handle TCP together
DEFAULT_MAX_PENDING_WRITES = 50_000  # write operations queued for the group committer before 503
MAX_BUCKETS = 100_000


class Buckets:
    """Token buckets by key, ``rate`` a second with bursts of up to ``rate`` (one second's worth),
    kept as GCRA does: one number per key, the time at which its bucket would be full again. A
    request moves it on by 1/rate; one that would move it more than a second ahead of now is refused.
    Exact, and a look-up, a comparison and a store per request."""

    __slots__ = ("rate", "interval", "tolerance", "_tat", "max_entries")

    def __init__(self, rate: float, max_entries: int = MAX_BUCKETS):
        self.rate = float(rate)
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.tolerance = 1.0 - self.interval if rate > 0 else math.inf  # rate 0: off
        self._tat: dict[object, float] = {}
        self.max_entries = max_entries

    def admit(self, key: object, now: float) -> bool:
        """Take a token for ``key``; False when there is none (the hot path: keep it this small)."""
        tat = self._tat.get(key)
        if tat is None:
            if len(self._tat) >= self.max_entries:
                self._prune(now)
            tat = now
        elif tat < now:
            tat = now
        elif tat - now > self.tolerance:
            return False
        self._tat[key] = tat + self.interval
        return True

    def wait(self, key: object, now: float) -> float:
        """Seconds until ``key`` has a token again (after a refusal)."""
        tat = self._tat.get(key)
        return 0.0 if tat is None else max(0.0, tat - now - self.tolerance)

    def _prune(self, now: float) -> None:
        # A bucket full again by now remembers nothing: drop those, then the oldest half.
        keep = {k: t for k, t in self._tat.items() if t > now}
        if len(keep) >= self.max_entries // 2:
            keep = dict(list(keep.items())[-(self.max_entries // 2):])
        self._tat = keep


class Limits:
    """The node's limits, as configured (resolver/config.py); changed in place on SIGHUP."""

    def __init__(self) -> None:
        self.per_address = Buckets(DEFAULT_RATE_PER_ADDRESS)
        self.per_identity = Buckets(DEFAULT_RATE_PER_IDENTITY)
        self.connections_per_address = DEFAULT_CONNECTIONS_PER_ADDRESS
        self.max_pending_writes = DEFAULT_MAX_PENDING_WRITES
        self.handle_idle_timeout = 30.0
        self.connections: dict[str, int] = {}  # open HTTP and Handle TCP connections per address
        self.refused_connections = 0

    def configure(self, *, rate_per_address: int, rate_per_identity: int, connections_per_address: int,
                  max_pending_writes: int, handle_idle_timeout: float) -> None:
        # Buckets are rebuilt only when a rate changes, so a reload does not refill them.
        if rate_per_address != self.per_address.rate:
            self.per_address = Buckets(rate_per_address)
        if rate_per_identity != self.per_identity.rate:
            self.per_identity = Buckets(rate_per_identity)
        self.connections_per_address = connections_per_address
        self.max_pending_writes = max_pending_writes
        self.handle_idle_timeout = handle_idle_timeout

    # --- requests --------------------------------------------------------------------------------
    def address_refusal(self, address: str | None) -> Refused:
        """What to answer a request over the per-address rate (after ``per_address.admit`` said no)."""
        wait = self.per_address.wait(address, time.perf_counter())
        return Refused(RC.SERVER_TOO_BUSY, f"rate limit: more than {self.per_address.rate:.0f} requests a second "
                       f"from {address}; retry in {math.ceil(wait)} s", wait)

    def check_identity(self, identity: str, now: float) -> None:
        key = identity.lower()
        if not self.per_identity.admit(key, now):
            wait = self.per_identity.wait(key, now)
            raise Refused(RC.SERVER_TOO_BUSY, f"rate limit: more than {self.per_identity.rate:.0f} requests a "
                          f"second for {identity}; retry in {math.ceil(wait)} s", wait)

    # --- connections -----------------------------------------------------------------------------
    def connect(self, address: str | None) -> bool:
        """Count a new connection from ``address``; False (not counted) when it has too many already."""
        if address is None:
            return True
        n = self.connections.get(address, 0)
        if n >= self.connections_per_address > 0:
            self.refused_connections += 1
            return False
        self.connections[address] = n + 1
        return True

    def disconnect(self, address: str | None) -> None:
        if address is None:
            return
        n = self.connections.get(address, 0) - 1
        if n > 0:
            self.connections[address] = n
        else:
            self.connections.pop(address, None)
