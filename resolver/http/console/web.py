"""``/console/``: sign-in, sign-out, and the pages an enterprise's administrators use: identifiers
(list, search, view, register from a template, delete), data templates, batch upload, traces.

Handlers stay thin: read the form, call resolver/http/console/ops.py (the service's own operations, with
the signed-in identity), render. The service decides every permission; a refusal is shown as the API
would word it, with its HTTP status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import quote

from aiohttp import web

from protocol.codes import RC, HandleError
from protocol.jsonrepr import value_to_json, values_from_json
from protocol.values import TEMPLATE_INDEX

from ... import audit_trail as audit
from ...service import Service
from ..common import SERVICE, SETTINGS, refuse_oversized, require_secure_credentials
from . import ops, session
from .i18n import Catalogue
from .render import catalogue, render

MAX_FORM = 64 * 1024  # a form's body: a record or a template is far smaller
PAGE_SIZE = 50
MAX_SEARCHED = 2000  # handles a search looks through, at most


@dataclass
class Ctx:
    request: web.Request
    svc: Service
    t: Catalogue
    caller: audit.Caller
    identity: ops.Identity | None = None
    token: str | None = None
    form: dict | None = None

    @property
    def csrf(self) -> str:
        return session.csrf_for(self.token) if self.token else ""

    def page(self, template: str, status: int = 200, **context: object) -> web.Response:
        return render(self.request, template, self.t, status=status, identity=self.identity, csrf=self.csrf,
                      home=ops.scope_of(self.identity) if self.identity else None, **context)

    def refused(self, err: HandleError) -> web.Response:
        return self.page("message.html", status=err.status, title=self.t("c.refused"), error=self.t.refusal(err))


Page = Callable[[Ctx], Awaitable[web.StreamResponse]]


FORM = "application/x-www-form-urlencoded"
UPLOAD = "multipart/form-data"


def bounded_body(request: web.Request, limit: int, kind: str = FORM) -> None:
    """A console POST is the form it should be, says how long it is (every browser does) and is no
    longer than ``limit``: checked before a byte of it is read, so a body's cost is bounded even
    before the caller is known."""
    if request.content_type != kind or (kind == UPLOAD and "boundary=" not in request.headers.get("Content-Type", "")):
        raise HandleError(RC.PROTOCOL_ERROR, f"a form is sent as {kind}, not {request.content_type or 'nothing'}",
                          status=415, field="Content-Type")
    if request.content_length is None:
        raise HandleError(RC.PROTOCOL_ERROR, "a form must be sent with a Content-Length", status=411)
    refuse_oversized(request, limit)


def caller_of(request: web.Request) -> audit.Caller:
    """Who is asking (resolver/audit_trail.py): the console as the transport, the caller's address, the page."""
    return audit.Caller("console", request.remote, f"{request.method} {request.path}"[:200])


def signed_in(handler: Page, upload: bool = False) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page for a signed-in identity: the session first (who is asking), then, for a POST, its
    bounded form body and the CSRF token, before the handler does anything. An ``upload`` handler
    reads its multipart body itself, CSRF token first (batchpage.py)."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        ctx = Ctx(request, request.app[SERVICE], catalogue(request), caller_of(request))
        token = request.cookies.get(session.SESSION_COOKIE)
        if not token:
            raise web.HTTPSeeOther("/console/signin")
        try:
            ctx.identity, ctx.token = await ops.session_identity(ctx.svc, token, caller=ctx.caller), token
        except HandleError:
            resp = web.HTTPSeeOther("/console/signin?ended=1")
            resp.del_cookie(session.SESSION_COOKIE, path=session.PATH)
            raise resp from None
        try:
            if request.method == "POST" and not upload:
                bounded_body(request, MAX_FORM)
                ctx.form = dict(await request.post())
                if not session.csrf_matches(ctx.csrf, ctx.form.get("csrf")):
                    return ctx.page("message.html", status=403, title=ctx.t("c.refused"), error=ctx.t("c.csrf"))
            return await handler(ctx)
        except HandleError as e:
            return ctx.refused(e)

    return wrapped


# --- sign-in and sign-out ---------------------------------------------------------------------------


async def signin_form(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    t = catalogue(request)
    pre = session.new_pre_token()
    notice = t("c.session_ended") if request.query.get("ended") else None
    resp = render(request, "signin.html", t, status=status, identity=None, csrf=pre, home=None,
                  title=t("c.signin"), error=error, notice=notice)
    session.set_cookie(request, resp, session.PRE_COOKIE, pre, 3600)
    return resp


async def signin(request: web.Request) -> web.StreamResponse:
    who = caller_of(request)
    t = catalogue(request)
    try:
        bounded_body(request, MAX_FORM)
        form = await request.post()
        if not session.csrf_matches(request.cookies.get(session.PRE_COOKIE), form.get("csrf")):
            return await signin_form(request, t("c.csrf"), 403)
        require_secure_credentials(request)  # the API's rule: a secret travels over TLS, or from loopback
        identity = await ops.sign_in(request.app[SERVICE], str(form.get("identity", "")),
                                     str(form.get("secret", "")), caller=who)
        token, _ = await ops.open_session(request.app[SERVICE], identity, session.LIFETIME, caller=who)
    except HandleError as e:
        return await signin_form(request, t.refusal(e), e.status)
    resp = web.HTTPSeeOther("/console/")
    session.set_cookie(request, resp, session.SESSION_COOKIE, token, session.LIFETIME)
    resp.del_cookie(session.PRE_COOKIE, path=session.PATH)
    return resp


@signed_in
async def signout(ctx: Ctx) -> web.StreamResponse:
    await ops.close_session(ctx.svc, ctx.token, ctx.identity, caller=ctx.caller)
    resp = web.HTTPSeeOther("/console/signin")
    resp.del_cookie(session.SESSION_COOKIE, path=session.PATH)
    return resp


@signed_in
async def home(ctx: Ctx) -> web.StreamResponse:
    if ctx.identity.node_admin:
        raise web.HTTPSeeOther("/console/admin/prefixes")
    raise web.HTTPSeeOther(f"/console/p/{quote(ops.scope_of(ctx.identity))}/handles")


# --- identifiers ------------------------------------------------------------------------------------


def _int(text: object, default: int) -> int:
    try:
        return max(0, int(str(text)))
    except ValueError:
        return default


def _export_parts(total: int) -> list[tuple[int, int, int]]:
    """(part, first, last) of each export request a prefix of ``total`` identifiers needs (exportpage.py)."""
    from .exportpage import EXPORT_PART

    return [(p, p * EXPORT_PART + 1, min(total, (p + 1) * EXPORT_PART)) for p in range(-(-total // EXPORT_PART))]


@signed_in
async def handles(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    q = ctx.request.query.get("q", "").strip()
    page = _int(ctx.request.query.get("page"), 0)
    if q:  # a search looks through at most MAX_SEARCHED handles of the prefix, a page at a time
        found: list[str] = []
        total = 0
        for n in range(MAX_SEARCHED // 500):
            names, total = ops.list_handles(ctx.svc, prefix, n, 500, ctx.identity)
            found += [h for h in names if q.lower() in h.lower()]
            if len(names) < 500:
                break
        names, more = found[:PAGE_SIZE], False
    else:
        names, total = ops.list_handles(ctx.svc, prefix, page, PAGE_SIZE, ctx.identity)
        more = (page + 1) * PAGE_SIZE < total
    try:
        details = ops.prefix_details(ctx.svc, prefix, ctx.identity)
    except HandleError:
        details = None  # a prefix under an enterprise's, say: its handles are still listed
    return ctx.page("handles.html", title=ctx.t("c.handles"), prefix=prefix, names=names, total=total, q=q,
                    details=details, export_parts=_export_parts(total),
                    logo=ops.enterprise(ctx.svc, f"{prefix}/x").get("logo") if details else None,
                    page=page, more=more, templates=ops.templates_of(ctx.svc, prefix))


@signed_in
async def record(ctx: Ctx) -> web.StreamResponse:
    handle = ctx.request.match_info["handle"]
    res = ops.resolve(ctx.svc, handle, ctx.identity, ctx.request.remote)
    rows = [{"index": v.index, "type": v.type, "data": value_to_json(v)["data"]} for v in res.values]
    from .public import qr_image

    names, version = ops.field_names(ctx.svc, handle, res.values)
    gs1 = [v.data.decode("utf-8", "replace") for v in res.values if v.type.upper() == "GS1"]
    return ctx.page("record_admin.html", title=handle, handle=ops.registered(ctx.svc, handle), rows=rows,
                    names=names, version=version, gs1=gs1,
                    qr=qr_image(ctx.request, ops.registered(ctx.svc, handle)))


@signed_in
async def delete(ctx: Ctx) -> web.StreamResponse:
    handle = str(ctx.form.get("handle", ""))
    await ops.delete(ctx.svc, handle, ctx.identity, caller=ctx.caller)
    return ctx.page("message.html", title=ctx.t("c.deleted"), ok=ctx.t("c.deleted_one", handle=handle),
                    back=f"/console/p/{quote(handle.partition('/')[0])}/handles")


_INPUT = {"integer": "number", "number": "number", "date": "date", "url": "url", "email": "email"}


def form_fields(tpl: dict) -> list[dict]:
    return [{"name": f["name"], "type": f["type"], "index": f["index"], "required": f["required"],
             "input": _INPUT.get(f.get("constraints", {}).get("datatype", "string"), "text"),
             "step": "any" if f.get("constraints", {}).get("datatype") == "number" else None}
            for f in tpl["fields"] if f.get("state", 1)]


@signed_in
async def register_form(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    version = ctx.request.query.get("template")
    tpls = ops.templates_of(ctx.svc, prefix)
    tpl = ops.template(ctx.svc, prefix, version) if version else None
    return ctx.page("register.html", title=ctx.t("c.register"), prefix=prefix, templates=tpls, tpl=tpl,
                    fields=form_fields(tpl) if tpl else [], values={})


@signed_in
async def register(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    form = ctx.form
    version = str(form.get("template", ""))
    tpl = ops.template(ctx.svc, prefix, version)
    suffix = str(form.get("suffix", "")).strip()
    if not suffix:
        raise HandleError(RC.INVALID_HANDLE, ctx.t("c.need_suffix"), field="suffix")
    handle = f"{prefix}/{suffix}"
    values = [{"index": TEMPLATE_INDEX, "type": "TEMPLATE", "data": version}]
    url = str(form.get("url", "")).strip()
    if url:
        values.append({"index": 1, "type": "URL", "data": url})
    for f in form_fields(tpl):
        text = str(form.get(f"f{f['index']}", "")).strip()
        if text:
            values.append({"index": f["index"], "type": f["type"], "data": text})
    try:
        created, _ = await ops.register(ctx.svc, handle, values_from_json(values), ctx.identity, caller=ctx.caller)
    except HandleError as e:
        return ctx.page("register.html", status=e.status, title=ctx.t("c.register"), prefix=prefix,
                        templates=ops.templates_of(ctx.svc, prefix), tpl=tpl, fields=form_fields(tpl),
                        values=form, error=ctx.t.refusal(e))
    raise web.HTTPSeeOther(f"/console/h/{quote(created, safe='/')}?registered=1")


@signed_in
async def trace(ctx: Ctx) -> web.StreamResponse:
    ident = ctx.request.query.get("id", "").strip()
    answer = None
    if ident:
        budget = ctx.request.app[SETTINGS].get("trace_budget_ms", 2000)
        answer = await ops.trace(ctx.svc, ident, ctx.identity, budget)
    from .public import trace_view

    return ctx.page("console_trace.html", title=ctx.t("c.trace"), query=ident,
                    **(trace_view(ctx.request, ctx.svc, ctx.t, answer, None) if answer else {}))


def add_routes(app: web.Application) -> None:
    from . import batchpage, editpage, exportpage, keysignin, operator, ownerpage, statspage, templatepages

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/console/")

    r = app.router
    r.add_get("/", root)
    r.add_get("/console", root)
    r.add_get("/console/", home)
    r.add_get("/console/signin", signin_form)
    r.add_post("/console/signin", signin)
    r.add_post("/console/signout", signout)
    r.add_get("/console/p/{prefix}/handles", handles)
    r.add_get("/console/p/{prefix}/register", register_form)
    r.add_post("/console/p/{prefix}/register", register)
    r.add_get("/console/h/{handle:.+}", record)
    r.add_post("/console/delete", delete)
    r.add_get("/console/trace", trace)
    templatepages.add_routes(app)
    batchpage.add_routes(app)
    exportpage.add_routes(app)
    statspage.add_routes(app)
    operator.add_routes(app)
    ownerpage.add_routes(app)
    editpage.add_routes(app)
    keysignin.add_routes(app)
