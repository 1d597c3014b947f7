"""``/api/reports/{nodePrefix}`` on a top-level node: secondaries PUT, admins GET (reports/archive.py)."""

from __future__ import annotations

from aiohttp import web

from ..reports import archive, entered
from .common import SERVICE, api, caller, caller_of, json_response, read_json


@api
async def put_report(request: web.Request) -> web.Response:
    m = request.match_info
    svc = request.app[SERVICE]
    identity = await caller(request)
    # Refused before the body is read: anyone but the secondary itself costs its headers only.
    archive.authorize_sender(svc, m["node"], m["kind"], m["key"], identity)
    report = await read_json(request)
    replaced = await archive.accept(svc, m["node"], m["kind"], m["key"], report, identity)
    return json_response({"node": m["node"], "kind": m["kind"], "key": m["key"],
                          "result": "replaced" if replaced else "created"}, 200 if replaced else 201)


@api
async def get_reports(request: web.Request) -> web.Response:
    q = request.query
    kind = q.get("kind", "statistics")
    key = q.get("date") or q.get("month") or q.get("key")
    identity = await caller(request)
    return json_response(archive.read(request.app[SERVICE], request.match_info["node"], kind, key, identity))


@api
async def put_owner(request: web.Request) -> web.Response:
    identity = await caller(request)
    if identity is None:
        await entered.set_owner(request.app[SERVICE], request.match_info["prefix"], None, None,  # refuses
                                caller=caller_of(request))
    rec = await entered.set_owner(request.app[SERVICE], request.match_info["prefix"], await read_json(request),
                                  identity, caller=caller_of(request))
    return json_response(rec)


def add_routes(app: web.Application) -> None:
    app.router.add_put("/api/prefixes/{prefix}/owner", put_owner)
    app.router.add_put("/api/reports/{node}/{kind}/{key}", put_report)
    app.router.add_get("/api/reports/{node}", get_reports)
