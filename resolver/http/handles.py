"""``/api/handles``: the Handle.Net REST API (COMPAT.md), byte-compatible where clients depend on it."""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from protocol.codes import RC, HandleError
from protocol.jsonrepr import value_to_json, values_from_json
from protocol.values import check_index

from .. import metrics
from ..metrics import PROTOCOL_HTTP
from ..service import Intent, Resolution
from ..service.handles import Precondition
from .common import (
    JSON,
    SERVICE,
    admitted,
    api,
    caller,
    caller_of,
    error_response,
    flag,
    int_param,
    json_response,
    path_handle,
    read_json,
)

DEFAULT_PAGE_SIZE = 1000


def filters(request: web.Request) -> tuple[set[int] | None, list[str] | None]:
    if not request.query_string:
        return None, None
    q = request.query
    indexes = {check_index(i) for i in q.getall("index", ())} or None
    types = [t for t in q.getall("type", ()) if t] or None
    return indexes, types


def render(res: Resolution, filtered: bool) -> bytes:
    """The answer body; the values part of an unfiltered public answer is kept on the cache entry."""
    if res.unfiltered_public:
        values = res.rendered("json")
        if values is None:
            # A right-sized copy: orjson's bytes keep its whole output buffer (4 KiB or more) for as
            # long as they live, seven times a record's rendering on every cache entry.
            values = bytes(memoryview(orjson.dumps([value_to_json(v) for v in res.values])))
            res.remember("json", values)
    else:
        values = orjson.dumps([value_to_json(v) for v in res.values])
    rc = b"200" if filtered and not res.values else b"1"  # 200: no value matched the filter
    return b'{"responseCode":' + rc + b',"handle":' + orjson.dumps(res.handle) + b',"values":' + values + b"}"


_perf = time.perf_counter
_record = metrics.record
_RESOLVED = (PROTOCOL_HTTP, "resolve", 200)


async def get_handle(request: web.Request) -> web.Response:
    t0 = _perf()
    handle = request.match_info["handle"]
    svc = request.app[SERVICE]
    if not svc.limits.per_address.admit(request.remote, t0):  # a token bucket: a look-up and a subtraction
        resp = error_response(svc.limits.address_refusal(request.remote), handle)
        _record((PROTOCOL_HTTP, "resolve", resp.status), _perf() - t0)
        return resp
    try:
        if "%" in handle:
            path_handle(request)
        indexes, types = filters(request)
        identity = await caller(request) if "Authorization" in request.headers else None
        res = await svc.resolve_anywhere(handle, indexes=indexes, types=types, identity=identity,
                                         client=request.remote, t0=t0)
        resp = web.Response(body=render(res, bool(indexes or types)), content_type=JSON)
        if isinstance(res, Resolution):  # held here (not a remote answer): its version, for If-Match
            resp.headers["ETag"] = f'"{res.version}"'
    except HandleError as e:
        resp = error_response(e, handle, request)
        _record((PROTOCOL_HTTP, "resolve", resp.status), _perf() - t0)
        return resp
    except Exception:
        _record((PROTOCOL_HTTP, "resolve", 500), _perf() - t0)
        raise
    _record(_RESOLVED, _perf() - t0)
    return resp


get_handle.counts_itself = True  # the hot path: counted inline rather than through a wrapper


@api
async def put_handle(request: web.Request) -> web.Response:
    handle = path_handle(request)
    q = request.query
    raw_indexes = q.getall("index", [])
    indexes = None
    if raw_indexes:
        # "various" (Handle.Net) means: the indexes of the values in the body.
        indexes = [] if raw_indexes == ["various"] else [check_index(i) for i in raw_indexes]
    overwrite, mint = flag(request, "overwrite", True), flag(request, "mintNewSuffix", False)
    cond = precondition(request)
    # Who is asking, and may they write this handle at all, before the body is read.
    identity = await admitted(request, Intent("put_handle", handle, partial=indexes is not None, mint=mint))
    values = values_from_json(await read_json(request))
    svc = request.app[SERVICE]
    created_handle, result = await svc.put_handle(handle, values, identity, overwrite=overwrite, indexes=indexes,
                                                  mint=mint, precondition=cond, caller=caller_of(request))
    resp = json_response({"responseCode": RC.SUCCESS, "handle": created_handle}, 201 if result == "created" else 200)
    version = svc.version_of(created_handle)
    if version is not None:
        resp.headers["ETag"] = f'"{version}"'
    return resp


def _entity_tags(request: web.Request, name: str) -> frozenset[str] | None:
    """The versions an If-Match / If-None-Match header names ("*" for any). A weak tag (W/"…") names
    none: conditional writes compare strongly (RFC 9110 §13.1.1)."""
    header = request.headers.getall(name, None)
    if header is None:
        return None
    tags: set[str] = set()
    for part in ",".join(header).split(","):
        t = part.strip()
        if t == "*":
            tags.add("*")
        elif len(t) >= 2 and t[0] == t[-1] == '"':
            tags.add(t[1:-1])
        elif not t.startswith('W/"') and t:
            raise HandleError(RC.INVALID_VALUE, f"{name} must list quoted entity tags or be *, not {t!r}", field=name)
    return frozenset(tags)


def precondition(request: web.Request) -> Precondition | None:
    match, none_match = _entity_tags(request, "If-Match"), _entity_tags(request, "If-None-Match")
    return None if match is None and none_match is None else Precondition(match, none_match)


@api
async def delete_handle(request: web.Request) -> web.Response:
    handle = path_handle(request)
    identity = await caller(request)
    if identity is None:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to delete")
    indexes = [check_index(i) for i in request.query.getall("index", [])] or None
    await request.app[SERVICE].delete_handle(handle, identity, indexes=indexes, caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, "handle": handle})


@api
async def list_handles(request: web.Request) -> web.Response:
    prefix = request.query.get("prefix")
    if not prefix:
        raise HandleError(RC.INVALID_VALUE, "listing needs ?prefix=", field="prefix")
    page = int_param(request, "page", 0)
    size = int_param(request, "pageSize", DEFAULT_PAGE_SIZE)
    identity = await caller(request)
    handles, total = request.app[SERVICE].list_handles(prefix, page, size, identity)
    return json_response({"responseCode": RC.SUCCESS, "prefix": prefix, "totalCount": str(total),
                          "page": page, "pageSize": size, "handles": handles})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/handles", list_handles)
    app.router.add_get("/api/handles/{handle:.+}", get_handle)
    app.router.add_put("/api/handles/{handle:.+}", put_handle)
    app.router.add_delete("/api/handles/{handle:.+}", delete_handle)
