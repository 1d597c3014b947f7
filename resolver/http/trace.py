"""``GET /api/trace/{identifier}`` (JSON) and ``GET /trace/{identifier}`` (a page for a phone).

Both trace across nodes: parts served by other nodes are traced there within ``?budget_ms=``
(default the node's ``trace_budget_ms``); ``via=`` is what nodes pass one another so that a trace
never loops (service.trace_federated).
"""

from __future__ import annotations

from aiohttp import web

from protocol.codes import RC, HandleError
from protocol.epcis_ids import display_handle

from ..service.trace_federated import DEFAULT_BUDGET_MS, parse_via
from .common import SERVICE, SETTINGS, api, caller, int_param, json_response
from .pages import error_page, trace_page
from .scan import _wants_json


def _identifier(request: web.Request) -> str:
    ident = request.match_info.get("identifier") or request.query.get("id")
    if not ident:
        raise HandleError(RC.INVALID_VALUE, "trace needs an identifier: /api/trace/{identifier} or ?id=",
                          field="id")
    return ident


async def _trace(request: web.Request) -> dict:
    budget = int_param(request, "budget_ms", request.app[SETTINGS].get("trace_budget_ms", DEFAULT_BUDGET_MS))
    return await request.app[SERVICE].trace_anywhere(
        _identifier(request), depth=int_param(request, "depth", 8), max_nodes=int_param(request, "maxNodes", 2000),
        max_events=int_param(request, "maxEvents", 2000), budget_ms=budget, via=parse_via(request.query.get("via")),
        identity=await caller(request))


@api
async def trace_json(request: web.Request) -> web.Response:
    return json_response(await _trace(request))


async def trace_html(request: web.Request) -> web.StreamResponse:
    if _wants_json(request):
        return await trace_json(request)
    try:
        answer = await _trace(request)
    except HandleError as e:
        ident = request.match_info.get("identifier", "")
        return error_page(request, ident, e, e.status)
    svc = request.app[SERVICE]
    record = None
    handle = display_handle(answer["canonical"])
    if handle is not None:
        try:
            record = svc.resolve(handle, client=request.remote)  # a scan: counted from its address
        except HandleError:
            record = None
    return trace_page(request, svc, answer, record)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/trace", trace_json)
    app.router.add_get("/api/trace/{identifier:.+}", trace_json)
    app.router.add_get("/trace", trace_html)
    app.router.add_get("/trace/{identifier:.+}", trace_html)
