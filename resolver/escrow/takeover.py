"""Takeover on a top-level node: serving a secondary node's identifiers from its latest deposit.

The state lives in the store (``takeover:<node>`` → ``{reason, since, deposit}``), so the operator's
``idnode takeover`` (another process) and the probes below change it alike, and every worker follows it
within a second. While a node is taken over, a resolution on the top-level node that finds nothing of
its own looks in that node's deposit before it would refer the client to the node: over HTTP and over
the Handle protocol alike (``Service.resolve``), at no cost to anything else.

Automatic takeover: each node with a restored deposit is probed (a Handle resolution over UDP to the
addresses its deposit's routes name; any answer counts as up) every ``interval`` seconds. When 51 % or
more of the probes within ``window`` seconds failed, the node is taken over (reason ``probes``); it is
handed back after ``RECOVERED`` probes in a row succeed. A takeover the operator ordered is ended only
by the operator (``idnode takeover NODE --release``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from pathlib import Path

from protocol.handles import fold
from storage import Store, Tx
from storage.records import unpack

from ..federation.peer import Peers
from ..service import Service
from .vault import LATEST_META

log = logging.getLogger("idnode.escrow")

STATE_META = "takeover:"  # + folded node prefix
REFRESH_EVERY = 1.0
FAILED_SHARE = 0.51
RECOVERED = 3
MIN_PROBES = 3


class Deposits:
    """What a serving top-level node consults on a miss (the service is given it): the deposits of the
    nodes taken over, kept current from the store by ``Takeover``."""

    def __init__(self, store: Store):
        self.store = store
        self.served: dict[bytes, Store] = {}  # folded prefix (as in a handle key) → the deposit's store
        self.stores: dict[str, tuple[str, Store]] = {}  # folded node → (deposit path, store)

    def get_raw(self, k: bytes) -> bytes | None:
        """The deposited record of handle key ``k`` when its prefix belongs to a node taken over."""
        i = k.find(b"/")
        store = self.served.get(k[:i]) if i > 0 else None
        return store.get_raw(k) if store is not None else None

    def refresh(self) -> None:
        with self.store.read() as tx:
            states = _states(tx)
            latest = {node: tx.get_meta(LATEST_META + node) for node in states}
        served: dict[bytes, Store] = {}
        keep: dict[str, tuple[str, Store]] = {}
        for node in states:
            dep = latest.get(node)
            if not dep:
                continue
            path = dep["path"]
            old = self.stores.get(node)
            if old is not None and old[0] == path:
                store = old[1]
            else:
                store = Store(Path(path) / "store", readonly=True)
            keep[node] = (path, store)
            with store.read() as tx:
                for rec in tx.list_prefixes():
                    served[fold(rec["prefix"]).encode()] = store
        for node, (path, store) in self.stores.items():
            if keep.get(node, (None,))[0] != path:
                store.close()  # a newer deposit, or handed back
        self.stores, self.served = keep, served

    def close(self) -> None:
        self.served = {}
        for _, store in self.stores.values():
            store.close()
        self.stores = {}


class Takeover:
    """Keeps a top-level node's ``Deposits`` current, and probes the nodes that deposited."""

    def __init__(self, svc: Service, deposits: Deposits, *, window: float = 300.0, interval: float = 10.0):
        self.svc = svc
        self.deposits = deposits
        self.window = window
        self.interval = interval
        self.probes: dict[str, deque] = {}  # folded node → (when, ok) within the window
        self.tasks: list[asyncio.Task] = []

    # --- following the state ---------------------------------------------------------------------------
    async def start(self, *, probing: bool) -> None:
        self.refresh()
        loop = asyncio.get_running_loop()
        self.tasks.append(loop.create_task(self._refresh_loop(), name="takeover state"))
        if probing and self.interval > 0:
            self.tasks.append(loop.create_task(self._probe_loop(), name="takeover probes"))

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.deposits.close()

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_EVERY)
            try:
                self.refresh()
            except Exception:
                log.exception("takeover: reading the state failed")

    def refresh(self) -> None:
        self.deposits.refresh()

    # --- probes ------------------------------------------------------------------------------------------
    async def _probe_loop(self) -> None:
        peers = Peers(timeout=min(2.0, max(0.2, self.interval / 2)))
        try:
            while True:
                await asyncio.sleep(self.interval)
                try:
                    await self.probe_all(peers)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("takeover: probing failed")
        finally:
            peers.close()

    async def probe_all(self, peers) -> None:
        with self.svc.store.read() as tx:
            deposits = _deposits(tx)
            states = _states(tx)
        now = time.time()
        for node, dep in deposits.items():
            ok = await _probe(peers, node, dep)
            seen = self.probes.setdefault(node, deque())
            seen.append((now, ok))
            while seen and seen[0][0] < now - self.window:
                seen.popleft()
            failed = sum(1 for _, good in seen if not good)
            state = states.get(node)
            if state is None and len(seen) >= MIN_PROBES and failed >= FAILED_SHARE * len(seen):
                await set_state(self.svc, node, {"reason": "probes", "since": int(now), "deposit": dep["id"],
                                                 "failed": f"{failed} of {len(seen)} probes in {self.window:g} s"})
                log.warning("takeover: %s taken over (%d of %d probes failed)", node, failed, len(seen))
            elif state is not None and state.get("reason") == "probes":
                recent = list(seen)[-RECOVERED:]
                if len(recent) == RECOVERED and all(good for _, good in recent):
                    await set_state(self.svc, node, None)
                    log.warning("takeover: %s handed back (%d probes in a row answered)", node, RECOVERED)
        self.refresh()


async def _probe(peers, node: str, dep: dict) -> bool:
    """Does any address the deposit's routes name answer a Handle resolution over UDP?"""
    for route in (dep.get("routes") or {}).get("routes", []):
        for p in route.get("protocols", []):
            if p.get("protocol") != "UDP":
                continue
            try:
                await peers.resolve(route["address"], int(p["port"]), f"{node}/idnode-takeover-probe")
                return True
            except Exception:
                continue
    return False


def _per_node(tx: Tx, name: str) -> dict[str, dict]:
    """The meta entries ``name + <node prefix>``, by node prefix."""
    out = {}
    cur = tx.txn.cursor(db=tx.dbs["meta"])
    start = b"s:" + name.encode()
    if cur.set_range(start):
        for k, raw in cur:
            if not k.startswith(start):
                break
            out[k[len(start):].decode()] = unpack(raw)
    return out


def _states(tx: Tx) -> dict[str, dict]:
    return _per_node(tx, STATE_META)


def _deposits(tx: Tx) -> dict[str, dict]:
    return _per_node(tx, LATEST_META)


async def set_state(svc: Service, node: str, state: dict | None) -> None:
    name = STATE_META + fold(node)

    def op(tx: Tx) -> None:
        if state is None:
            tx.delete_meta(name)
        else:
            tx.put_meta(name, state)

    await svc.write(op)


def status(svc: Service) -> dict:
    with svc.store.read() as tx:
        states, deposits = _states(tx), _deposits(tx)
    return {node: {"takenOver": states.get(node), "deposit": {k: v for k, v in dep.items() if k != "routes"}}
            for node, dep in deposits.items()} | {n: {"takenOver": s, "deposit": None}
                                                   for n, s in states.items() if n not in deposits}

