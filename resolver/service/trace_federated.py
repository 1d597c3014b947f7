"""Tracing across nodes: an item's lineage names parts whose handles another node serves; that node
holds their own events, so it is asked for their trace and its answer is merged in.

- Which node: the one whose site serves the part's prefix (found through the top-level nodes, as
  remote resolution finds it), asked over the HTTP interface its HS_SITE lists.
- Within a time budget for the whole answer (``budget_ms``, default 2 s): parts are asked
  concurrently; what does not answer in time, or cannot be found, is listed under ``unreachable``
  with the node and the reason, and the rest of the answer stands.
- Never a loop: each request carries ``via``, the prefixes of the nodes already answering the
  question; a node does not ask any of them again, and stops asking once the chain is
  ``MAX_CHAIN`` nodes long. Depth shrinks at every step as well.
- Attribution: every merged timeline event and lineage item carries ``node`` (the base URL of the
  node that answered); ``parts`` holds each remote part's own timeline and state with ``node`` and
  ``nodePrefix``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from protocol.codes import RC, HandleError
from protocol.epcis_ids import display_handle
from protocol.handles import check_prefix, fold, is_within, split
from storage import Tx

from ..credentials import Identity
from ..federation.traces import TraceUnreachable, node_for
from .trace import MAX_DEPTH, MAX_NODES, MAX_TIMELINE, state_of

if TYPE_CHECKING:
    from . import Service

DEFAULT_BUDGET_MS = 2000
MAX_BUDGET_MS = 10_000
MAX_CHAIN = 4  # nodes asking one another within one trace: A asks B asks C asks D, no further
MAX_PARTS = 32  # remote parts asked for in one answer
CONCURRENCY = 8  # remote parts asked at once
MIN_LEFT = 0.05  # seconds: with less left in the budget, a request is not worth sending
NESTED_SHARE = 0.8  # of what is left, the share a node asked passes on to the nodes it asks


@dataclass(slots=True)
class _Part:
    ident: str  # canonical identifier, as the lineage names it
    handle: str
    relation: str  # "self" (the item traced), "upstream" or "downstream"
    level: int  # its depth in this node's lineage (0 for the item itself)
    depth: int  # lineage depth to ask the other node for


def parse_via(text: str | None) -> list[str]:
    """``via=88.101,88.102``: the prefixes of the nodes already answering this trace."""
    if not text:
        return []
    out = [p.strip() for p in text.split(",") if p.strip()]
    if len(out) > 2 * MAX_CHAIN:
        raise HandleError(RC.INVALID_VALUE, f"via names {len(out)} nodes; at most {2 * MAX_CHAIN}", field="via")
    for p in out:
        try:
            check_prefix(p)
        except HandleError as e:
            raise HandleError(RC.INVALID_VALUE, f"via: {e.message}", field="via") from None
    return out


def check_budget(budget_ms: int) -> int:
    if not 0 <= budget_ms <= MAX_BUDGET_MS:
        raise HandleError(RC.INVALID_VALUE, f"budget_ms must be between 0 and {MAX_BUDGET_MS}, not {budget_ms}",
                          field="budget_ms")
    return budget_ms


class FederatedTraceOps:
    """Tracing across nodes: the local trace (``TraceOps``), with the parts served elsewhere asked there."""

    def __init__(self, svc: Service):
        self.svc = svc

    async def trace_anywhere(self, identifier: str, *, depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES,
                             max_events: int = MAX_TIMELINE, budget_ms: int = DEFAULT_BUDGET_MS,
                             via: list[str] | None = None, identity: Identity | None = None) -> dict:
        """``trace``, with the parts served by other nodes traced there and merged in. Other nodes are asked
        anonymously: what they answer is their public view, whoever asks here."""
        check_budget(budget_ms)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget_ms / 1000
        depth = max(0, min(depth, MAX_DEPTH))
        max_nodes = max(1, min(max_nodes, MAX_NODES))
        max_events = max(1, min(max_events, MAX_TIMELINE))
        answer = self.svc.tracing.trace(identifier, depth=depth, max_nodes=max_nodes, max_events=max_events, identity=identity)
        me = self.svc.node_prefix
        answer["node"] = me
        via = list(via or [])
        if self.svc.remote is None or self.svc.traces is None or budget_ms == 0:
            return answer
        if len(via) >= MAX_CHAIN:
            _note(answer, f"other nodes not asked: {len(via)} nodes already take part in this trace")
            return answer
        chain = via + ([me] if me else [])
        with self.svc.store.read() as tx:
            parts = self._remote_parts(tx, answer, depth, chain)
        if len(parts) > MAX_PARTS:
            _note(answer, f"other nodes asked for {MAX_PARTS} of {len(parts)} parts they serve")
            parts = parts[:MAX_PARTS]
        if not parts:
            return answer
        gate = asyncio.Semaphore(CONCURRENCY)

        async def ask(part: _Part):
            async with gate:
                return await self._ask(part, deadline, chain, max_nodes, max_events)

        results = await asyncio.gather(*(ask(p) for p in parts))
        _merge(answer, parts, results, max_nodes, max_events)
        return answer

    def _remote_parts(self, tx: Tx, answer: dict, depth: int, chain: list[str]) -> list[_Part]:
        """The item itself and the lineage items whose handles another node serves (none of the chain)."""
        out: list[_Part] = []
        seen: set[str] = set()

        def add(ident: str, relation: str, level: int) -> None:
            if ident in seen:
                return
            seen.add(ident)
            handle = self._served_elsewhere(tx, ident, chain)
            if handle is not None:
                out.append(_Part(ident, handle, relation, level, depth - level))

        add(answer["canonical"], "self", 0)
        for relation in ("upstream", "downstream"):
            for item in answer[relation]:
                add(item["id"], relation, item["depth"])
        return out

    def _served_elsewhere(self, tx: Tx, ident: str, chain: list[str]) -> str | None:
        handle = display_handle(ident)
        if handle is None:
            return None
        try:
            prefix, suffix = split(handle)
        except HandleError:
            return None
        if fold(prefix) == "0.na" or any(is_within(prefix, p) for p in chain):
            return None
        if self.svc.role == "top":
            return handle if self.svc.federation.delegation(tx, prefix) is not None else None
        return None if self.svc.serves(tx, prefix, suffix) else handle

    async def _ask(self, part: _Part, deadline: float, chain: list[str], max_nodes: int, max_events: int):
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                base = await node_for(self.svc.remote, part.handle)
        except TimeoutError:
            return TraceUnreachable(None, f"finding the node that serves {part.handle} took longer than the "
                                          "trace's time budget")
        except TraceUnreachable as e:
            return e
        left = deadline - loop.time()
        if left < MIN_LEFT:
            return TraceUnreachable(base, "the trace's time budget was spent before this node could be asked")
        params = {"depth": str(part.depth), "maxNodes": str(max_nodes), "maxEvents": str(max_events),
                  "budget_ms": str(int(left * NESTED_SHARE * 1000)), "via": ",".join(chain)}
        try:
            return base, await self.svc.traces.trace(base, part.handle, params, left)
        except TraceUnreachable as e:
            return e


def _note(answer: dict, note: str) -> None:
    answer.setdefault("cut", []).append(note)


def _tagged(entries: object, node: str, required: tuple[tuple[str, type], ...]) -> list[dict]:
    """Entries of another node's answer, each naming the node that answered it (nested answers keep
    theirs). Entries without the fields this node relies on are left out: a peer's answer is input."""
    if not isinstance(entries, list):
        return []
    return [{**e, "node": e.get("node") if isinstance(e.get("node"), str) else node} for e in entries
            if isinstance(e, dict) and all(isinstance(e.get(k), t) for k, t in required)]


_EVENT = (("eventTime", str), ("type", str))
_ITEM = (("id", str), ("depth", int), ("relation", str))
_PART = (("identifier", str), ("depth", int))
_WITHHELD = (("by", str), ("events", int))  # what the other node's public view leaves out, and whose it is


def _unreachable(entries: object) -> list[dict]:
    """What a node asked could not reach in turn, as it said (``node`` None where it found no node)."""
    return [{"identifier": u["identifier"], "node": u.get("node") if isinstance(u.get("node"), str) else None,
             "reason": u["reason"]} for u in entries if isinstance(u, dict) and isinstance(u.get("identifier"), str)
            and isinstance(u.get("reason"), str)] if isinstance(entries, list) else []


def _merge_lineage(answer: dict, relation: str, items: list[dict], offset: int, node: str, max_nodes: int) -> None:
    mine = answer[relation]
    known = {i["id"] for i in mine} | {answer["canonical"]}
    for item in _tagged(items, node, _ITEM):
        if item["id"] in known:
            continue
        if len(mine) >= max_nodes:
            _note(answer, f"{relation} lineage cut at {max_nodes} items")
            return
        known.add(item["id"])
        mine.append({**item, "depth": item["depth"] + offset})


def _merge(answer: dict, parts: list[_Part], results: list, max_nodes: int, max_events: int) -> None:
    out_parts: list[dict] = []
    unreachable: list[dict] = []
    for part, result in zip(parts, results, strict=True):
        if not isinstance(result, tuple):
            unreachable.append({"identifier": part.ident, "node": result.node, "reason": result.reason})
            continue
        base, body = result
        timeline = _tagged(body["timeline"], base, _EVENT)
        out_parts.append({"identifier": part.ident, "node": base, "nodePrefix": body.get("node"),
                          "relation": part.relation, "depth": part.level, "timeline": timeline,
                          "state": body.get("state"), "withheld": _tagged(body.get("withheld"), base, _WITHHELD)})
        if part.relation == "self":
            _merge_timeline(answer, timeline, _tagged(body.get("corrections"), base, ()), max_events)
            for relation in ("upstream", "downstream"):
                _merge_lineage(answer, relation, body[relation], 0, base, max_nodes)
        else:
            _merge_lineage(answer, part.relation, body[part.relation], part.level, base, max_nodes)
        for nested in _tagged(body.get("parts"), base, _PART):
            nested["timeline"] = _tagged(nested.get("timeline"), nested["node"], _EVENT)
            out_parts.append({**nested, "depth": nested["depth"] + part.level})
        unreachable += _unreachable(body.get("unreachable"))
        for note in body.get("cut") if isinstance(body.get("cut"), list) else []:
            _note(answer, f"at {base}: {str(note)[:200]}")
    if out_parts:
        answer["parts"] = out_parts
    if unreachable:
        answer["unreachable"] = unreachable


def _merge_timeline(answer: dict, remote: list[dict], corrections: list[dict], max_events: int) -> None:
    """The item's own events from the node serving it, beside this node's, in time order; an event
    both hold (the same eventID) is shown once."""
    mine = answer["timeline"]
    ids = {e.get("eventID") for e in mine}
    merged = mine + [e for e in remote if e.get("eventID") not in ids]
    merged.sort(key=lambda e: e.get("eventTime") or "")
    if len(merged) > max_events:
        merged = merged[:max_events]
        _note(answer, f"timeline cut at {max_events} events")
    answer["timeline"] = merged
    answer["state"] = state_of(merged)
    if corrections:
        answer["corrections"] = answer.get("corrections", []) + corrections
