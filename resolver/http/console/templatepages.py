"""The console's data templates (数据模板): list, create, edit, retire. A template's fields are edited as lines
``name | value type | index | required | datatype`` (the REST API's field definition, one per line)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from protocol.codes import RC, HandleError

from . import ops
from .web import Ctx, signed_in

SEP = "|"


def fields_text(tpl: dict | None) -> str:
    if not tpl:
        return ""
    return "\n".join(f"{f['name']} | {f['type']} | {f['index']} | {'required' if f['required'] else 'optional'} | "
                     f"{f.get('constraints', {}).get('datatype', 'string')}" for f in tpl["fields"])


def parse_fields(text: str) -> list[dict]:
    """The lines of the form as the API's ``fields``; the service checks them as it checks the API's."""
    fields = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(SEP)]
        if len(cells) < 3:
            raise HandleError(RC.INVALID_VALUE, f"line {n}: name | value type | index | required | datatype",
                              field="fields")
        try:
            index = int(cells[2])
        except ValueError:
            raise HandleError(RC.INVALID_VALUE, f"line {n}: the index must be a number, not {cells[2]!r}",
                              field="fields") from None
        f = {"name": cells[0], "type": cells[1] or cells[0], "index": index,
             "required": len(cells) > 3 and cells[3].lower() in ("required", "yes", "true", "必填", "是")}
        if len(cells) > 4 and cells[4]:
            f["constraints"] = {"datatype": cells[4]}
        fields.append(f)
    return fields


@signed_in
async def listing(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    return ctx.page("templates.html", title=ctx.t("c.templates"), prefix=prefix,
                    templates=ops.templates_of(ctx.svc, prefix))


@signed_in
async def edit_form(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    version = ctx.request.match_info.get("version")
    tpl = ops.template(ctx.svc, prefix, version) if version else None
    return ctx.page("template_edit.html", title=ctx.t("c.template"), prefix=prefix, tpl=tpl,
                    version=version or "", name=(tpl or {}).get("name", ""), text=fields_text(tpl))


@signed_in
async def save(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    form = ctx.form
    version, editing = str(form.get("version", "")).strip(), form.get("editing") == "1"
    body = {"prefix": prefix, "version": version, "name": str(form.get("name", "")).strip(),
            "fields": []}
    try:
        body["fields"] = parse_fields(str(form.get("fields", "")))
        if editing:
            await ops.revise_template(ctx.svc, prefix, version, body, ctx.identity, caller=ctx.caller)
        else:
            await ops.create_template(ctx.svc, body, ctx.identity, caller=ctx.caller)
    except HandleError as e:
        return ctx.page("template_edit.html", status=e.status, title=ctx.t("c.template"), prefix=prefix,
                        tpl={"version": version} if editing else None, version=version, name=body["name"],
                        text=str(form.get("fields", "")), error=ctx.t.refusal(e))
    raise web.HTTPSeeOther(f"/console/p/{quote(prefix)}/templates?saved={quote(version)}")


@signed_in
async def retire(ctx: Ctx) -> web.StreamResponse:
    """``DELETE /api/templates/{prefix}/{version}``: the version is no longer offered for new records;
    the records registered with it keep their values (the service decides who may)."""
    prefix, version = ctx.request.match_info["prefix"], ctx.request.match_info["version"]
    await ops.delete_template(ctx.svc, prefix, version, ctx.identity, caller=ctx.caller)
    raise web.HTTPSeeOther(f"/console/p/{quote(prefix)}/templates?retired={quote(version)}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/p/{prefix}/templates", listing)
    app.router.add_get("/console/p/{prefix}/templates/new", edit_form)
    app.router.add_get("/console/p/{prefix}/templates/{version}", edit_form)
    app.router.add_post("/console/p/{prefix}/templates", save)
    app.router.add_post("/console/p/{prefix}/templates/{version}/retire", retire)
