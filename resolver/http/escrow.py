"""``/api/escrow/{node}`` on a top-level node: secondaries deposit, file by file, then complete."""

from __future__ import annotations

from aiohttp import web

from ..escrow import vault
from ..escrow.keys import load_private
from .common import SERVICE, SETTINGS, api, caller, json_response

TOP_KEY = web.AppKey("escrow_top_key", dict)


def _top_private(app: web.Application) -> bytes | None:
    cache = app[TOP_KEY]
    path = app[SETTINGS].get("escrow_key")
    if path and cache.get("path") != path:
        cache.update(path=path, key=load_private(path))
    return cache.get("key") if path else None


@api
async def put_file(request: web.Request) -> web.Response:
    m = request.match_info
    svc = request.app[SERVICE]
    identity = await caller(request)
    node = vault.authorize(svc, m["node"], identity, m["id"], m["file"])  # before a byte of the body is read
    size = await vault.receive_file(svc, node, m["id"], m["file"], request.content_length,
                                    request.content.iter_chunked(1 << 20))
    return json_response({"node": node, "id": m["id"], "file": m["file"], "size": size}, 201)


@api
async def complete(request: web.Request) -> web.Response:
    m = request.match_info
    svc = request.app[SERVICE]
    identity = await caller(request)
    node = vault.authorize(svc, m["node"], identity, m["id"])
    return json_response(await vault.complete(svc, node, m["id"], _top_private(request.app)))


@api
async def deposits(request: web.Request) -> web.Response:
    identity = await caller(request)
    return json_response(vault.deposit_log(request.app[SERVICE], request.match_info["node"], identity))


def add_routes(app: web.Application) -> None:
    app[TOP_KEY] = {}
    app.router.add_put("/api/escrow/{node}/{id}/{file}", put_file)
    app.router.add_post("/api/escrow/{node}/{id}/complete", complete)
    app.router.add_get("/api/escrow/{node}", deposits)
