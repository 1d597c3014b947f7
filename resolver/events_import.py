"""``idnode events import``: EPCIS events from a file into the store, as capture would take them.

- The file is an EPCIS document (``.json``, ``.jsonld``: a document, a list of events or one event)
  or JSON Lines (``.jsonl``, ``.ndjson``: one event, or one whole document, a line).
- Events are validated as ``POST /capture`` validates them (the standard's schema, times, identifiers),
  but one at a time in effect: a bad event is rejected alone, with its line or position and the
  reason, into a rejects file; the rest are stored.
- Events are idempotent (by eventID, or without one by the CBV event hash): importing a file twice
  stores nothing the second time and counts duplicates. Each chunk is one durable transaction that
  also records how far the file was read, so an interrupted import resumes after its last commit.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from tqdm import tqdm

from protocol.epcis import EventError
from storage import Tx

from .audit import Attempt
from .service import Service
from .service.events import CaptureRejected

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
    """Where the position reached in this file (as it is now: path, size, time) is kept."""
    st = path.stat()
    return "events-import:" + hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]


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


def _document(path: Path, start: int) -> tuple[list[_Item], int]:
    doc = orjson.loads(path.read_bytes())
    events = _events_in(doc)
    ctx = _context(doc)
    return [_Item({"position": i}, ev, ctx, i + 1) for i, ev in enumerate(events) if i >= start], len(events)


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
        prepared, _ = svc.prepare([_with_context(it) for it in live], len(live))
        return [(f, ev, it.context) for (f, ev), it in zip(prepared, live, strict=True)], []
    except CaptureRejected:
        pass
    good, bad = [], []
    for it in live:
        try:
            [(f, ev)], _ = svc.prepare([_with_context(it)], 1)
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


def import_events(svc: Service, path: str | os.PathLike, *, fmt: str = "auto", restart: bool = False,
                  rejects: str | None = None, progress: bool = True, chunk: int = CHUNK) -> Summary:
    path = Path(path)
    if fmt == "auto":
        fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "document"
    if fmt not in ("jsonl", "document"):
        raise ValueError("format must be jsonl or document")
    svc.epcis.validator()  # no schema: stop before reading anything (SchemaUnavailable names the setting)
    key = state_key(path)
    with svc.store.read() as tx:
        state = None if restart else tx.get_meta(key)
    summary = Summary()
    start, start_line = (state["offset"], state.get("line", 0)) if state else (0, 0)
    if state and state.get("complete"):
        summary.already_complete = True
        return summary
    summary.resumed_from = start_line or start
    rejects_path = Path(rejects) if rejects else path.with_name(path.name + ".rejects.jsonl")
    rej = open(rejects_path, "ab" if state else "wb")
    bad_lines: list[dict] = []
    operator = str(svc.operator())
    attempt = Attempt("cli", "local", "events_import", str(path), identity=operator, authenticated=True)
    try:
        if fmt == "jsonl":
            fh = open(path, "rb")
            total, unit = path.stat().st_size, "B"
            items: Iterator[_Item] = _lines(fh, start, start_line, bad_lines)
        else:
            fh = None
            listed, total = _document(path, start)
            items, unit = iter(listed), "ev"
        with tqdm(total=total, initial=start, unit=unit, unit_scale=unit == "B", disable=not progress,
                  desc=f"events {path.name}") as bar:
            position = start
            while True:
                batch = _take(items, chunk)
                if not batch:
                    break
                good, bad = _validate(svc, batch)
                bad = sorted(bad_lines + bad, key=lambda b: (b.get("line", 0), b.get("event", 0), b.get("position", 0)))
                bad_lines.clear()
                end = batch[-1].end
                last_line = batch[-1].where.get("line", 0)

                def op(tx: Tx, good=good, bad=bad, end=end, last_line=last_line) -> Counter:
                    counts: Counter = Counter()
                    for f, ev, ctx in good:
                        counts[tx.put_event(f, ev, ctx, operator)] += 1  # the node's console captured them
                    tx.put_meta(key, {"offset": end, "line": last_line, "file": str(path)})
                    # The chunk's audit entry, in its transaction (resolver/audit.py).
                    tx.put_audit(svc.audit.entry(attempt, "allowed" if good else "denied", 1,
                                                 extra={"succeeded": len(good), "failed": len(bad)}))
                    return counts

                result = svc.committer.apply(op, len(batch))
                summary.events += sum(1 for it in batch if it.event is not None)
                summary.stored += result["stored"]
                summary.duplicate += result["duplicate"]
                summary.declared += result["declared"]
                summary.rejected += len(bad)
                for b in bad:
                    summary.reasons[_reason_kind(b["reason"])] += 1
                    rej.write(orjson.dumps(b) + b"\n")
                bar.update(end - position)
                position = end
        svc.committer.apply(lambda tx: tx.put_meta(key, {"offset": position, "complete": True,
                                                         "file": str(path)}))
    finally:
        rej.close()
        if fmt == "jsonl":
            fh.close()
    if summary.rejected:
        summary.rejects_file = str(rejects_path)
    elif not state:
        rejects_path.unlink(missing_ok=True)
    return summary


def _take(items: Iterator[_Item], n: int) -> list[_Item]:
    out = []
    for it in items:
        out.append(it)
        if len(out) >= n:
            break
    return out

