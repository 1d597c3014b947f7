"""``idnode import`` / ``export``: millions of records between files and the store, straight into LMDB.

Import validates each line as the API does, writes in large transactions and records its position in
the same transaction, so an interrupted import resumes where its last commit ended. Lines it cannot
take go to a rejects file with their line number and the reason.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

import orjson
from tqdm import tqdm

from protocol.codes import RC, HandleError
from protocol.handles import key, split, strip_scheme
from protocol.jsonrepr import value_to_json, values_from_json
from protocol.values import TEMPLATE, TEMPLATE_INDEX, HandleValue, check_values, merge, with_admin
from storage import Tx
from storage.records import unpack_record

from .audit import Attempt
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


def _file_id(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]


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
    values = prepare_values(values_from_json(rec.get("values", rec.get("value"))))
    values = [v if v.timestamp else v.with_timestamp(now) for v in values]
    if isinstance(rec.get("template"), str):
        values = merge(values, [HandleValue(TEMPLATE_INDEX, TEMPLATE, rec["template"].encode(), timestamp=now)])
    admin = admins.get(prefix)
    if admin is None:
        admin = admins[prefix] = default_admin(None, prefix).with_timestamp(now)
    values = with_admin(sorted(values, key=_by_index), admin)
    check_values(values)
    svc.check_template(tx, prefix, values)
    return handle, values


def import_file(svc: Service, path: str | os.PathLike, *, fmt: str = "auto", restart: bool = False,
                rejects: str | None = None, progress: bool = True, chunk: int = CHUNK) -> Summary:
    svc.refuse_writes_if_mirror()
    path = Path(path)
    if fmt == "auto":
        fmt = "csv" if path.suffix.lower() == ".csv" else "jsonl"
    if fmt not in ("jsonl", "csv"):
        raise ValueError("format must be jsonl or csv")
    state_key = "import:" + _file_id(path)
    with svc.store.read() as tx:
        state = None if restart else tx.get_meta(state_key)
    summary = Summary()
    start_offset, start_line = (state["offset"], state["line"]) if state else (0, 0)
    if state and start_offset >= path.stat().st_size:
        summary.already_complete, summary.lines = True, start_line
        return summary
    summary.resumed_from = start_line
    rejects_path = Path(rejects) if rejects else path.with_name(path.name + ".rejects.jsonl")
    rej = open(rejects_path, "ab" if state else "wb")
    now = svc.now()
    prefixes: dict[str, str] = {}
    admins: dict[str, HandleValue] = {}
    size = path.stat().st_size
    # Each chunk's audit entry, written in its transaction: the operator imported so many from this file.
    attempt = Attempt("cli", "local", "import", str(path), identity=str(svc.operator()), authenticated=True)
    with open(path, "rb") as fh, tqdm(total=size, initial=start_offset, unit="B", unit_scale=True,
                                      disable=not progress, desc=f"import {path.name}") as bar:
        cols = None
        if fmt == "csv":
            header_line = fh.readline()
            cols = _csv_columns(next(csv.reader([header_line.decode("utf-8-sig")])))
            if start_offset == 0:
                start_offset = fh.tell()
                start_line = 1
        fh.seek(start_offset)
        line_no, offset = start_line, start_offset
        done = False
        while not done:
            lines = []
            for _ in range(chunk):
                raw = fh.readline()
                if not raw:
                    done = True
                    break
                lines.append(raw)
            if not lines:
                break
            first_line, first_offset = line_no, offset
            end_offset = first_offset + sum(len(x) for x in lines)
            end_line = first_line + len(lines)

            def op(tx: Tx, lines=lines, first_line=first_line, end_offset=end_offset, end_line=end_line):
                counts, bad = [0, 0], []
                for n, raw in enumerate(lines, start=first_line + 1):
                    if not raw.strip():
                        continue
                    try:
                        if cols is not None:
                            rec = _record_from_csv(next(csv.reader([raw.decode("utf-8")])), cols)
                        else:
                            rec = orjson.loads(raw)
                        handle, values = _prepare(svc, tx, rec, prefixes, admins, now)
                        old_raw = tx.get_raw(key(handle))
                        old = unpack_record(old_raw) if old_raw is not None else None
                        if old is not None and same_values(old.values, values):
                            counts[1] += 1
                            continue
                        tx.put_handle(handle, values, old=old, who="import", now=now)
                        counts[0] += 1
                    except (HandleError, ValueError, UnicodeDecodeError, csv.Error) as e:
                        msg = e.message if isinstance(e, HandleError) else f"not valid {fmt}: {e}"
                        bad.append({"line": n, "error": msg, "text": raw[:300].decode("utf-8", "replace").rstrip()})
                tx.put_meta(state_key, {"offset": end_offset, "line": end_line, "file": str(path)})
                tx.put_audit(svc.audit.entry(attempt, "allowed" if counts[0] or counts[1] else "denied", 1, extra={
                    "lines": [first_line + 1, end_line], "succeeded": counts[0] + counts[1], "failed": len(bad)}))
                return counts, bad

            (imported, unchanged), bad = svc.committer.apply(op, len(lines))
            summary.imported += imported
            summary.unchanged += unchanged
            summary.rejected += len(bad)
            for b in bad:
                summary.reasons[b["error"].split(":")[0][:80]] += 1
                rej.write(orjson.dumps(b) + b"\n")
            line_no, offset = end_line, end_offset
            bar.update(end_offset - first_offset)
    rej.close()
    summary.lines = line_no
    if summary.rejected:
        summary.rejects_file = str(rejects_path)
    elif not state:
        rejects_path.unlink(missing_ok=True)
    return summary


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
