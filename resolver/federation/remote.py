"""Resolving handles this node does not serve (RFC 3652): find the serving site through the top-level
nodes, pick the server by the site's hash, ask it, keep the answer for its TTL.

- A prefix's site comes from ``0.NA/<prefix>``: first from the local store (a top-level node holds
  those records), then from the upstream top-level nodes in order of preference, walking up the
  prefix hierarchy (``88.101.5``, then ``88.101``, then ``88``) until a record names a site.
- Referrals (RC 302/303) are followed by this node, never by asking a peer to recurse, at most
  ``MAX_HOPS`` times; a server seen twice for one question is a loop and ends it with an error.
- An upstream or site that does not answer is skipped for ``DOWN_FOR`` seconds; the next one is asked.
- Concurrent questions for the same handle share one look-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from protocol import bodies as b
from protocol.codes import RC, HandleError
from protocol.handles import ancestors, fold, key, na_handle, split
from protocol.message import Message
from protocol.site import Site, query_interface
from protocol.values import HS_SERV, HS_SITE, HandleValue, select
from storage import Store

from .peer import PeerError, Peers

log = logging.getLogger("idnode.federation")

MAX_HOPS = 8
DOWN_FOR = 5.0
NEGATIVE_TTL = 10.0  # a remote "not found" is kept this long (at most)
MAX_ENTRIES = 200_000
SITE_TYPES = (HS_SITE, HS_SERV)


def site_values(values: list[HandleValue]) -> list[HandleValue]:
    return [v for v in values if v.type in SITE_TYPES]


def local_sites(store: Store, prefix: str) -> list[HandleValue]:
    """The sites the local ``0.NA/<prefix>`` record names (what the remote resolver asks first), or []."""
    with store.read() as tx:
        rec = tx.get_handle(na_handle(prefix))
    return site_values(rec.values) if rec is not None else []


class Remote:
    """A remote record as the cache keeps it, with its rendered answers."""

    __slots__ = ("expires", "handle", "values", "json", "hdl_spelling", "hdl_body")

    def __init__(self, expires: float, handle: str, values: tuple[HandleValue, ...]):
        self.expires = expires
        self.handle = handle
        self.values = values
        self.json: bytes | None = None
        self.hdl_spelling: str | None = None
        self.hdl_body: bytes | None = None


class Missing:
    """A remote "not found", kept briefly so a scanner repeating a bad code does not cost a look-up each time."""

    __slots__ = ("expires", "error")

    def __init__(self, expires: float, error: HandleError):
        self.expires = expires
        self.error = error


class RemoteAnswer:
    """A remote record as a caller sees it: the same face as ``service.Resolution``."""

    __slots__ = ("handle", "entry", "indexes", "types", "_values")
    all_public = True  # we ask with the PO flag: only public values ever come back
    full = False

    def __init__(self, handle: str, entry: Remote, indexes: set[int] | None, types: list[str] | None):
        self.handle = handle
        self.entry = entry
        self.indexes = indexes
        self.types = types
        self._values: list[HandleValue] | None = None

    @property
    def unfiltered_public(self) -> bool:
        return not self.indexes and not self.types

    @property
    def record(self) -> Remote:
        return self.entry

    @property
    def values(self) -> list[HandleValue]:
        if self._values is None:
            self._values = select(list(self.entry.values), self.indexes, self.types)
        return self._values

    def rendered(self, kind: str) -> bytes | None:
        e = self.entry
        if kind == "json":
            return e.json
        return e.hdl_body if e.hdl_spelling == self.handle else None

    def remember(self, kind: str, body: bytes) -> None:
        if kind == "json":
            self.entry.json = body
        else:
            self.entry.hdl_spelling, self.entry.hdl_body = self.handle, body


def expiry(values: tuple[HandleValue, ...] | list[HandleValue], now_wall: float, now: float, cap: float) -> float:
    """When an answer made of ``values`` stops being fresh: the shortest TTL among them, at most ``cap``."""
    ttl = cap
    for v in values:
        t = (v.ttl - now_wall) if v.ttl_type == 1 else v.ttl  # ttl type 1: an absolute time
        ttl = min(ttl, t)
    return now + max(ttl, 0.0)


class RemoteResolver:
    def __init__(self, peers: Peers, upstreams: list[tuple[str, int]], *, local_sites: Callable[[str], list] | None,
                 cache_ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES):
        self.peers = peers
        self.upstreams = upstreams
        self.local_sites = local_sites  # prefix → values of the local 0.NA/<prefix> record, or []
        self.cache_ttl = float(cache_ttl)
        self.max_entries = max_entries  # answers kept: the node passes ``cache_entries``
        self.clock = clock
        self.answers: dict[bytes, Remote | Missing] = {}
        self.sites: dict[str, tuple[float, list[Site]]] = {}
        self.down: dict[tuple[str, int], float] = {}
        self._inflight: dict[bytes, asyncio.Future] = {}
        self.counts = {"cached": 0, "fetched": 0, "not_found": 0, "failed": 0}

    # --- the cache (synchronous: the hot path) --------------------------------------------------------
    def cached(self, k: bytes) -> Remote | None:
        """A fresh remote record for key ``k``; a kept "not found" raises its error."""
        e = self.answers.get(k)
        if e is None or e.expires <= self.clock():
            return None
        self.counts["cached"] += 1
        if type(e) is Missing:
            raise e.error
        return e

    def _keep(self, k: bytes, entry: Remote | Missing) -> None:
        d = self.answers
        if len(d) >= self.max_entries:
            for old in list(d)[: max(1, self.max_entries // 8)]:
                del d[old]
        d[k] = entry

    # --- resolution --------------------------------------------------------------------------------
    async def fetch(self, handle: str) -> Remote:
        """Ask the serving site for ``handle`` (or wait for the look-up already under way)."""
        k = key(handle)
        fut = self._inflight.get(k)
        if fut is not None:
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[k] = fut
        try:
            entry = await self._fetch(handle, k)
            fut.set_result(entry)
            return entry
        except PeerError as e:
            self.counts["failed"] += 1  # nobody answered: a failure, where _conclude counts the rest
            fut.set_exception(e)
            fut.exception()
            raise
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # retrieved: waiters that never come must not log "never retrieved"
            raise
        finally:
            del self._inflight[k]

    async def _fetch(self, handle: str, k: bytes) -> Remote:
        prefix, suffix = split(handle)
        served = suffix if fold(prefix) == "0.na" else prefix
        hops = [0]
        seen: set[tuple[str, int]] = set()
        if fold(prefix) == "0.na":
            ans = await self._ask_upstreams(handle, hops)
            return self._conclude(handle, k, ans)
        sites = await self.sites_for(served, hops)
        while True:
            ans = await self._ask_sites(sites, handle, seen)
            if ans.rc in (RC.SERVICE_REFERRAL, RC.PREFIX_REFERRAL):
                sites = await self._referral_sites(ans, hops)
                continue
            return self._conclude(handle, k, ans)

    def _conclude(self, handle: str, k: bytes, ans: Message) -> Remote:
        now = self.clock()
        if ans.rc == RC.SUCCESS:
            values = tuple(ans.body.values)
            entry = Remote(expiry(values, time.time(), now, self.cache_ttl), ans.body.handle or handle, values)
            self._keep(k, entry)
            self.counts["fetched"] += 1
            return entry
        message = getattr(ans.body, "message", "") or f"response code {ans.rc}"
        if ans.rc == RC.HANDLE_NOT_FOUND:
            err = HandleError(RC.HANDLE_NOT_FOUND, f"handle {handle} not found at the site that serves it",
                              field="handle")
            self._keep(k, Missing(now + min(NEGATIVE_TTL, self.cache_ttl), err))
            self.counts["not_found"] += 1
            raise err
        self.counts["failed"] += 1
        raise HandleError(ans.rc, f"the site serving {handle} answered: {message}")

    # --- sites -------------------------------------------------------------------------------------
    async def sites_for(self, prefix: str, hops: list[int]) -> list[Site]:
        """The sites serving ``prefix``: from its own ``0.NA`` record or the nearest one above it."""
        fp = fold(prefix)
        hit = self.sites.get(fp)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        for p in ancestors(prefix):
            values = self.local_sites(p) if self.local_sites else []
            expires = self.clock() + self.cache_ttl
            if not values and self.upstreams:
                ans = await self._ask_upstreams(na_handle(p), hops, types=SITE_TYPES)
                if ans.rc == RC.SUCCESS:
                    values = list(ans.body.values)
                    expires = expiry(values, time.time(), self.clock(), self.cache_ttl)
                elif ans.rc in (RC.SERVICE_REFERRAL, RC.PREFIX_REFERRAL):
                    values = list(ans.body.values or ())
                elif ans.rc not in (RC.HANDLE_NOT_FOUND, RC.VALUES_NOT_FOUND, RC.SERVER_NOT_RESPONSIBLE):
                    raise HandleError(ans.rc, f"the top-level node answered {ans.rc} for {na_handle(p)}: "
                                              f"{getattr(ans.body, 'message', '')}")
            sites = await self._sites_of(values, hops)
            if sites:
                self.sites[fp] = (expires, sites)
                return sites
        raise HandleError(RC.HANDLE_NOT_FOUND, f"prefix {prefix} is not registered with the top-level nodes",
                          field="handle")

    async def _sites_of(self, values: list[HandleValue], hops: list[int]) -> list[Site]:
        """HS_SITE values as sites (primary first); HS_SERV names a handle whose HS_SITE values serve."""
        sites = []
        for v in values:
            if v.type == HS_SITE:
                try:
                    sites.append(Site.from_wire(v.data))
                except HandleError:
                    log.warning("ignoring an HS_SITE value that cannot be read (index %s)", v.index)
        if not sites:
            for v in values:
                if v.type == HS_SERV:
                    hops[0] += 1
                    if hops[0] > MAX_HOPS:
                        raise _too_many()
                    service = v.data.decode("utf-8", "replace")
                    sp, ss = split(service)
                    if fold(sp) == "0.na":
                        ans = await self._ask_upstreams(service, hops, types=(HS_SITE,))
                        vals = list(ans.body.values) if ans.rc == RC.SUCCESS else []
                    else:
                        vals = list((await self.fetch(service)).values)
                    sites += await self._sites_of([x for x in vals if x.type == HS_SITE], hops)
        return sorted(sites, key=lambda s: not s.primary)

    async def _referral_sites(self, ans: Message, hops: list[int]) -> list[Site]:
        hops[0] += 1
        if hops[0] > MAX_HOPS:
            raise _too_many()
        body: b.ReferralResponse = ans.body
        sites = await self._sites_of(list(body.values or ()), hops)
        if not sites and body.handle:
            sites = await self._sites_of([HandleValue(1, HS_SERV, body.handle.encode())], hops)
        if not sites:
            raise HandleError(RC.ERROR, "a referral named no site that could be read", status=502)
        return sites

    # --- asking --------------------------------------------------------------------------------------
    def _order(self, addrs: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """Those not recently down first, in their given order."""
        now = self.clock()
        return sorted(addrs, key=lambda a: self.down.get(a, 0.0) > now)

    async def _ask_upstreams(self, handle: str, hops: list[int], types: tuple[str, ...] = ()) -> Message:
        if not self.upstreams:
            raise HandleError(RC.SERVER_NOT_RESPONSIBLE, f"{handle} is not served here and no upstream is configured",
                              field="handle")
        errors = []
        for addr in self._order(self.upstreams):
            try:
                ans = await self.peers.resolve(*addr, handle, types=types)
            except PeerError as e:
                self.down[addr] = self.clock() + DOWN_FOR
                errors.append(e.message)
                continue
            self.down.pop(addr, None)
            return ans
        raise PeerError(f"no top-level node answered for {handle}: {'; '.join(errors)}")

    async def _ask_sites(self, sites: list[Site], handle: str, seen: set[tuple[str, int]]) -> Message:
        errors = []
        for site in sites:
            server = site.server_for(handle)
            iface = query_interface(server)
            if iface is None:
                errors.append(f"server {server.address_text} offers no query interface over UDP or TCP")
                continue
            addr = (server.address_text, iface.port)
            if addr in seen:
                raise HandleError(RC.RECURSION_COUNT_TOO_HIGH,
                                  f"referral loop resolving {handle}: {addr[0]}:{addr[1]} was asked already "
                                  f"(servers asked: {', '.join(f'{h}:{p}' for h, p in seen)})", status=508)
            seen.add(addr)
            try:
                return await self.peers.resolve(*addr, handle, udp=iface.protocol == 0)
            except PeerError as e:
                self.down[addr] = self.clock() + DOWN_FOR
                errors.append(e.message)
        raise PeerError(f"no server of the site serving {handle} answered: {'; '.join(errors)}")


def _too_many() -> HandleError:
    return HandleError(RC.RECURSION_COUNT_TOO_HIGH, f"more than {MAX_HOPS} referrals: giving up", status=508)
