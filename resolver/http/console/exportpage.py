"""Export of a prefix's identifiers as CSV: one row per identifier (handle, URL, data template, then
the templates' field names as columns), the same columns the batch upload reads.

The file is streamed as it is made, and one request exports at most ``EXPORT_PART`` identifiers (the
``part`` query parameter names which slice), so a prefix's size never sets one request's cost. Every
record is read through the service's own resolve with the signed-in identity; listing the handles is
``LIST_HANDLES``, authorized by the service.
"""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import orjson
from aiohttp import web

from protocol.codes import HandleError
from protocol.jsonrepr import value_to_json
from protocol.values import TEMPLATE_INDEX

from . import ops
from .web import Ctx, signed_in

EXPORT_PART = 5000  # identifiers per request
FLUSH = 200  # rows per write: the loop serves others between them


def _text(data: object) -> str:
    """A value's data as a cell: the text of ``{"format": "string", "value": …}``, JSON for a structure."""
    if isinstance(data, dict) and "value" in data:
        data = data["value"]
    return data if isinstance(data, str) else orjson.dumps(data).decode()


@signed_in
async def export(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    try:
        part = max(0, int(ctx.request.query.get("part", "0")))
    except ValueError:
        part = 0
    names, _ = ops.list_handles(ctx.svc, prefix, part, EXPORT_PART, ctx.identity)  # authorizes first
    columns: list[str] = []
    for tpl in ops.templates_of(ctx.svc, prefix):
        columns += [f["name"] for f in tpl.get("fields", []) if f["name"] not in columns]
    header = ["handle", "URL", "template", *columns]
    resp = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(prefix)}-{part}.csv",
        "X-Content-Type-Options": "nosniff"})
    await resp.prepare(ctx.request)
    buf = io.StringIO()
    out = csv.writer(buf)
    buf.write("\ufeff")  # a spreadsheet opens the file as UTF-8
    out.writerow(header)
    for n, handle in enumerate(names, 1):
        try:
            res = ops.resolve(ctx.svc, handle, ctx.identity, ctx.request.remote)
        except HandleError:
            continue  # deleted since the page was listed, say
        names_of, version = ops.field_names(ctx.svc, handle, res.values)
        row = {"handle": ops.registered(ctx.svc, handle), "template": version or ""}
        for v in res.values:
            if v.index == TEMPLATE_INDEX:
                continue
            col = "URL" if v.type == "URL" and "URL" not in row else names_of.get(v.index)
            if col and col not in row:
                row[col] = _text(value_to_json(v)["data"])
        out.writerow([row.get(h, "") for h in header])
        if n % FLUSH == 0:
            await resp.write(buf.getvalue().encode())
            buf.seek(0)
            buf.truncate()
    await resp.write(buf.getvalue().encode())
    await resp.write_eof()
    return resp


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/p/{prefix}/export", export)
