"""The node operator's pages: enterprises and their prefixes (allocate, disable, enable), the audit
trail with its filters, lock-outs (clear), bearer tokens (revoke), and the node's status (health, federation, mirrors,
the report owed upstream; read-only). The node admin signs in as any
enterprise does; every action is the service's, which refuses anyone else."""

from __future__ import annotations

from aiohttp import web

from protocol.codes import HandleError

from ...service.audit_query import FILTERS
from . import ops
from .web import Ctx, signed_in

SHOWN_FILTERS = ("since", "until", "identity", "handle", "prefix", "result", "op", "client")


@signed_in
async def prefixes(ctx: Ctx) -> web.StreamResponse:
    return ctx.page("admin_prefixes.html", title=ctx.t("c.prefixes"), prefixes=ops.prefixes(ctx.svc, ctx.identity))


@signed_in
async def allocate(ctx: Ctx) -> web.StreamResponse:
    form = ctx.form
    body: dict = {"owner": {k: str(form[k]).strip() for k in ("name", "contact", "email", "phone")
                            if str(form.get(k, "")).strip()}}
    for k in ("prefix", "secret"):
        if str(form.get(k, "")).strip():
            body[k] = str(form[k]).strip()
    try:
        made = await ops.allocate_prefix(ctx.svc, body, ctx.identity, caller=ctx.caller)
    except HandleError as e:
        return ctx.page("admin_prefixes.html", status=e.status, title=ctx.t("c.prefixes"), error=ctx.t.refusal(e),
                        prefixes=ops.prefixes(ctx.svc, ctx.identity))
    return ctx.page("admin_prefixes.html", title=ctx.t("c.prefixes"), made=made,
                    prefixes=ops.prefixes(ctx.svc, ctx.identity))


@signed_in
async def set_state(ctx: Ctx) -> web.StreamResponse:
    state = "disabled" if ctx.form.get("state") == "disabled" else "enabled"
    await ops.set_prefix_state(ctx.svc, str(ctx.form.get("prefix", "")), state, ctx.identity,
                               caller=ctx.caller)
    raise web.HTTPSeeOther("/console/admin/prefixes")


@signed_in
async def rotate(ctx: Ctx) -> web.StreamResponse:
    """A new secret for a prefix's admin, shown once; the sessions of the old one end (the service's doing)."""
    prefix = str(ctx.form.get("prefix", ""))
    try:
        rotated = await ops.rotate_secret(ctx.svc, prefix, ctx.identity, caller=ctx.caller)
    except HandleError as e:
        return ctx.page("admin_prefixes.html", status=e.status, title=ctx.t("c.prefixes"), error=ctx.t.refusal(e),
                        prefixes=ops.prefixes(ctx.svc, ctx.identity))
    return ctx.page("admin_prefixes.html", title=ctx.t("c.prefixes"), rotated=rotated,
                    prefixes=ops.prefixes(ctx.svc, ctx.identity))


@signed_in
async def audit_trail(ctx: Ctx) -> web.StreamResponse:
    filters = {k: v for k, v in ctx.request.query.items() if k in FILTERS and v and k != "lang"}
    filters.setdefault("order", "desc")
    filters.setdefault("limit", "100")
    entries, cursor = ops.audit_trail(ctx.svc, filters, ctx.identity)
    return ctx.page("admin_audit.html", title=ctx.t("c.audit"), entries=entries, cursor=cursor, filters=filters,
                    names=SHOWN_FILTERS)


@signed_in
async def lockouts(ctx: Ctx) -> web.StreamResponse:
    done = None
    if ctx.request.method == "POST":
        target = str(ctx.form.get("target", "")).strip()
        done = await ops.clear_lockout(ctx.svc, target, ctx.identity, address=ctx.form.get("kind") == "address",
                                        caller=ctx.caller)
    return ctx.page("admin_lockouts.html", title=ctx.t("c.lockouts"), done=done)


@signed_in
async def tokens(ctx: Ctx) -> web.StreamResponse:
    revoked = None
    if ctx.request.method == "POST":
        revoked = str(ctx.form.get("id", ""))
        await ops.revoke_token(ctx.svc, revoked, ctx.identity, caller=ctx.caller)
    return ctx.page("admin_tokens.html", title=ctx.t("c.tokens"), tokens=ops.tokens(ctx.svc, ctx.identity),
                    revoked=revoked)


@signed_in
async def status(ctx: Ctx) -> web.StreamResponse:
    return ctx.page("admin_status.html", title=ctx.t("c.status"), st=ops.node_status(ctx.svc, ctx.identity))


@signed_in
async def send_reports(ctx: Ctx) -> web.StreamResponse:
    """The reports due now, queued for the top-level node; the status page shows them leave the outbox."""
    try:
        queued = await ops.send_reports(ctx.svc, ctx.identity)
    except HandleError as e:
        return ctx.page("admin_status.html", status=e.status, title=ctx.t("c.status"), error=ctx.t.refusal(e),
                        st=ops.node_status(ctx.svc, ctx.identity))
    return ctx.page("admin_status.html", title=ctx.t("c.status"), queued=queued,
                    st=ops.node_status(ctx.svc, ctx.identity))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/console/admin/status", status)
    r.add_post("/console/admin/reports/send", send_reports)
    r.add_get("/console/admin/prefixes", prefixes)
    r.add_post("/console/admin/prefixes", allocate)
    r.add_post("/console/admin/prefixes/state", set_state)
    r.add_post("/console/admin/prefixes/rotate", rotate)
    r.add_get("/console/admin/audit", audit_trail)
    r.add_get("/console/admin/lockouts", lockouts)
    r.add_post("/console/admin/lockouts", lockouts)
    r.add_get("/console/admin/tokens", tokens)
    r.add_post("/console/admin/tokens", tokens)
