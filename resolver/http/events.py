"""The EPCIS 2.0 REST binding: capture (``/capture``, and ``/api/events`` synchronously) and query."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import orjson
from aiohttp import web

from protocol.capture import capture_job_json, capture_result_json, decode_capture
from protocol.eventquery import decode_event_query

from ..service import Intent
from .common import SERVICE, admitted, api, caller, caller_of, json_response, read_json

JSON_TYPES = ("application/json", "application/ld+json")
LD = "application/ld+json"


async def read_epcis(request: web.Request) -> object:
    return await read_json(request, JSON_TYPES, wrong_type_status=415)


@api
async def capture(request: web.Request) -> web.Response:
    """``POST /capture``: 202 and a capture job; the job stores the document or reports its errors."""
    identity = await admitted(request, Intent("capture"), JSON_TYPES, wrong_type_status=415)
    job = await request.app[SERVICE].start_capture_job(decode_capture(await read_epcis(request)), identity,
        caller=caller_of(request))
    resp = json_response({"captureID": job.capture_id}, 202)
    resp.headers["Location"] = f"/capture/{job.capture_id}"
    return resp


@api
async def capture_job(request: web.Request) -> web.Response:
    return json_response(capture_job_json(request.app[SERVICE].capture_job(request.match_info["job"])))


@api
async def capture_now(request: web.Request) -> web.Response:
    """``POST /api/events``: validate and store a small batch before answering."""
    identity = await admitted(request, Intent("capture"), JSON_TYPES, wrong_type_status=415)
    result = await request.app[SERVICE].capture(decode_capture(await read_epcis(request)), identity,
        caller=caller_of(request))
    return json_response(capture_result_json(result), 201 if result.changed else 200)


def _ld(doc: dict) -> web.Response:
    return web.Response(body=orjson.dumps(doc), content_type=LD)


async def _page(request: web.Request, params: dict[str, list[str]]) -> web.Response:
    svc = request.app[SERVICE]
    identity = await caller(request)
    svc.require_event_reader(identity)  # who is asking, before what they ask is looked at
    found, token = svc.query_events(decode_event_query(params), identity)
    resp = _ld(svc.query_document(found))
    if token is not None:
        nxt = [(k, v) for k, vs in params.items() if k != "nextPageToken" for v in vs] + [("nextPageToken", token)]
        resp.headers["Link"] = f'<{request.path}?{urlencode(nxt)}>; rel="next"'
        resp.headers["GS1-Next-Page-Token"] = token
    return resp


def _params(request: web.Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in request.query.items():
        out.setdefault(k, []).append(v)
    return out


@api
async def events(request: web.Request) -> web.Response:
    return await _page(request, _params(request))


@api
async def event(request: web.Request) -> web.Response:
    svc = request.app[SERVICE]
    ev, ctx = svc.get_event(request.match_info["event_id"], await caller(request))
    return _ld(svc.query_document([(ev, ctx)]))


@api
async def epc_events(request: web.Request) -> web.Response:
    params = _params(request)
    params["MATCH_anyEPC"] = [request.match_info["epc"]]
    return await _page(request, params)


def event_path(event_id: str) -> str:
    return "/events/" + quote(event_id, safe="")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/capture", capture)
    app.router.add_get("/capture/{job}", capture_job)
    app.router.add_post("/api/events", capture_now)
    app.router.add_get("/events", events)
    app.router.add_get("/events/{event_id:.+}", event)
    app.router.add_get("/epcs/{epc:.+}/events", epc_events)
