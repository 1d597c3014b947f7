"""Proxy-style resolution for scanners: ``GET /{handle}``, and ``GET /scan?code=…`` or ``POST /scan``
with whatever a scanner read (protocol.scancodes): a handle, a resolver URL, a GS1 Digital Link, a
GS1 element string, an EPC URN. A GS1 key finds the handle whose record carries it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

from protocol.codes import RC, HandleError
from protocol.scancodes import read_scan

from ..service import Service
from .common import SERVICE, error_response, path_handle, read_within
from .handles import filters, render
from .pages import error_page, record_page

if TYPE_CHECKING:
    from ..federation.remote import RemoteAnswer
    from ..service.cache import Resolution

MAX_SCAN_BYTES = 16 * 1024  # a POSTed symbol's bytes; no barcode holds more


def wants_json(request: web.BaseRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


_wants_json = wants_json  # its name before the fast route (resolver/http/fastget.py) used it


async def resolve_page(request: web.Request, handle: str) -> web.StreamResponse:
    as_json = wants_json(request)
    try:
        indexes, types = filters(request) if as_json else (None, None)
        res = await request.app[SERVICE].resolve_anywhere(handle, indexes=indexes, types=types,
                                                          client=request.remote, t0=time.perf_counter())
    except HandleError as e:
        return refused_page(request, e, handle, as_json)
    return answer_page(request, request.app[SERVICE], res, as_json, indexes, types)


def refused_page(request: web.BaseRequest, e: HandleError, handle: str, as_json: bool) -> web.Response:
    """A resolution that failed: where the handle is, else the error as JSON or as a page."""
    if getattr(e, "redirect_to", None):
        raise web.HTTPTemporaryRedirect(e.redirect_to.rstrip("/") + request.path_qs) from None
    if as_json:
        return error_response(e, handle)
    return error_page(request, handle, e, e.status)


def answer_page(request: web.BaseRequest, svc: Service, res: Resolution | RemoteAnswer, as_json: bool,
                indexes: set[int] | None, types: list[str] | None) -> web.StreamResponse:
    """A resolved handle: its values as JSON, the redirect to its first web address, or its page."""
    if as_json:
        return web.Response(body=render(res, bool(indexes or types)), content_type="application/json")
    if "noredirect" not in request.query:
        for v in res.values:
            if v.type.upper() == "URL":
                target = v.data.decode("utf-8", "replace")
                if target.lower().startswith(("http://", "https://")):
                    raise web.HTTPFound(target)
    try:
        timeline = svc.trace(res.handle, depth=0, max_events=50)["timeline"]
    except HandleError:
        timeline = None
    return record_page(request, svc, res.handle, res.values, timeline)


async def proxy(request: web.Request) -> web.StreamResponse:
    try:
        handle = path_handle(request)
    except HandleError as e:
        return error_response(e, request.match_info["handle"])
    return await resolve_page(request, handle)


def _refused(request: web.Request, err: HandleError, code: str) -> web.Response:
    """A code that names no item: a page for a browser, the REST API's error for everything else."""
    if "text/html" in request.headers.get("Accept", ""):
        return error_page(request, code[:200], err, err.status)
    return error_response(err)


async def _scanned(request: web.Request, code: str) -> web.StreamResponse:
    try:
        found = read_scan(code)
    except HandleError as e:
        return _refused(request, e, code)
    if found.kind == "handle":
        return await resolve_page(request, found.handle)
    handle = request.app[SERVICE].handle_for_gs1(found.gs1)
    if handle is None:
        return _refused(request, HandleError(RC.HANDLE_NOT_FOUND, f"no identifier on this node carries the GS1 key "
                                                                   f"{found.gs1}", field="code"), code)
    return await resolve_page(request, handle)


async def scan(request: web.Request) -> web.StreamResponse:
    code = request.query.get("code")
    if not code:
        return error_response(HandleError(RC.INVALID_VALUE, "scan needs ?code=", field="code"))
    return await _scanned(request, code)


async def scan_bytes(request: web.Request) -> web.StreamResponse:
    """``POST /scan``: the scanner's raw bytes, GS separators and symbology identifier included."""
    try:
        raw = await read_within(request, MAX_SCAN_BYTES + 1)
    except HandleError as e:
        return error_response(e)
    if len(raw) > MAX_SCAN_BYTES:
        return error_response(HandleError(RC.INVALID_VALUE, f"a scanned code is at most {MAX_SCAN_BYTES} bytes",
                                          status=413, field="body"))
    try:
        code = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return error_response(HandleError(RC.INVALID_VALUE, f"the scanned bytes are not UTF-8 text (byte "
                                          f"{e.start}: {raw[e.start:e.start + 1]!r})", field="body"))
    if not code.strip():
        return error_response(HandleError(RC.INVALID_VALUE, "scan needs the scanned code as the body", field="body"))
    return await _scanned(request, code)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/scan", scan)
    app.router.add_post("/scan", scan_bytes)
    # Last: everything not matched above is a handle.
    app.router.add_get("/{handle:.+}", proxy)
