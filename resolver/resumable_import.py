"""A resumable import of one file into the store, whatever the file holds: the skeleton that
``idnode import`` (records, resolver/importer.py) and ``idnode events import`` (EPCIS events,
resolver/events_import.py) share. What differs between them is a ``ChunkDecoder``.

- The decoder cuts the file into chunks from a position (bytes and lines read, or items of a document
  read whole). Each chunk is one durable write through the group committer that also records how far
  the file was read, in ``meta`` under a key naming the file as it is now (path, size, modification
  time), so an interrupted import resumes after its last commit and a changed file starts again.
- Each chunk's write carries its audit entry: the operator imported so many from this file.
- What the decoder or the write refuses goes to a rejects file (``FILE.rejects.jsonl`` unless named),
  with where it was and why; the reasons are counted by kind.
- Once the file is read to its end it is marked complete: a second run says so and writes nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import orjson
from tqdm import tqdm

from storage import Tx

from .audit_trail import CLI, Attempt
from .service import Service


@dataclass(frozen=True)
class Position:
    """How far a file has been read: ``offset`` in the decoder's unit (bytes, or items of a document
    read whole) and ``line``, the lines read (0 when the file is not read by lines)."""

    offset: int = 0
    line: int = 0


ChunkWrite = Callable[[Tx], tuple[Counter, list[dict]]]


@dataclass
class Chunk:
    """Items of the file up to ``end``: ``write`` applies them in the chunk's transaction and answers
    how many had each outcome (``{"imported": n, …}``) and the rejections it found there."""

    start: Position
    end: Position
    write: ChunkWrite
    items: int = 0  # items read (what the summary calls lines or events)
    rejected: list[dict] = field(default_factory=list)  # refused before the write (not JSON, not valid)


class ChunkDecoder(Protocol):
    state_prefix: str  # the meta key's prefix: where the position reached in a file is kept
    operation: str  # the audit trail's name for the import
    unit: str  # the progress bar's unit: "B" (bytes) or "ev" (events of a document read whole)

    def size(self) -> int:
        """Where the file ends, in the unit of ``Position.offset``."""

    def chunks(self, start: Position) -> Iterator[Chunk]:
        """The file's chunks from ``start`` (``Position()`` for a file not begun)."""

    def reason_kind(self, rejection: dict) -> str:
        """A rejection's reason without the item it quotes, to count rejections by kind."""


@dataclass
class Outcome:
    counts: Counter = field(default_factory=Counter)  # items by outcome, over every chunk of this run
    items: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    resumed_from: Position | None = None  # where this run started, when an earlier one had begun
    end: Position = Position()
    already_complete: bool = False
    rejects_file: str | None = None


def state_key(prefix: str, path: Path) -> str:
    """Where the position reached in this file (as it is now: path, size, time) is kept."""
    st = path.stat()
    return f"{prefix}:" + hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]


def run_import(svc: Service, path: Path, decoder: ChunkDecoder, *, restart: bool = False,
               rejects: str | None = None, progress: bool = True) -> Outcome:
    """Import ``path`` chunk by chunk as ``decoder`` cuts it, resuming where an earlier run stopped."""
    key = state_key(decoder.state_prefix, path)
    with svc.store.read() as tx:
        state = None if restart else tx.get_meta(key)
    out = Outcome()
    start = Position(state["offset"], state.get("line", 0)) if state else Position()
    if state and (state.get("complete") or start.offset >= decoder.size()):
        out.already_complete, out.end = True, start
        return out
    if state:
        out.resumed_from = start
    rejects_path = Path(rejects) if rejects else path.with_name(path.name + ".rejects.jsonl")
    attempt = Attempt(CLI, decoder.operation, str(path), identity=str(svc.operator()), authenticated=True)
    reached = start
    with open(rejects_path, "ab" if state else "wb") as rej, \
            tqdm(total=decoder.size(), initial=start.offset, unit=decoder.unit, unit_scale=decoder.unit == "B",
                 disable=not progress, desc=f"{decoder.operation} {path.name}") as bar:
        for chunk in decoder.chunks(start):

            def op(tx: Tx, chunk: Chunk = chunk) -> tuple[Counter, list[dict]]:
                counts, refused = chunk.write(tx)
                refused = chunk.rejected + refused
                tx.put_meta(key, {"offset": chunk.end.offset, "line": chunk.end.line, "file": str(path)})
                succeeded = sum(counts.values())
                extra = {"succeeded": succeeded, "failed": len(refused)}
                if chunk.end.line:
                    extra["lines"] = [chunk.start.line + 1, chunk.end.line]
                tx.put_audit(svc.audit.entry(attempt, "allowed" if succeeded else "denied", 1, extra=extra))
                return counts, refused

            counts, refused = svc.committer.apply(op, max(chunk.items, 1))
            out.counts.update(counts)
            out.items += chunk.items
            out.rejected += len(refused)
            for r in refused:
                out.reasons[decoder.reason_kind(r)] += 1
                rej.write(orjson.dumps(r) + b"\n")
            bar.update(chunk.end.offset - reached.offset)
            reached = chunk.end
        svc.committer.apply(lambda tx: tx.put_meta(key, {"offset": reached.offset, "line": reached.line,
                                                         "file": str(path), "complete": True}))
    out.end = reached
    if out.rejected:
        out.rejects_file = str(rejects_path)
    elif not state:
        rejects_path.unlink(missing_ok=True)
    return out
