"""``/console/e/{handle}``: edit a registered identifier through the form its data template makes.

The form's values are written as the API's ``PUT /api/handles/{handle}?index=…`` writes them (the
named values added or replaced, the others kept), and the values the form empties are deleted as
``DELETE /api/handles/{handle}?index=…`` deletes them. The form carries the record's version, sent as
the API's If-Match: an edit made on a record someone changed meanwhile is refused (412), not merged.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from protocol.codes import RC, HandleError
from protocol.jsonrepr import values_from_json
from protocol.values import TEMPLATE_INDEX

from . import ops
from .web import Ctx, form_fields, signed_in

URL_INDEX = 1


def _current(ctx: Ctx, handle: str) -> tuple[dict, dict[int, str]]:
    """The record's template and its values' text by index, as its administrator reads them."""
    res = ops.resolve(ctx.svc, handle, ctx.identity, ctx.request.remote)
    texts = {v.index: v.data.decode("utf-8", "replace") for v in res.values}
    version = texts.get(TEMPLATE_INDEX)
    if version is None:
        raise HandleError(RC.INVALID_VALUE, ctx.t("c.no_template_record"), field="template")
    return ops.template(ctx.svc, handle.partition("/")[0], version), texts


def _page(ctx: Ctx, handle: str, tpl: dict, values: dict, version: str | None, status: int = 200,
          **extra: object) -> web.Response:
    return ctx.page("edit.html", status=status, title=ctx.t("c.edit_title", handle=handle), handle=handle,
                    tpl=tpl, fields=form_fields(tpl), values=values, version=version or "", **extra)


@signed_in
async def edit_form(ctx: Ctx) -> web.StreamResponse:
    handle = ops.registered(ctx.svc, ctx.request.match_info["handle"])
    tpl, texts = _current(ctx, handle)
    values = {"url": texts.get(URL_INDEX, ""), **{f"f{i}": text for i, text in texts.items()}}
    return _page(ctx, handle, tpl, values, ops.version_of(ctx.svc, handle))


@signed_in
async def save(ctx: Ctx) -> web.StreamResponse:
    handle = ops.registered(ctx.svc, ctx.request.match_info["handle"])
    form = ctx.form
    tpl, texts = _current(ctx, handle)
    given: list[dict] = []
    emptied: list[int] = []
    wanted = [(URL_INDEX, "URL", str(form.get("url", "")).strip())]
    wanted += [(f["index"], f["type"], str(form.get(f"f{f['index']}", "")).strip()) for f in form_fields(tpl)]
    for index, type_, text in wanted:
        if text and text != texts.get(index):
            given.append({"index": index, "type": type_, "data": text})
        elif not text and index in texts:
            emptied.append(index)
    try:
        await ops.edit(ctx.svc, handle, values_from_json(given) if given else [], emptied,
                       str(form.get("version", "")), ctx.identity, caller=ctx.caller)
    except HandleError as e:
        return _page(ctx, handle, tpl, dict(form), str(form.get("version", "")), e.status, error=ctx.t.refusal(e))
    raise web.HTTPSeeOther(f"/console/h/{quote(handle, safe='/')}?edited=1")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/e/{handle:.+}", edit_form)
    app.router.add_post("/console/e/{handle:.+}", save)
