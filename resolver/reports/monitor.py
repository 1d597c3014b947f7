"""Monitoring events (Annex 2, items 13–18): abnormal and back-to-normal, raised from what the node
sees, numbered, and sent to the top-level node through the outbox as they happen.

Each condition is checked every ``CHECK_EVERY`` seconds in the reporting worker:

| condition | category | abnormal when | normal again when |
|---|---|---|---|
| ``upstream:<name>`` | 1 network | delivering to that top-level node has failed for ``UPSTREAM_GRACE`` s | a delivery succeeds |
| ``storage`` | 2 system | a write was refused for want of space (HTTP 507), or the volume or map is 95 % full | neither, for ``CALM`` s |
| ``overload`` | 4 other | requests were shed as too busy (HTTP 503, Handle RC 3) | none shed for ``CALM`` s |
| ``lockouts`` | 3 security attack | ``STORM_LOCKOUTS`` or more lock-outs within a check | none for ``CALM`` s |

An event is ``{number, type: abnormal|normal, closes (the abnormal event's number), at, cause,
category, condition}``; numbers come from a counter in the store, so they are unique for the node.
Open abnormal events are kept in the store too: a restart neither repeats nor forgets them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
import time

from storage import Tx

from .. import metrics
from ..service import Service
from ..service.federation import FEDERATION_META, health_key

log = logging.getLogger("idnode.reports")

CHECK_EVERY = 2.0
UPSTREAM_GRACE = 5.0
CALM = 30.0
STORM_LOCKOUTS = 5
FULL_SHARE = 0.95
OPEN_META = "monitor_open"  # {condition: [number, since]}
NUMBER_META = "monitor_number"
EVENTS_META = "monitor_events"  # the latest MAX_KEPT events, for the monthly report
MAX_KEPT = 1000
CATEGORY = {"network": 1, "system": 2, "security": 3, "other": 4}


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Monitor:
    def __init__(self, svc: Service, *, calm: float = CALM):
        self.svc = svc
        self.calm = calm
        self.task: asyncio.Task | None = None
        self.last_seen: dict[str, float] = {}  # condition → when it was last seen abnormal
        self.shed = self._shed_count()
        self.refused_space = self._count(507)
        self.lockouts = svc.guard.lockouts_total

    async def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop(), name="monitoring")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("monitoring: the check failed")

    # --- what the node sees ----------------------------------------------------------------------
    @staticmethod
    def _count(code: int, protocols: tuple[str, ...] = ("http", "https")) -> int:
        return sum(e[0] for (proto, _op, c), e in list(metrics._requests.items()) if c == code and proto in protocols)

    def _shed_count(self) -> int:
        return self._count(503) + self._count(3, ("udp", "tcp"))

    def _storage_full(self) -> str | None:
        used, size = self.svc.store.map_use()
        ceiling = self.svc.store.max_map_size
        if ceiling and used >= ceiling * FULL_SHARE:
            return f"the LMDB map holds {used:,} of at most {ceiling:,} bytes"
        try:
            du = shutil.disk_usage(self.svc.store.path)
        except OSError:
            return None
        if du.used >= du.total * FULL_SHARE:
            return f"the data volume is {du.used / du.total:.0%} full ({du.free:,} bytes free)"
        return None

    def observe(self, now: float) -> dict[str, tuple[str, str]]:
        """The conditions abnormal now: condition → (category, cause)."""
        seen: dict[str, tuple[str, str]] = {}
        with self.svc.store.read() as tx:
            fed = tx.get_meta(FEDERATION_META) or {}
            for up in fed.get("upstreams", []):
                h = tx.get_meta(health_key(up)) or {}
                err_at, ok_at = h.get("error_at") or 0, h.get("ok_at") or 0
                if h.get("error") and err_at > ok_at and now - self._failing_since(up, h, now) >= UPSTREAM_GRACE:
                    seen[f"upstream:{up}"] = ("network", f"the top-level node {up} cannot be reached: {h['error']}")
        shed, self.shed = self._shed_count() - self.shed, self._shed_count()
        if shed > 0:
            seen["overload"] = ("other", f"{shed} requests shed as too busy in {CHECK_EVERY:g} s")
        refused, self.refused_space = self._count(507) - self.refused_space, self._count(507)
        full = self._storage_full()
        if refused > 0 or full:
            seen["storage"] = ("system", full or f"{refused} writes refused for want of space")
        locked, self.lockouts = self.svc.guard.lockouts_total - self.lockouts, self.svc.guard.lockouts_total
        if locked >= STORM_LOCKOUTS:
            seen["lockouts"] = ("security", f"{locked} identities or addresses locked out after failed "
                                            f"authentications in {CHECK_EVERY:g} s")
        return seen

    def _failing_since(self, up: str, health: dict, now: float) -> float:
        k = f"failing:{up}"
        if k not in self.last_seen or health.get("ok_at", 0) > self.last_seen[k]:
            self.last_seen[k] = now
        return self.last_seen[k]

    # --- events ------------------------------------------------------------------------------------
    async def check(self, now: float | None = None) -> list[dict]:
        now = time.time() if now is None else now
        seen = self.observe(now)
        for cond in seen:
            self.last_seen[cond] = now
        node = self.svc.require_initialised()

        def op(tx: Tx) -> list[dict]:
            opened = tx.get_meta(OPEN_META) or {}
            events = []
            for cond, (category, cause) in seen.items():
                if cond not in opened:
                    ev = _event(tx, node, "abnormal", None, now, cause, category, cond)
                    opened[cond] = [ev["number"], now]
                    events.append(ev)
            for cond in list(opened):
                if cond in seen:
                    continue
                quiet_since = self.last_seen.get(cond, opened[cond][1])
                recovered = cond.startswith("upstream:") or now - quiet_since >= self.calm
                if recovered:
                    number, _ = opened.pop(cond)
                    category = "network" if cond.startswith("upstream:") else {
                        "storage": "system", "overload": "other", "lockouts": "security"}.get(cond, "other")
                    events.append(_event(tx, node, "normal", number, now, f"{cond} is back to normal", category, cond))
            if events:
                tx.put_meta(OPEN_META, opened)
                if tx.get_meta(FEDERATION_META):
                    for ev in events:
                        tx.outbox_put({"op": "report", "node": node, "kind": "event", "key": str(ev["number"]),
                                       "report": ev, "at": int(now)})
            return events

        events = await self.svc.write(op)
        for ev in events:
            log.warning("monitoring: event %d %s (%s): %s", ev["number"], ev["type"], ev["condition"], ev["cause"],
                        extra={"event": ev})
        return events


def _event(tx: Tx, node: str, kind: str, closes: int | None, now: float, cause: str, category: str,
           condition: str) -> dict:
    number = (tx.get_meta(NUMBER_META) or 0) + 1
    tx.put_meta(NUMBER_META, number)
    ev = {"node": node, "number": number, "type": kind, "closes": closes, "at": _iso(now), "cause": cause,
          "category": CATEGORY[category], "categoryName": category, "condition": condition}
    kept = tx.get_meta(EVENTS_META) or []
    tx.put_meta(EVENTS_META, [*kept[-(MAX_KEPT - 1):], {**ev, "t": now}])
    return ev
