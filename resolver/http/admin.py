"""The node's own additions: ``/api/batch``, ``/api/prefixes``, ``/api/templates``."""

from __future__ import annotations

from aiohttp import web

from protocol.batchjson import Batch, encode_batch_result
from protocol.codes import RC, HandleError
from protocol.prefixes import AllocatePrefix, decode_allocate, decode_rotate, encode_allocated
from protocol.template_requests import decode_publish, encode_published

from ..service import Intent
from ..service.audit_query import AuditQuery
from .common import SERVICE, admitted, api, caller, caller_of, json_response, read_body, read_json


@api
async def batch(request: web.Request) -> web.Response:
    identity = await admitted(request, Intent("batch"))
    body = await read_body(request)
    return json_response(encode_batch_result(await request.app[SERVICE].batch(Batch.json(body), identity, caller=caller_of(request))))


@api
async def list_prefixes(request: web.Request) -> web.Response:
    prefixes = request.app[SERVICE].list_prefixes(await caller(request))
    return json_response({"responseCode": RC.SUCCESS, "prefixes": prefixes})


@api
async def allocate_prefix(request: web.Request) -> web.Response:
    if request.can_read_body:
        identity = await admitted(request, Intent("allocate_prefix"))
        req = decode_allocate(await read_json(request))
    else:
        identity, req = await caller(request), AllocatePrefix()
    done = await request.app[SERVICE].allocate_prefix(req, identity, caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, **encode_allocated(done)}, 201)


@api
async def get_prefix(request: web.Request) -> web.Response:
    rec = request.app[SERVICE].get_prefix(request.match_info["prefix"], await caller(request))
    return json_response({"responseCode": RC.SUCCESS, **rec})


@api
async def delete_prefix(request: web.Request) -> web.Response:
    prefix = request.match_info["prefix"]
    await request.app[SERVICE].delete_prefix(prefix, await caller(request), caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, "prefix": prefix})


def _state_route(state: str):
    @api
    async def set_state(request: web.Request) -> web.Response:
        rec = await request.app[SERVICE].set_prefix_state(request.match_info["prefix"], state, await caller(request),
                                                                 caller=caller_of(request))
        return json_response({"responseCode": RC.SUCCESS, **rec})

    return set_state


@api
async def set_public_trace(request: web.Request) -> web.Response:
    """``PUT /api/prefixes/{prefix}/public-trace``: which of the enterprise's events anonymous traces show."""
    body = await read_json(request)
    rec = await request.app[SERVICE].set_public_trace(request.match_info["prefix"], body, await caller(request),
                                                       caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, **rec})


@api
async def rotate_secret(request: web.Request) -> web.Response:
    prefix = request.match_info["prefix"]
    if request.can_read_body:
        identity = await admitted(request, Intent("rotate_secret", prefix))
        secret = decode_rotate(await read_json(request))
    else:
        identity, secret = await caller(request), None
    out = await request.app[SERVICE].rotate_secret(prefix, secret, identity, caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, **out})


@api
async def set_quota(request: web.Request) -> web.Response:
    body = await read_json(request)
    rec = await request.app[SERVICE].set_quota(request.match_info["prefix"], body, await caller(request),
                                                caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, **rec})


@api
async def list_templates(request: web.Request) -> web.Response:
    tpls = request.app[SERVICE].list_templates(request.query.get("prefix"))
    return json_response({"responseCode": RC.SUCCESS, "templates": tpls})


@api
async def put_template(request: web.Request) -> web.Response:
    identity = await admitted(request, Intent("put_template"))
    req = decode_publish(await read_json(request))
    done = await request.app[SERVICE].put_template(req, identity, caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, **encode_published(done)}, 201 if done.created else 200)


@api
async def get_template(request: web.Request) -> web.Response:
    m = request.match_info
    return json_response({"responseCode": RC.SUCCESS, **request.app[SERVICE].get_template(m["prefix"], m["version"])})


@api
async def delete_template(request: web.Request) -> web.Response:
    m = request.match_info
    identity = await caller(request)
    if identity is None:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to delete a template")
    await request.app[SERVICE].delete_template(m["prefix"], m["version"], identity, caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, "prefix": m["prefix"], "version": m["version"]})


@api
async def federation_status(request: web.Request) -> web.Response:
    return json_response(request.app[SERVICE].federation_status(await caller(request)))


@api
async def audit_trail(request: web.Request) -> web.Response:
    """The audit trail, for the node admin: filtered, a page at a time."""
    q = AuditQuery.parse(request.query)
    entries, cursor = request.app[SERVICE].audit_trail(q, await caller(request))
    out: dict = {"responseCode": RC.SUCCESS, "entries": entries}
    if cursor is not None:
        out["nextCursor"] = cursor
    return json_response(out)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/audit", audit_trail)
    r.add_post("/api/batch", batch)
    r.add_get("/api/federation", federation_status)
    r.add_get("/api/prefixes", list_prefixes)
    r.add_post("/api/prefixes", allocate_prefix)
    r.add_get("/api/prefixes/{prefix}", get_prefix)
    r.add_delete("/api/prefixes/{prefix}", delete_prefix)
    r.add_post("/api/prefixes/{prefix}/disable", _state_route("disabled"))
    r.add_post("/api/prefixes/{prefix}/enable", _state_route("enabled"))
    r.add_post("/api/prefixes/{prefix}/secret", rotate_secret)
    r.add_put("/api/prefixes/{prefix}/quota", set_quota)
    r.add_put("/api/prefixes/{prefix}/public-trace", set_public_trace)
    r.add_get("/api/templates", list_templates)
    r.add_post("/api/templates", put_template)
    r.add_get("/api/templates/{prefix}/{version}", get_template)
    r.add_delete("/api/templates/{prefix}/{version}", delete_template)
