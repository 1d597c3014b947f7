"""Batch registration from a CSV or Excel (.xlsx) file, validated against a data template by the service's batch
operation (the one ``POST /api/batch`` runs), with progress while it runs and a report of the refused
rows to download.

The file (CSV, or the first sheet of an .xlsx workbook) has its first row name the columns: ``suffix`` (or ``handle``), optionally ``URL``, then the
template's field names. Each later row is one identifier. The rows go to the service in chunks; after
each chunk the page (streamed as it is made, no script) shows how far it got, so a worker restarting
or a second worker never holds a job the browser waits for. The report is a CSV file carried in the
last part of the page itself (a data: link), so nothing is kept on the node for it.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable

from aiohttp import web

from protocol.codes import RC, HandleError
from protocol.values import TEMPLATE_INDEX

from . import ops
from .render import environment, secure_headers
from .session import csrf_matches
from .web import UPLOAD, Ctx, bounded_body, form_fields, signed_in

MAX_UPLOAD = 4 * 1024 * 1024  # bytes of CSV or .xlsx, as sent
MAX_UNPACKED = 32 * 1024 * 1024  # bytes an .xlsx (a zip) may unpack to: a zip bomb is refused unopened
MAX_ROWS = 50_000  # rows of a sheet read, at most
MAX_COLUMNS = 256  # cells of a row: a template has far fewer fields
XLSX_MAGIC = b"PK\x03\x04"
CHUNK = 200  # rows per service call: progress steps, each one durable commit


def decode(raw: bytes) -> str:
    """UTF-8 (with or without Excel's BOM), else GB 18030, as a spreadsheet saved on a Chinese desktop is."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            raise HandleError(RC.INVALID_VALUE, "the file is neither UTF-8 nor GB 18030 text", field="file") from None


def _cell(value: object) -> str:
    """A spreadsheet cell as the text a CSV file would carry: 100 not 100.0, a date as 2026-03-02."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def xlsx_rows(raw: bytes) -> list[list[str]]:
    """The first sheet of an .xlsx workbook as rows of text. Its unpacked size is checked from the zip's
    directory before any part is inflated; at most MAX_ROWS rows of at most MAX_COLUMNS cells are read."""
    from openpyxl import load_workbook  # only an Excel upload pays for importing it

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            if sum(i.file_size for i in z.infolist()) > MAX_UNPACKED:
                raise HandleError(RC.INVALID_VALUE, f"the workbook unpacks to more than {MAX_UNPACKED} bytes",
                                  status=413, field="file")
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except HandleError:
        raise
    except Exception as e:  # openpyxl raises many kinds for a damaged or foreign file
        raise HandleError(RC.INVALID_VALUE, f"the file is not a readable .xlsx workbook ({type(e).__name__})",
                          field="file") from None
    try:
        rows = []
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # the file's own claim of its size would pad every row to it
        for n, row in enumerate(sheet.iter_rows(values_only=True)):
            if n > MAX_ROWS or len(row) > MAX_COLUMNS:
                raise HandleError(RC.INVALID_VALUE, f"the sheet has more than {MAX_ROWS} rows or "
                                  f"{MAX_COLUMNS} columns", status=413, field="file")
            rows.append([_cell(c) for c in row])
    finally:
        book.close()
    if not rows:
        return rows
    width = len(rows[0])  # a sheet pads each row to its widest one: the header's width is its named cells
    while width and not rows[0][width - 1]:
        width -= 1
    # an empty cell is one the sheet leaves out: a row is the header's width unless it fills more cells
    return [r if any(r[width:]) else r[:width] + [""] * (width - len(r)) for r in rows]


def table_rows(raw: bytes) -> Iterable[list[str]]:
    """The rows of an uploaded file: an .xlsx workbook (known by its zip signature), else CSV text."""
    if raw.startswith(XLSX_MAGIC):
        return xlsx_rows(raw)
    return csv.reader(io.StringIO(decode(raw)))


def rows_to_operations(rows: Iterable[list[str]], prefix: str,
                       tpl: dict) -> tuple[list[tuple[int, dict]], list[list[str]]]:
    """(row number, batch operation) for each well-formed row, and the refused rows [row, handle, reason]."""
    reader = iter(rows)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise HandleError(RC.INVALID_VALUE, "the file is empty", field="file") from None
    fields = {f["name"]: f for f in form_fields(tpl)}
    key = next((h for h in header if h.lower() in ("suffix", "handle")), None)
    unknown = [h for h in header if h != key and h.upper() != "URL" and h not in fields]
    if key is None or unknown:
        raise HandleError(RC.INVALID_VALUE, f"the first row must name suffix (or handle) and the template's fields "
                          f"({', '.join(fields)}); unknown: {', '.join(unknown) or '-'}", field="file")
    ops_, refused = [], []
    for n, row in enumerate(reader, 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            refused.append([str(n), "", f"{len(row)} cells; the first row has {len(header)}"])
            continue
        cells = dict(zip(header, (c.strip() for c in row), strict=True))
        name = cells[key]
        handle = name if key.lower() == "handle" else f"{prefix}/{name}"
        values = [{"index": TEMPLATE_INDEX, "type": "TEMPLATE", "data": tpl["version"]}]
        for h, text_ in cells.items():
            if h == key or not text_:
                continue
            if h.upper() == "URL":
                values.append({"index": 1, "type": "URL", "data": text_})
            else:
                values.append({"index": fields[h]["index"], "type": fields[h]["type"], "data": text_})
        ops_.append((n, {"op": "create", "handle": handle, "values": values}))
    return ops_, refused


async def _read_upload(ctx: Ctx) -> tuple[str, bytes]:
    """The CSRF token first, then the template version and the file, each bounded."""
    reader = await ctx.request.multipart()
    fields: dict[str, object] = {}
    async for part in reader:
        if part.name == "csrf":
            if not csrf_matches(ctx.csrf, (await part.read_chunk(128)).decode("ascii", "replace")):
                raise HandleError(RC.NOT_AUTHORIZED, ctx.t("c.csrf"), status=403)
            fields["csrf"] = True
        elif "csrf" not in fields:
            raise HandleError(RC.NOT_AUTHORIZED, ctx.t("c.csrf"), status=403)
        elif part.name == "template":
            fields["template"] = (await part.read_chunk(256)).decode("utf-8", "replace").strip()
        elif part.name == "file":
            raw = await part.read_chunk(MAX_UPLOAD + 1)
            while len(raw) <= MAX_UPLOAD:
                more = await part.read_chunk(MAX_UPLOAD + 1 - len(raw))
                if not more:
                    break
                raw += more
            if len(raw) > MAX_UPLOAD:
                raise HandleError(RC.INVALID_VALUE, f"the file is larger than {MAX_UPLOAD} bytes", status=413,
                                  field="file")
            fields["file"] = raw
    if "csrf" not in fields:
        raise HandleError(RC.NOT_AUTHORIZED, ctx.t("c.csrf"), status=403)
    if "file" not in fields or "template" not in fields:
        raise HandleError(RC.INVALID_VALUE, "choose a template and a CSV or .xlsx file", field="file")
    return str(fields["template"]), fields["file"]  # type: ignore[return-value]


@signed_in
async def upload_form(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    return ctx.page("batch.html", title=ctx.t("c.batch"), prefix=prefix, templates=ops.templates_of(ctx.svc, prefix),
                    chosen=ctx.request.query.get("template"))


async def upload(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    bounded_body(ctx.request, MAX_UPLOAD + 64 * 1024, UPLOAD)
    ops.admit(ctx.svc, "batch", ctx.identity)  # before the file is read
    version, raw = await _read_upload(ctx)
    tpl = ops.template(ctx.svc, prefix, version)
    operations, refused = rows_to_operations(table_rows(raw), prefix, tpl)
    total = len(operations) + len(refused)
    env = environment()
    resp = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})
    secure_headers(resp, ctx.t)
    await resp.prepare(ctx.request)
    common = {"t": ctx.t, "identity": ctx.identity, "csrf": ctx.csrf, "home": ops.scope_of(ctx.identity),
              "other_lang_url": ctx.request.path, "title": ctx.t("c.batch"), "prefix": prefix, "total": total}
    head, _, tail = env.get_template("batch_run.html").render(**common).partition("<!--progress-->")
    await resp.write(head.encode())
    done, created = len(refused), 0
    for start in range(0, len(operations), CHUNK):
        chunk = operations[start:start + CHUNK]
        try:
            answer = await ops.batch(ctx.svc, [op for _, op in chunk], ctx.identity, caller=ctx.caller)
            reasons = [HandleError(r.get("responseCode", RC.ERROR), str(r.get("message", "")))
                       if r.get("responseCode") != RC.SUCCESS else None for r in answer["results"]]
        except HandleError as e:
            reasons = [e] * len(chunk)
        for (row, op), reason in zip(chunk, reasons, strict=True):
            if reason is None:
                created += 1
            else:  # the service's refusal, translated as every page shows one (i18n.py)
                refused.append([str(row), op["handle"], ctx.t.refusal(reason)])
        done += len(chunk)
        await resp.write(env.get_template("batch_step.html").render(t=ctx.t, done=done, total=total).encode())
    refused.sort(key=lambda r: int(r[0]))
    report = io.StringIO()
    csv.writer(report).writerows([["row", "handle", "reason"], *refused])
    href = "data:text/csv;charset=utf-8;base64," + base64.b64encode(("\ufeff" + report.getvalue()).encode()).decode()
    await resp.write(env.get_template("batch_done.html").render(
        t=ctx.t, created=created, refused=refused[:200], n_refused=len(refused), total=total, report=href,
        prefix=prefix).encode())
    await resp.write(tail.encode())
    await resp.write_eof()
    return resp


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/p/{prefix}/batch", upload_form)
    app.router.add_post("/console/p/{prefix}/batch", signed_in(upload, upload=True))
