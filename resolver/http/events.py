"""The EPCIS 2.0 REST binding: capture (``/capture``, and ``/api/events`` synchronously) and query."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import orjson
from aiohttp import web

from protocol.codes import RC, HandleError

from ..service.events import CaptureRejected
from .common import SERVICE, api, caller, error_response, json_response

JSON_TYPES = ("application/json", "application/ld+json")
LD = "application/ld+json"


async def read_epcis(request: web.Request) -> object:
    if request.content_type not in JSON_TYPES:
        raise HandleError(RC.PROTOCOL_ERROR, f"Content-Type must be one of {', '.join(JSON_TYPES)}, "
                          f"not {request.content_type or 'absent'}", field="Content-Type", status=415)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise HandleError(RC.PROTOCOL_ERROR, f"the document is larger than the limit of {request.client_max_size} "
                          "bytes", status=413) from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise HandleError(RC.PROTOCOL_ERROR, f"the body is not valid JSON: {e}", field="body") from None


def rejected(e: CaptureRejected) -> web.Response:
    resp = error_response(e)
    body = orjson.loads(resp.body)
    body["errors"] = [x.to_json() for x in e.errors]
    return json_response(body, e.status)


async def capture(request: web.Request) -> web.Response:
    """``POST /capture``: 202 and a capture job; the job stores the document or reports its errors."""
    try:
        identity = await caller(request)
        body = await read_epcis(request)
        job = await request.app[SERVICE].start_capture_job(body, identity)
    except CaptureRejected as e:
        return rejected(e)
    except HandleError as e:
        return error_response(e)
    resp = json_response({"captureID": job}, 202)
    resp.headers["Location"] = f"/capture/{job}"
    return resp


async def capture_job(request: web.Request) -> web.Response:
    try:
        return json_response(request.app[SERVICE].capture_job(request.match_info["job"]))
    except HandleError as e:
        return error_response(e)


async def capture_now(request: web.Request) -> web.Response:
    """``POST /api/events``: validate and store a small batch before answering."""
    try:
        identity = await caller(request)
        body = await read_epcis(request)
        result = await request.app[SERVICE].capture(body, identity)
    except CaptureRejected as e:
        return rejected(e)
    except HandleError as e:
        return error_response(e)
    return json_response(result, 201 if result["stored"] or result["declared"] else 200)


def _ld(doc: dict) -> web.Response:
    return web.Response(body=orjson.dumps(doc), content_type=LD)


def _page(request: web.Request, params: dict[str, list[str]]) -> web.Response:
    svc = request.app[SERVICE]
    found, token = svc.query_events(params)
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
    return _page(request, _params(request))


@api
async def event(request: web.Request) -> web.Response:
    svc = request.app[SERVICE]
    ev, ctx = svc.get_event(request.match_info["event_id"])
    return _ld(svc.query_document([(ev, ctx)]))


@api
async def epc_events(request: web.Request) -> web.Response:
    params = _params(request)
    params["MATCH_anyEPC"] = [request.match_info["epc"]]
    return _page(request, params)


def event_path(event_id: str) -> str:
    return "/events/" + quote(event_id, safe="")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/capture", capture)
    app.router.add_get("/capture/{job}", capture_job)
    app.router.add_post("/api/events", capture_now)
    app.router.add_get("/events", events)
    app.router.add_get("/events/{event_id:.+}", event)
    app.router.add_get("/epcs/{epc:.+}/events", epc_events)
