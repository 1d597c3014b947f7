"""Lock-out after repeated authentication failures, per identity and per client address.

HTTP Basic and the Handle protocol's challenge-response count into the same counters (the service's
``AuthGuard``). After ``failures`` failed attempts on one identity within ``window`` seconds (or
``address_failures`` from one address, whatever identities it tried), further attempts are refused
without checking the secret, so a right guess during a lock-out does not get in. A lock-out lasts
``first`` seconds and doubles with each one that follows, up to ``longest``; a quiet ``longest``
without failures forgets the earlier ones.

Counters are kept in each worker process's memory: with N workers an attacker may get up to N times
the allowance before every worker has locked it out. They are bounded: past ``max_entries`` keys the
ones with nothing to remember go first, then the oldest.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from protocol.codes import RC, HandleError

DEFAULT_FAILURES = 10
DEFAULT_ADDRESS_FAILURES = 100
DEFAULT_WINDOW = 300.0
DEFAULT_FIRST = 60.0
DEFAULT_LONGEST = 3600.0
MAX_ENTRIES = 100_000


class Refused(HandleError):
    """A refusal the caller may retry later: HTTP answers it with Retry-After (seconds, rounded up)."""

    def __init__(self, rc: int, message: str, retry_after: float, *, status: int = 429):
        super().__init__(rc, message, status=status)
        self.retry_after = max(1, math.ceil(retry_after))


class _Count:
    __slots__ = ("failures", "since", "locked_until", "lockouts", "last")

    def __init__(self, now: float):
        self.failures = 0
        self.since = now  # start of the window the failures are counted in
        self.locked_until = 0.0
        self.lockouts = 0
        self.last = now  # the latest failure


class AuthGuard:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_ENTRIES):
        self.clock = clock
        self.max_entries = max_entries
        self.failures = DEFAULT_FAILURES
        self.address_failures = DEFAULT_ADDRESS_FAILURES
        self.window = DEFAULT_WINDOW
        self.first = DEFAULT_FIRST
        self.longest = DEFAULT_LONGEST
        self._counts: dict[str, _Count] = {}
        self.lockouts_total = 0

    def configure(self, *, failures: int, address_failures: int, window: float, first: float, longest: float) -> None:
        self.failures, self.address_failures = failures, address_failures
        self.window, self.first, self.longest = window, first, max(first, longest)

    @staticmethod
    def _keys(identity: str, client: str | None) -> tuple[str, str | None]:
        return "id:" + identity.lower(), (None if client in (None, "local") else "ip:" + client)

    def check(self, identity: str, client: str | None) -> None:
        """Refuse (``Refused``, 429 / RC 406) while the identity or the address is locked out."""
        now = self.clock()
        id_key, ip_key = self._keys(identity, client)
        for k, what in ((id_key, f"identity {identity}"), (ip_key, f"address {client}")):
            c = self._counts.get(k) if k is not None else None
            if c is not None and c.locked_until > now:
                wait = c.locked_until - now
                raise Refused(RC.UNABLE_TO_AUTHENTICATE,
                              f"locked out after too many failed authentications for {what}: no attempt is "
                              f"checked for {math.ceil(wait)} s more", wait)

    def failed(self, identity: str, client: str | None) -> None:
        now = self.clock()
        id_key, ip_key = self._keys(identity, client)
        self._fail(id_key, self.failures, now)
        if ip_key is not None:
            self._fail(ip_key, self.address_failures, now)

    def succeeded(self, identity: str) -> None:
        """A right secret clears the identity's failures (not the address's: an attacker could
        otherwise reset its count by logging in as itself between guesses)."""
        c = self._counts.get("id:" + identity.lower())
        if c is not None:
            c.failures = 0

    def _fail(self, k: str, limit: int, now: float) -> None:
        c = self._counts.get(k)
        if c is None:
            if len(self._counts) >= self.max_entries:
                self._prune(now)
            c = self._counts[k] = _Count(now)
        if now - c.last > self.longest:
            c.lockouts = 0  # quiet long enough: earlier lock-outs are forgiven
        if now - c.since > self.window:
            c.failures, c.since = 0, now
        c.failures += 1
        c.last = now
        if limit > 0 and c.failures >= limit:
            c.lockouts += 1
            c.locked_until = now + min(self.first * 2 ** (c.lockouts - 1), self.longest)
            c.failures, c.since = 0, now
            self.lockouts_total += 1

    def _prune(self, now: float) -> None:
        keep = {k: c for k, c in self._counts.items()
                if c.locked_until > now or (c.failures and now - c.since <= self.window)}
        if len(keep) >= self.max_entries // 2:
            keep = dict(list(keep.items())[-(self.max_entries // 2):])  # the most recently added
        self._counts = keep
