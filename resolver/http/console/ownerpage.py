"""``/console/p/{prefix}/owner``: a prefix's owner details (the fields the top-level reports carry) and
its logo, edited by whoever the service lets change them (``PUT /api/prefixes/{prefix}/owner``'s rule:
the node admin, or the enterprise's own admin); ``/console/logo/{prefix}`` serves the kept logo to
every page that shows it.

The logo upload is read only after the session, the permission and the CSRF token are checked, and
no further than ``logos.MAX_UPLOAD`` bytes; resolver/logos.py decides what an image may be.
"""

from __future__ import annotations

from aiohttp import web

from protocol.codes import RC, HandleError
from protocol.prefixes import OWNER_FIELDS
from protocol.refusals import TooLarge

from ...reports import logos
from ..common import SERVICE
from . import ops
from .session import csrf_matches
from .web import UPLOAD, Ctx, bounded_body, signed_in


def _page(ctx: Ctx, prefix: str, status: int = 200, **extra: object) -> web.Response:
    details = ops.prefix_details(ctx.svc, prefix, ctx.identity)
    shown = ops.enterprise(ctx.svc, f"{prefix}/x")
    return ctx.page("owner.html", status=status, title=ctx.t("c.owner"), prefix=details.get("prefix", prefix),
                    owner=details.get("owner") or {}, fields=OWNER_FIELDS, logo=shown.get("logo"),
                    max_kb=logos.MAX_UPLOAD // 1024, **extra)


@signed_in
async def owner_form(ctx: Ctx) -> web.StreamResponse:
    return _page(ctx, ctx.request.match_info["prefix"])


@signed_in
async def save_owner(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    owner = {k: str(ctx.form[k]).strip() for k in OWNER_FIELDS if str(ctx.form.get(k, "")).strip()}
    try:
        await ops.set_owner(ctx.svc, prefix, owner, ctx.identity, caller=ctx.caller)
    except HandleError as e:
        return _page(ctx, prefix, e.status, error=ctx.t.refusal(e))
    return _page(ctx, prefix, saved=ctx.t("c.owner_saved"))


async def _read_logo(ctx: Ctx) -> bytes | None:
    """The CSRF token first, then the file, read no further than the limit; None to remove the logo."""
    reader = await ctx.request.multipart()
    seen_csrf, raw, remove = False, None, False
    async for part in reader:
        if part.name == "csrf":
            seen_csrf = csrf_matches(ctx.csrf, (await part.read_chunk(128)).decode("ascii", "replace"))
        if not seen_csrf:
            raise HandleError(RC.NOT_AUTHORIZED, ctx.t("c.csrf"), status=403)
        if part.name == "remove":
            remove = True
        elif part.name == "logo":
            raw = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                raw += chunk
                if len(raw) > logos.MAX_UPLOAD:
                    raise TooLarge(RC.INVALID_VALUE, f"the logo is larger than {logos.MAX_UPLOAD} bytes",
                                   field="logo")
    if not seen_csrf:
        raise HandleError(RC.NOT_AUTHORIZED, ctx.t("c.csrf"), status=403)
    if remove:
        return None
    if not raw:
        raise HandleError(RC.INVALID_VALUE, ctx.t("c.logo_choose"), field="logo")
    return bytes(raw)


async def upload_logo(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    # who may, and how much may be sent, before a byte of the file is read
    ops.may_set_logo(prefix, ctx.identity)
    bounded_body(ctx.request, logos.MAX_UPLOAD + 16 * 1024, UPLOAD)
    try:
        raw = await _read_logo(ctx)
        if raw is None:
            await ops.delete_logo(ctx.svc, prefix, ctx.identity, caller=ctx.caller)
        else:
            await ops.set_logo(ctx.svc, prefix, raw, ctx.identity, caller=ctx.caller)
    except HandleError as e:
        return _page(ctx, prefix, e.status, error=ctx.t.refusal(e))
    return _page(ctx, prefix, saved=ctx.t("c.logo_saved" if raw is not None else "c.logo_removed"))


async def logo(request: web.Request) -> web.StreamResponse:
    """The kept PNG, public (it is shown on the public pages), cacheable, and inert as served."""
    try:
        found = ops.logo(request.app[SERVICE], request.match_info["prefix"])
    except HandleError:
        found = None
    if found is None:
        raise web.HTTPNotFound(text="no logo", headers={"Cache-Control": "max-age=60"})
    png, etag = found
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=3600",
               "Content-Security-Policy": "default-src 'none'; sandbox", "X-Content-Type-Options": "nosniff",
               "Content-Disposition": "inline; filename=logo.png"}
    if request.headers.get("If-None-Match") == f'"{etag}"':
        return web.Response(status=304, headers=headers)
    return web.Response(body=png, content_type="image/png", headers=headers)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/console/p/{prefix}/owner", owner_form)
    r.add_post("/console/p/{prefix}/owner", save_owner)
    r.add_post("/console/p/{prefix}/logo", signed_in(upload_logo, upload=True))
    r.add_get("/console/logo/{prefix}", logo)
