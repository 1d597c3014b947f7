"""Lock-out after repeated authentication failures, per identity and per client address.

HTTP Basic and the Handle protocol's challenge-response count into the same counters (the service's
``AuthGuard``). After ``failures`` failed attempts on one identity within ``window`` seconds (or
``address_failures`` from one address, whatever identities it tried), further attempts are refused
without checking the secret, so a right guess during a lock-out does not get in. A lock-out lasts
``first`` seconds and doubles with each one that follows, up to ``longest``; a quiet ``longest``
without failures forgets the earlier ones.

An identity's lock-out does not shut out the addresses that proved it recently (``TRUSTED_FOR``): a mirror
polling its primary, or a secondary node delivering to its top-level node, keeps working while anonymous
guessers elsewhere lock the identity. A trusted address is still refused by its own address lock-out, and
``failures`` failures of that identity from that very address end its trust.

Counters are kept in each worker process's memory: with N workers an attacker may get up to N times
the allowance before every worker has locked it out. The node admin clears a lock-out for every worker
at once by recording the time of the clearance in LMDB (service/lockouts.py); a guard reads it (``cleared``)
only when it is about to refuse, and forgets a lock-out that began before it. They are bounded: past ``max_entries`` keys the
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
TRUSTED_FOR = 86_400.0  # how long a right proof from an address exempts it from its identity's lock-out


class Refused(HandleError):
    """A refusal the caller may retry later: HTTP answers it with Retry-After (seconds, rounded up)."""

    def __init__(self, rc: int, message: str, retry_after: float, *, status: int = 429):
        super().__init__(rc, message, status=status)
        self.retry_after = max(1, math.ceil(retry_after))


class _Count:
    __slots__ = ("failures", "since", "locked_until", "lockouts", "last", "locked_at")

    def __init__(self, now: float):
        self.failures = 0
        self.since = now  # start of the window the failures are counted in
        self.locked_until = 0.0
        self.lockouts = 0
        self.last = now  # the latest failure
        self.locked_at = 0.0  # when the latest lock-out began (wall clock, to compare with a clearance)


class AuthGuard:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_ENTRIES,
                 wall: Callable[[], float] = time.time, cleared: Callable[[str], float | None] | None = None):
        self.clock = clock
        self.wall = wall
        # The wall-clock time a key (``key_of``) was last cleared by the node admin, or None: read only
        # on the way to a refusal, so the attempts that are let through pay nothing for it.
        self.cleared = cleared
        self.max_entries = max_entries
        self.failures = DEFAULT_FAILURES
        self.address_failures = DEFAULT_ADDRESS_FAILURES
        self.window = DEFAULT_WINDOW
        self.first = DEFAULT_FIRST
        self.longest = DEFAULT_LONGEST
        self._counts: dict[str, _Count] = {}
        self._trusted: dict[str, float] = {}  # identity + address → when it last proved that identity
        self.lockouts_total = 0

    def configure(self, *, failures: int, address_failures: int, window: float, first: float, longest: float) -> None:
        self.failures, self.address_failures = failures, address_failures
        self.window, self.first, self.longest = window, first, max(first, longest)

    @staticmethod
    def _keys(identity: str, client: str | None) -> tuple[str, str | None]:
        return "id:" + identity.lower(), (None if client in (None, "local") else "ip:" + client)

    @staticmethod
    def key_of(identity: str | None = None, address: str | None = None) -> str:
        """The counter's key for an identity (``index:handle``) or a client address."""
        return "id:" + identity.lower() if identity is not None else "ip:" + str(address)

    def forget(self, k: str) -> None:
        """Forget the lock-out and failures of ``k`` in this process (the node admin cleared it)."""
        self._counts.pop(k, None)

    def _was_cleared(self, k: str, c: _Count) -> bool:
        """Whether the node admin cleared ``k`` since its lock-out began; if so, the lock-out is forgotten."""
        if self.cleared is None:
            return False
        at = self.cleared(k)
        if at is None or at < c.locked_at:
            return False
        del self._counts[k]
        return True

    def _trusted_key(self, id_key: str, ip_key: str | None, now: float) -> str | None:
        """The key of a pair (identity, address) that proved the identity within ``TRUSTED_FOR``."""
        if ip_key is None:
            return None
        k = id_key + "@" + ip_key
        since = self._trusted.get(k)
        return k if since is not None and now - since <= TRUSTED_FOR else None

    def check(self, identity: str, client: str | None) -> None:
        """Refuse (``Refused``, 429 / RC 406) while the identity or the address is locked out; an address
        that proved the identity recently is refused only by its own lock-out."""
        now = self.clock()
        id_key, ip_key = self._keys(identity, client)
        keys = [(ip_key, f"address {client}")]
        if self._trusted_key(id_key, ip_key, now) is None:
            keys.insert(0, (id_key, f"identity {identity}"))
        for k, what in keys:
            c = self._counts.get(k) if k is not None else None
            if c is not None and c.locked_until > now and not self._was_cleared(k, c):
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
        trusted = self._trusted_key(id_key, ip_key, now)
        if trusted is not None:
            # Guessing from a trusted address spends that address's trust, as it would the identity's.
            self._fail(trusted, self.failures, now)
            if self._counts[trusted].locked_until > now:
                del self._trusted[trusted]

    def succeeded(self, identity: str, client: str | None = None) -> None:
        """A right secret clears the identity's failures (not the address's: an attacker could
        otherwise reset its count by logging in as itself between guesses), and trusts the address for
        that identity."""
        id_key, ip_key = self._keys(identity, client)
        c = self._counts.get(id_key)
        if c is not None:
            c.failures = 0
        if ip_key is not None:
            k = id_key + "@" + ip_key
            pair = self._counts.get(k)
            if pair is not None:
                pair.failures = 0
            trusted = self._trusted
            if k not in trusted and len(trusted) >= self.max_entries:
                for old in list(trusted)[: self.max_entries // 8]:  # the oldest first (insertion order)
                    del trusted[old]
            trusted.pop(k, None)
            trusted[k] = self.clock()

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
            c.locked_at = self.wall()
            c.failures, c.since = 0, now
            self.lockouts_total += 1

    def _prune(self, now: float) -> None:
        keep = {k: c for k, c in self._counts.items()
                if c.locked_until > now or (c.failures and now - c.since <= self.window)}
        if len(keep) >= self.max_entries // 2:
            keep = dict(list(keep.items())[-(self.max_entries // 2):])  # the most recently added
        self._counts = keep
