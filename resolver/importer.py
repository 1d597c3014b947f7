"""``idnode import`` / ``export``: millions of records between files and the store, straight into LMDB.

Import validates each line as the API does, writes in large transactions and records its position in
the same transaction, so an interrupted import resumes where its last commit ended. Lines it cannot
take go to a rejects file with their line number and the reason. The resumable skeleton is
resolver/resumable_import.py's; this module is its decoder for records.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from pathlib import Path

import orjson
from tqdm import tqdm

from protocol.codes import RC, HandleError
from protocol.handles import key, split, strip_scheme
from protocol.jsonrepr import value_to_json, values_from_json
from protocol.values import MAX_VALUES, TEMPLATE, TEMPLATE_INDEX, HandleValue, check_values, merge, with_admin
from storage import Tx
from storage.records import unpack_record

from .resumable_import import Chunk, Position, run_import
from .service import Service
from .service.base import default_admin
from .service.handles import prepare_values, same_values

CHUNK = 20_000
_by_index = itemgetter(0)


@dataclass
class Summary:
    lines: int = 0
    imported: int = 0
    unchanged: int = 0
    rejected: int = 0
    resumed_from: int = 0
    already_complete: bool = False
    reasons: Counter = field(default_factory=Counter)
    rejects_file: str | None = None


def _csv_columns(header: list[str]) -> list[tuple[int, str]]:
    """CSV header cells after ``handle``: ``TYPE`` (indexes 1, 2, … in order) or ``INDEX:TYPE``."""
    cols, auto = [], 1
    for cell in header[1:]:
        idx, sep, vtype = cell.strip().partition(":")
        if sep and idx.isdigit():
            cols.append((int(idx), vtype))
        else:
            cols.append((auto, cell.strip()))
        auto = max(auto, cols[-1][0]) + 1
    return cols


def _record_from_csv(row: list[str], cols: list[tuple[int, str]]) -> dict:
    if len(row) != len(cols) + 1:
        raise HandleError(RC.INVALID_VALUE, f"{len(row)} columns; the header has {len(cols) + 1}")
    return {"handle": row[0], "values": [{"index": i, "type": t, "data": d}
                                         for (i, t), d in zip(cols, row[1:], strict=True) if d != ""]}


def _prepare(svc: Service, tx: Tx, rec: object, prefixes: dict, admins: dict,
             now: int) -> tuple[str, list[HandleValue]]:
    if not isinstance(rec, dict):
        raise HandleError(RC.INVALID_VALUE, "a line must be an object with handle and values")
    handle = rec.get("handle")
    if not isinstance(handle, str):
        raise HandleError(RC.INVALID_HANDLE, "handle must be a string", field="handle")
    handle = strip_scheme(handle)
    prefix, suffix = split(handle)
    ok = prefixes.get(prefix)
    if ok is None:
        try:
            svc.check_writable(tx, prefix, suffix)
            ok = prefixes[prefix] = ""
        except HandleError as e:
            ok = prefixes[prefix] = e.message
    if ok:
        raise HandleError(RC.SERVER_NOT_RESPONSIBLE, ok, field="handle")
    values = prepare_values(values_from_json(rec.get("values", rec.get("value"))), svc.seal)
    values = [v if v.timestamp else v.with_timestamp(now) for v in values]
    template = rec.get("template")
    if isinstance(template, str):
        values = merge(values, [HandleValue(TEMPLATE_INDEX, TEMPLATE, template.encode(), timestamp=now)])
    admin = admins.get(prefix)
    if admin is None:
        admin = admins[prefix] = default_admin(None, prefix).with_timestamp(now)
    values = with_admin(sorted(values, key=_by_index), admin)
    # The values were checked above; with_admin adds at most one, at a free index. Only a template
    # brings data not checked yet, and only the count can have grown past the limit.
    if isinstance(template, str) or len(values) > MAX_VALUES:
        check_values(values)
    svc.check_template(tx, prefix, values)
    return handle, values


class RecordDecoder:
    """Records from JSON Lines or CSV, ``chunk`` lines a transaction, each validated as the API does
    in the transaction that writes it (for resolver/resumable_import.py)."""

    state_prefix = "import"
    operation = "import"
    unit = "B"

    def __init__(self, svc: Service, path: Path, fmt: str, chunk: int):
        self.svc, self.path, self.fmt, self.chunk = svc, path, fmt, chunk
        self.now = svc.now()
        self.prefixes: dict[str, str] = {}  # prefix → "" when writable here, else why not
        self.admins: dict[str, HandleValue] = {}

    def size(self) -> int:
        return self.path.stat().st_size

    def reason_kind(self, rejection: dict) -> str:
        return rejection["error"].split(":")[0][:80]

    def chunks(self, start: Position) -> Iterator[Chunk]:
        with open(self.path, "rb") as fh:
            cols = None
            if self.fmt == "csv":
                header_line = fh.readline()
                cols = _csv_columns(next(csv.reader([header_line.decode("utf-8-sig")])))
                if start.offset == 0:
                    start = Position(fh.tell(), 1)
            fh.seek(start.offset)
            while True:
                lines = []
                for _ in range(self.chunk):
                    raw = fh.readline()
                    if not raw:
                        break
                    lines.append(raw)
                if not lines:
                    return
                end = Position(start.offset + sum(len(x) for x in lines), start.line + len(lines))
                yield Chunk(start, end, partial(self._write, lines, start.line, cols), items=len(lines))
                start = end

    def _write(self, lines: list[bytes], first_line: int, cols: list | None, tx: Tx) -> tuple[Counter, list[dict]]:
        counts: Counter = Counter(imported=0, unchanged=0)
        bad = []
        for n, raw in enumerate(lines, start=first_line + 1):
            if not raw.strip():
                continue
            try:
                if cols is not None:
                    rec = _record_from_csv(next(csv.reader([raw.decode("utf-8")])), cols)
                else:
                    rec = orjson.loads(raw)
                handle, values = _prepare(self.svc, tx, rec, self.prefixes, self.admins, self.now)
                old_raw = tx.get_raw(key(handle))
                old = unpack_record(old_raw) if old_raw is not None else None
                if old is not None and same_values(old.values, values):
                    counts["unchanged"] += 1
                    continue
                tx.put_handle(handle, values, old=old, who="import", now=self.now)
                counts["imported"] += 1
            except (HandleError, ValueError, UnicodeDecodeError, csv.Error) as e:
                msg = e.message if isinstance(e, HandleError) else f"not valid {self.fmt}: {e}"
                bad.append({"line": n, "error": msg, "text": raw[:300].decode("utf-8", "replace").rstrip()})
        return counts, bad


def import_file(svc: Service, path: str | os.PathLike, *, fmt: str = "auto", restart: bool = False,
                rejects: str | None = None, progress: bool = True, chunk: int = CHUNK) -> Summary:
    svc.refuse_writes_if_mirror()
    path = Path(path)
    if fmt == "auto":
        fmt = "csv" if path.suffix.lower() == ".csv" else "jsonl"
    if fmt not in ("jsonl", "csv"):
        raise ValueError("format must be jsonl or csv")
    out = run_import(svc, path, RecordDecoder(svc, path, fmt, chunk), restart=restart, rejects=rejects,
                     progress=progress)
    return Summary(lines=out.end.line, imported=out.counts["imported"], unchanged=out.counts["unchanged"],
                   rejected=out.rejected, resumed_from=out.resumed_from.line if out.resumed_from else 0,
                   already_complete=out.already_complete, reasons=out.reasons, rejects_file=out.rejects_file)


def export(svc: Service, out: io.BufferedWriter, *, prefix: str | None = None, progress: bool = True) -> int:
    """Every record (or a prefix's) as JSON Lines that ``import`` takes back."""
    n = 0
    with svc.store.read() as tx, tqdm(total=tx.total_handles(), unit="rec", disable=not progress,
                                      desc="export") as bar:
        for rec in tx.iter_records(prefix):
            out.write(orjson.dumps({"handle": rec.handle, "values": [value_to_json(v) for v in rec.values]}))
            out.write(b"\n")
            n += 1
            bar.update()
    return n
