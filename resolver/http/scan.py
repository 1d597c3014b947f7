"""Proxy-style resolution for scanners: ``GET /{handle}`` and ``GET /scan?code=…``."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from aiohttp import web

from protocol.codes import RC, HandleError
from protocol.handles import strip_scheme

from .common import SERVICE, error_response
from .handles import filters, render
from .pages import error_page, record_page


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


async def resolve_page(request: web.Request, handle: str) -> web.StreamResponse:
    as_json = _wants_json(request)
    try:
        indexes, types = filters(request) if as_json else (None, None)
        res = await request.app[SERVICE].resolve_anywhere(handle, indexes=indexes, types=types)
    except HandleError as e:
        if getattr(e, "redirect_to", None):
            raise web.HTTPTemporaryRedirect(e.redirect_to.rstrip("/") + request.path_qs) from None
        if as_json:
            return error_response(e, handle)
        return web.Response(text=error_page(handle, e.message), status=e.status, content_type="text/html")
    if as_json:
        return web.Response(body=render(res, bool(indexes or types)), content_type="application/json")
    if "noredirect" not in request.query:
        for v in res.values:
            if v.type.upper() == "URL":
                target = v.data.decode("utf-8", "replace")
                if target.lower().startswith(("http://", "https://")):
                    raise web.HTTPFound(target)
    try:
        timeline = request.app[SERVICE].trace(res.handle, depth=0, max_events=50)["timeline"]
    except HandleError:
        timeline = None
    return web.Response(text=record_page(res.handle, res.values, timeline), content_type="text/html")


async def proxy(request: web.Request) -> web.StreamResponse:
    return await resolve_page(request, request.match_info["handle"])


def handle_in_code(code: str) -> str:
    """What a scanner read — a handle, ``hdl:`` URI, or a URL of a resolver carrying one — as a handle."""
    code = code.strip()
    if code.lower().startswith(("http://", "https://")):
        path = unquote(urlsplit(code).path).lstrip("/")
        for lead in ("api/handles/", "trace/"):
            if path.startswith(lead):
                path = path[len(lead):]
        return strip_scheme(path)
    return strip_scheme(code)


async def scan(request: web.Request) -> web.StreamResponse:
    code = request.query.get("code")
    if not code:
        return error_response(HandleError(RC.INVALID_VALUE, "scan needs ?code=", field="code"))
    return await resolve_page(request, handle_in_code(code))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/scan", scan)
    # Last: everything not matched above is a handle.
    app.router.add_get("/{handle:.+}", proxy)
