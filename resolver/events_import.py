"""``idnode events import``: EPCIS events from a file into the store, as capture would take them.

- The file is an EPCIS document (``.json``, ``.jsonld``: a document, a list of events or one event)
  or JSON Lines (``.jsonl``, ``.ndjson``: one event, or one whole document, a line).
- Events are validated as ``POST /capture`` validates them (the standard's schema, times, identifiers),
  but one at a time in effect: a bad event is rejected alone, with its line or position and the
  reason, into a rejects file; the rest are stored.
- Events are idempotent (by eventID, or without one by the CBV event hash): importing a file twice
  stores nothing the second time and counts duplicates. Each chunk is one durable transaction that
  also records how far the file was read, so an interrupted import resumes after its last commit
  (the skeleton shared with ``idnode import``, resolver/resumable_import.py; this is its decoder).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import orjson

from protocol.capture import CaptureRejected, CaptureRequest
from protocol.epcis import EventError
from storage import Tx

from . import resumable_import
from .resumable_import import Chunk, Position, run_import
from .service import Service

CHUNK = 1000  # events a transaction
MAX_SHOWN = 300  # characters of a rejected event kept in the rejects file
_WRAPPED = re.compile(r"^epcisBody/eventList/\d+/?")
_QUOTED = re.compile(r"\{.*\}")


@dataclass
class Summary:
    events: int = 0  # events read (a line that is not JSON is rejected without being one)
    stored: int = 0
    duplicate: int = 0
    declared: int = 0
    rejected: int = 0
    resumed_from: int = 0
    already_complete: bool = False
    reasons: Counter = field(default_factory=Counter)
    rejects_file: str | None = None


@dataclass(slots=True)
class _Item:
    where: dict  # {"line": n} or {"position": i}, and {"event": i} inside a document on a line
    event: object
    context: object
    end: int  # how far the file has been read once this item is stored (bytes, or events of a document)


def state_key(path: Path) -> str:
    """Where the position reached in this file (as it is now) is kept."""
    return resumable_import.state_key(EventDecoder.state_prefix, path)


def _shown(event: object) -> str:
    try:
        return orjson.dumps(event).decode()[:MAX_SHOWN]
    except TypeError:
        return repr(event)[:MAX_SHOWN]


def _context(doc: object) -> object:
    return doc.get("@context") if isinstance(doc, dict) else None


def _events_in(doc: object) -> list:
    from protocol.epcis import events_of

    return events_of(doc)


def _lines(fh, start: int, start_line: int, bad: list[dict]) -> Iterator[_Item]:
    """Items of a JSON Lines file from byte ``start``; a line that is not JSON goes to ``bad``."""
    fh.seek(start)
    offset, n = start, start_line
    for raw in fh:
        offset += len(raw)
        n += 1
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
            events = _events_in(obj)
        except (orjson.JSONDecodeError, EventError) as e:
            reason = f"not JSON: {e}" if isinstance(e, orjson.JSONDecodeError) else e.message
            bad.append({"line": n, "reason": reason, "text": raw[:MAX_SHOWN].decode("utf-8", "replace").rstrip()})
            yield _Item({"line": n}, None, None, offset)  # only to move the position on
            continue
        if isinstance(obj, dict) and obj.get("type") == "EPCISDocument":
            for i, ev in enumerate(events):
                yield _Item({"line": n, "event": i}, ev, _context(obj), offset)
        else:
            yield _Item({"line": n}, obj, None, offset)


def _document(path: Path) -> tuple[list[_Item], int]:
    doc = orjson.loads(path.read_bytes())
    events = _events_in(doc)
    ctx = _context(doc)
    return [_Item({"position": i}, ev, ctx, i + 1) for i, ev in enumerate(events)], len(events)


def _with_context(it: _Item) -> object:
    """The event with its document's @context, so that the prefixes its extensions use are declared
    (for the rules and the event hash); capture drops the event's @context before storing it."""
    ev = it.event
    if it.context is None or not isinstance(ev, dict) or "@context" in ev:
        return ev
    return {**ev, "@context": it.context}


def _validate(svc: Service, items: list[_Item]) -> tuple[list, list[dict]]:
    """(facts, stored event, context) of the good items; a rejection for each bad one.

    The chunk is validated whole first (the common case: all good, one schema pass); only when that
    fails is each event judged alone, so one bad event costs the chunk one extra pass, not its place.
    """
    live = [it for it in items if it.event is not None]
    if not live:
        return [], []
    try:
        prepared = svc.prepare(CaptureRequest("list", tuple(_with_context(it) for it in live)), len(live))
        return [(f, ev, it.context) for (f, ev), it in zip(prepared, live, strict=True)], []
    except CaptureRejected:
        pass
    good, bad = [], []
    for it in live:
        try:
            [(f, ev)] = svc.prepare(CaptureRequest("list", (_with_context(it),)), 1)
            good.append((f, ev, it.context))
        except CaptureRejected as e:
            err = e.errors[0]
            path = _WRAPPED.sub("", err.path or "")  # the event was validated in a document of its own
            bad.append({**it.where, "reason": err.message, **({"path": path} if path else {}),
                        "text": _shown(it.event)})
    return good, bad


def _reason_kind(reason: str) -> str:
    """A reason without the event it quotes, to count rejections by kind."""
    return _QUOTED.sub("the event", reason)[:100]


class EventDecoder:
    """EPCIS events from a document or JSON Lines, ``chunk`` events a transaction, validated before the
    transaction as capture validates them (for resolver/resumable_import.py)."""

    state_prefix = "events-import"
    operation = "events_import"

    def __init__(self, svc: Service, path: Path, fmt: str, chunk: int):
        self.svc, self.path, self.fmt, self.chunk = svc, path, fmt, chunk
        self.unit = "B" if fmt == "jsonl" else "ev"
        self.operator = str(svc.operator())
        self._document: tuple[list[_Item], int] | None = None

    def _items_of_document(self) -> tuple[list[_Item], int]:
        if self._document is None:
            self._document = _document(self.path)
        return self._document

    def size(self) -> int:
        return self.path.stat().st_size if self.fmt == "jsonl" else self._items_of_document()[1]

    def reason_kind(self, rejection: dict) -> str:
        return _reason_kind(rejection["reason"])

    def chunks(self, start: Position) -> Iterator[Chunk]:
        bad_lines: list[dict] = []
        with contextlib.ExitStack() as stack:
            if self.fmt == "jsonl":
                fh = stack.enter_context(open(self.path, "rb"))
                items: Iterator[_Item] = _lines(fh, start.offset, start.line, bad_lines)
            else:
                items = iter(self._items_of_document()[0][start.offset:])
            while True:
                batch = _take(items, self.chunk)
                if not batch:
                    return
                good, bad = _validate(self.svc, batch)
                bad = sorted(bad_lines + bad, key=lambda b: (b.get("line", 0), b.get("event", 0), b.get("position", 0)))
                bad_lines.clear()
                end = Position(batch[-1].end, batch[-1].where.get("line", 0))
                yield Chunk(start, end, partial(self._write, good), items=sum(1 for it in batch if it.event is not None),
                            rejected=bad)
                start = end

    def _write(self, good: list, tx: Tx) -> tuple[Counter, list[dict]]:
        counts: Counter = Counter(stored=0, duplicate=0, declared=0)
        for f, ev, ctx in good:
            counts[tx.put_event(f, ev, ctx, self.operator)] += 1  # the node's console captured them
        return counts, []


def import_events(svc: Service, path: str | os.PathLike, *, fmt: str = "auto", restart: bool = False,
                  rejects: str | None = None, progress: bool = True, chunk: int = CHUNK) -> Summary:
    path = Path(path)
    if fmt == "auto":
        fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "document"
    if fmt not in ("jsonl", "document"):
        raise ValueError("format must be jsonl or document")
    svc.epcis.validator()  # no schema: stop before reading anything (SchemaUnavailable names the setting)
    out = run_import(svc, path, EventDecoder(svc, path, fmt, chunk), restart=restart, rejects=rejects,
                     progress=progress)
    resumed = out.resumed_from
    return Summary(events=out.items, stored=out.counts["stored"], duplicate=out.counts["duplicate"],
                   declared=out.counts["declared"], rejected=out.rejected,
                   resumed_from=(resumed.line or resumed.offset) if resumed else 0,
                   already_complete=out.already_complete, reasons=out.reasons, rejects_file=out.rejects_file)


def _take(items: Iterator[_Item], n: int) -> list[_Item]:
    out = []
    for it in items:
        out.append(it)
        if len(out) >= n:
            break
    return out
