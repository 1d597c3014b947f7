"""Trace an item: its timeline with corrections applied, its current state, and its lineage.

Upstream is what went into the item (transformation inputs, aggregation and association children),
downstream what the item went into (outputs, parents), each followed recursively within a depth and
a size limit; where a limit cuts, the answer says so instead of growing without bound.

An item may be named two ways: by its handle and by the GS1 key its record carries (a value of type
GS1, indexed by storage). Events captured under either spelling are the item's: the trace gathers
them under the handle, its primary spelling, and lists the others as ``aliases``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.epcis import PARENT_CHILD, facts, iso_ms
from protocol.epcis_ids import GS1_HOST, canonical
from protocol.gs1 import identity
from protocol.handles import fold
from storage import Tx

from ..credentials import Identity
from .events import vocab
from .tenants import allocated_prefix, scope_of

if TYPE_CHECKING:
    from . import Service

MAX_TIMELINE = 2000
MAX_DEPTH = 8
MAX_NODES = 2000
# Every event a trace reads counts here, the item's own, its containers' and its lineage's alike: a trace
# costs at most this many reads (about 0.1 s), however many events anyone recorded about what it touches.
MAX_READS = 5000


class Reads:
    """What a trace may still read; ``spent`` once the budget is gone."""

    __slots__ = ("left",)

    def __init__(self, n: int):
        self.left = n

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0

    @property
    def spent(self) -> bool:
        return self.left < 0


def _summary(ev: dict, t: int, role: str | None = None, via: str | None = None, parent: str | None = None,
             by: str | None = None, foreign: bool = False) -> dict:
    out = {"eventID": ev.get("eventID"), "type": ev.get("type"), "eventTime": iso_ms(t)}
    if isinstance(ev.get("eventTimeZoneOffset"), str):
        out["eventTimeZoneOffset"] = ev["eventTimeZoneOffset"]  # where it happened: pages show its local time
    if by:
        out["by"] = by  # the enterprise (prefix) that captured it
    if foreign:
        out["foreign"] = True  # said by another enterprise than the item's owner: shown, not its state
    for k in ("action", "bizStep", "disposition"):
        if ev.get(k):
            out[k] = vocab(ev[k]) if k != "action" else ev[k]
    for k in ("bizLocation", "readPoint"):
        if isinstance(ev.get(k), dict):
            out[k] = ev[k].get("id")
    if role:
        out["role"] = role
    if via:
        out["via"] = via
    if role == "child" and parent:
        out["parentID"] = parent  # what holds the item: the state's container comes from it
    return out


def _role(f, names: set[str]) -> str:
    if f.parent in names:
        return "parent"
    if not names.isdisjoint(f.children):
        return "child"
    if not names.isdisjoint(f.inputs):
        return "input"
    if not names.isdisjoint(f.outputs):
        return "output"
    return "epc"


def spellings(tx: Tx, ident: str) -> tuple[str, list[str]]:
    """An item's primary spelling (its handle, where one is known) and every spelling events may use."""
    if ident.startswith("hdl:"):
        keys = tx.gs1_keys_of(ident[4:].encode())
        return ident, [ident, *keys]
    if ident.startswith(GS1_HOST + "/"):
        hk = tx.handle_for_gs1(identity(ident))
        if hk is not None:
            keys = tx.gs1_keys_of(hk)
            primary = "hdl:" + hk.decode()
            return primary, list(dict.fromkeys([primary, *keys, ident]))
    return ident, [ident]


class Viewer:
    """Which events a trace shows, in summary, and how many of whose it withholds (README, "Who reads events").

    Public: the events captured by the traced item's owner or by the node admin. Anything else only to an
    identity the event read policy lets read it (``may_read``); to everyone else it is counted under the
    prefix that captured it, and nothing more of it is told."""

    __slots__ = ("tx", "identity", "public", "steps", "may_read", "withheld", "_counted")

    def __init__(self, tx: Tx, identity: Identity | None, public: set[str], may_read, steps: set[str] | None = None,
                 owner: str | None = None):
        self.tx, self.identity, self.public, self.may_read = tx, identity, public, may_read
        self.steps = (owner, steps)  # the owner's business steps it shows, when it chose (its publicTrace)
        self.withheld: dict[str, int] = {}
        self._counted: set[object] = set()  # an event met twice (timeline and lineage) is counted once

    def shows(self, ev: dict, by: str | None, capturer: str | None) -> bool:
        if by is not None and by in self.public:
            owner, steps = self.steps
            if by != owner or steps is None or vocab(ev.get("bizStep")) in steps:
                return True
        if self.identity is not None and self.may_read(self.tx, self.identity, ev, capturer):
            return True
        if ev.get("eventID") not in self._counted:
            self._counted.add(ev.get("eventID"))
            key = by or "unknown"
            self.withheld[key] = self.withheld.get(key, 0) + 1
        return False


class TraceOps:
    """Tracing an item through its events and lineage, on this node."""

    def __init__(self, svc: Service):
        self.svc = svc

    def trace(self, identifier: str, *, depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES,
              max_events: int = MAX_TIMELINE, identity: Identity | None = None) -> dict:
        """The trace as ``identity`` (None: anonymous, as every other node asks) may see it."""
        depth = max(0, min(depth, MAX_DEPTH))
        max_nodes = max(1, min(max_nodes, MAX_NODES))
        with self.svc.store.read() as tx:
            memo: dict[str, tuple[str, list[str]]] = {}
            plain = tx.gs1_empty()  # no record carries a GS1 key: every item has one spelling

            def names(x: str) -> tuple[str, list[str]]:
                got = memo.get(x)
                if got is None:
                    got = memo[x] = (x, [x]) if plain else spellings(tx, x)
                return got

            ident, aliases = names(canonical(identifier))
            reads = Reads(MAX_READS)
            owner, steps = self._owner(tx, ident)
            node = self.svc.node_prefix
            public = {p for p in (owner, fold(node) if node else None) if p is not None}
            view = Viewer(tx, identity, public, self.svc.events.may_read_event, steps, owner)
            timeline, corrections, cut = self._timeline(tx, aliases, max_events, reads, owner, view)
            state = state_of([s for _, s, _ in timeline])
            up, up_cut = self._lineage(tx, ident, "up", depth, max_nodes, names, reads, view)
            down, down_cut = self._lineage(tx, ident, "down", depth, max_nodes, names, reads, view)
        answer = {"identifier": identifier, "canonical": ident, "timeline": [e for _, e, _ in timeline],
                  "state": state, "upstream": up, "downstream": down}
        if len(aliases) > 1:
            answer["aliases"] = aliases[1:]
        if corrections:
            answer["corrections"] = corrections
        if view.withheld:
            answer["withheld"] = [{"by": p, "events": n} for p, n in sorted(view.withheld.items())]
        notes = ([f"timeline cut at {max_events} events"] if cut else []) + up_cut + down_cut
        if reads.spent:
            notes.append(f"trace cut after reading {MAX_READS} events")
        if notes:
            answer["cut"] = notes
        return answer

    def _owner(self, tx: Tx, ident: str) -> tuple[str | None, set[str] | None]:
        """The enterprise (allocated prefix) a handle item belongs to here, None for anything else; and the
        business steps of its events it shows anonymously (None: all)."""
        handle = ident[4:] if ident.startswith("hdl:") else None
        if handle is None or "/" not in handle:
            return None, None
        rec = allocated_prefix(tx, handle.partition("/")[0])
        if rec is None:
            return None, None
        chosen = rec.get("publicTrace")
        steps = set(chosen["bizSteps"]) if isinstance(chosen, dict) and isinstance(chosen.get("bizSteps"), list) else None
        return fold(rec["prefix"]), steps

    def _load(self, tx: Tx, ek: bytes, owner: str | None) -> tuple[dict, int, str | None, bool, str | None]:
        """(event, time, the prefix that captured it, is that someone else than the item's owner and the
        node, the identity that captured it)."""
        ev, t, _, capturer = tx.load_event_row(ek)
        by = fold(scope_of(capturer)) if capturer else None
        node = self.svc.node_prefix
        foreign = (owner is not None and by is not None and by != owner
                   and not (node is not None and by == fold(node)))
        return ev, t, by, foreign, capturer

    def _timeline(self, tx: Tx, aliases: list[str], limit: int, reads: Reads, owner: str | None, view: Viewer):
        items: list[tuple[int, dict, object]] = []  # (time, summary, facts)
        corrections = []
        cut = False
        names = set(aliases)
        for _, ek in _event_keys(tx, aliases, limit):
            if not reads.take():
                break
            ev, t, by, foreign, capturer = self._load(tx, ek, owner)
            if not view.shows(ev, by, capturer):
                continue
            if isinstance(ev.get("errorDeclaration"), dict):
                d = ev["errorDeclaration"]
                corrections.append({"eventID": ev.get("eventID"), "reason": vocab(d.get("reason")),
                                    "declarationTime": d.get("declarationTime"),
                                    "correctiveEventIDs": d.get("correctiveEventIDs", [])})
                continue
            f = facts(ev)
            items.append((t, _summary(ev, t, _role(f, names), parent=f.parent, by=by, foreign=foreign), f))
            if len(items) >= limit:
                cut = True
                break
        # What happened to a container while the item was in it happened to the item too; it counts towards
        # the same limit, and what another enterprise says about its container is shown as that enterprise's.
        for container, lo, hi in _containment(names, items):
            if cut or reads.spent:
                break
            for _, ek in tx.event_keys_for(container, lo=lo, hi=hi):
                if len(items) >= limit:
                    cut = True
                    break
                if not reads.take():
                    break
                ev, t, by, foreign, capturer = self._load(tx, ek, owner)
                if isinstance(ev.get("errorDeclaration"), dict) or not view.shows(ev, by, capturer):
                    continue
                f = facts(ev)
                if container in f.epcs:
                    items.append((t, _summary(ev, t, "container", container, by=by, foreign=foreign), f))
        items.sort(key=lambda x: x[0])
        return items, corrections, cut

    def _lineage(self, tx: Tx, ident: str, direction: str, depth: int, max_nodes: int, names, reads: Reads,
                 view: Viewer):
        seen = {ident}
        frontier = [ident]
        out: list[dict] = []
        notes: list[str] = []
        for level in range(1, depth + 1):
            nxt = []
            for node in frontier:
                removed: dict[str, str] = {}
                links = []
                for other, ek in _linked(tx, names(node)[1], direction, max(0, reads.left)):
                    if not reads.take():
                        notes.append(f"{direction}stream lineage cut after reading {MAX_READS} events")
                        return out, notes
                    other = names(other)[0]
                    ev, t, _, capturer = tx.load_event_row(ek)
                    if not view.shows(ev, fold(scope_of(capturer)) if capturer else None, capturer):
                        continue  # a link only another enterprise recorded is its knowledge, not the public's
                    if isinstance(ev.get("errorDeclaration"), dict):
                        continue
                    if ev.get("action") == "DELETE":
                        removed[other] = iso_ms(t)
                        continue
                    links.append((other, ev, t))
                for other, ev, t in links:
                    if other in seen:
                        continue
                    if len(seen) >= max_nodes:
                        notes.append(f"{direction}stream lineage cut at {max_nodes} items")
                        return out, notes
                    seen.add(other)
                    rel = ("child" if direction == "up" else "parent") if ev.get("type") in PARENT_CHILD else \
                        ("input" if direction == "up" else "output")
                    item = {"id": other, "from": node, "depth": level, "relation": rel,
                            "eventID": ev.get("eventID"), "eventTime": iso_ms(t), "bizStep": vocab(ev.get("bizStep"))}
                    if other in removed:
                        item["removed"] = removed[other]
                    out.append(item)
                    nxt.append(other)
            frontier = nxt
            if not frontier:
                break
        else:
            if frontier and any(_linked(tx, names(n)[1], direction, 1) for n in frontier):
                notes.append(f"{direction}stream lineage cut at depth {depth}")
        return out, notes


def _event_keys(tx: Tx, aliases: list[str], limit: int):
    """(index key, event key) naming any of the spellings, each event once, in time order."""
    if len(aliases) == 1:
        yield from tx.event_keys_for(aliases[0])
        return
    found: dict[bytes, bytes] = {}  # event key → its time (8 bytes), from the index key
    for a in aliases:
        for n, (ik, ek) in enumerate(tx.event_keys_for(a)):
            if n > limit:
                break
            found.setdefault(ek, ik[-len(ek) - 8:-len(ek)])
    for ek, t in sorted(found.items(), key=lambda x: x[1]):
        yield t, ek


def _linked(tx: Tx, aliases: list[str], direction: str, limit: int) -> list[tuple[str, bytes]]:
    if len(aliases) == 1:
        return tx.linked(aliases[0], direction, limit + 1)
    return [x for a in aliases for x in tx.linked(a, direction, limit + 1)]


def _containment(names: set[str], items) -> list[tuple[str, int, int | None]]:
    """Periods the item spent in a container: (container, from ms, until ms or None)."""
    periods = []
    open_: dict[str, int] = {}
    for t, _, f in sorted(items, key=lambda x: x[0]):
        if f.type != "AggregationEvent" or names.isdisjoint(f.children) or not f.parent:
            continue
        if f.action == "DELETE":
            if f.parent in open_:
                periods.append((f.parent, open_.pop(f.parent), t))
        elif f.parent not in open_:
            open_[f.parent] = t
    periods += [(c, t, None) for c, t in open_.items()]
    return [(c, lo + 1, hi) for c, lo, hi in periods]


def state_of(timeline: list[dict]) -> dict:
    """The item's state after a timeline (event summaries in time order): from the summaries alone, so
    a timeline merged from several nodes gives its state the same way."""
    state: dict = {"disposition": None, "location": None, "container": None, "lastEvent": None}
    for s in timeline:
        if s.get("foreign"):
            continue  # another enterprise's word about the item: on the timeline, not the owner's state
        state["lastEvent"] = s["eventTime"]
        if s.get("disposition"):
            state["disposition"] = s["disposition"]
        if s.get("bizLocation"):
            state["location"] = s["bizLocation"]
        if s.get("type") == "AggregationEvent" and s.get("role") == "child":
            state["container"] = None if s.get("action") == "DELETE" else s.get("parentID")
    return state

