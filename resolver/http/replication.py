"""``/api/replication``: what a primary hands its mirrors (the change log, a snapshot), and a
mirror's own status and promotion. Node admin only."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import msgpack
from aiohttp import web

from protocol.codes import RC

from .common import SERVICE, api, caller, caller_of, int_param, json_response, seconds_param

MSGPACK = "application/x-msgpack"
MAX_WAIT = 30.0
POLL = 0.05  # a long-poll looks at the log this often (writes may come from other processes)
CHUNK = 1 << 20
MIRROR = web.AppKey("mirror", object)  # mirror.Follower, on a mirror


@api
async def changes(request: web.Request) -> web.Response:
    svc = request.app[SERVICE]
    identity = await caller(request)
    after = int_param(request, "after", 0)
    limit = int_param(request, "limit", 1000)
    wait = seconds_param(request, "wait", 0.0, MAX_WAIT)
    mirror = request.query.get("mirror")  # the asking mirror's name: it has applied everything up to after
    entries, last = svc.changes_after(after, limit, identity, mirror)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while not entries and loop.time() < deadline:
        await asyncio.sleep(POLL)
        entries, last = svc.changes_after(after, limit, identity, mirror)
    return web.Response(body=msgpack.packb(entries, use_bin_type=True), content_type=MSGPACK,
                        headers={"X-Idnode-Last-Sequence": str(last)})


@api
async def snapshot(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICE]
    identity = await caller(request)
    loop = asyncio.get_running_loop()
    # Inside the data folder: the node may write there, and nowhere else need be writable (the image runs
    # as a user who owns the data folder and not its parent, /var/lib).
    tmp = tempfile.mkdtemp(prefix=".snapshot-", dir=svc.store.path)
    try:
        path = await loop.run_in_executor(None, svc.make_snapshot, Path(tmp), identity)
        digest = await loop.run_in_executor(None, _sha256, path)
        fh = open(path, "rb")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)  # the open file stays readable until closed
    with fh:
        size = os.fstat(fh.fileno()).st_size
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream", "Content-Length": str(size),
                                           "X-Idnode-Sha256": digest})
        await resp.prepare(request)
        while chunk := await loop.run_in_executor(None, fh.read, CHUNK):
            await resp.write(chunk)
        await resp.write_eof()
        return resp


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@api
async def status(request: web.Request) -> web.Response:
    svc = request.app[SERVICE]
    identity = await caller(request)
    last = svc.last_sequence(identity)
    follower = request.app.get(MIRROR)
    body: dict = {"role": "mirror" if svc.mirror_of else "primary", "lastSequence": last}
    if follower is not None and svc.mirror_of:
        body.update(follower.state())
    return json_response(body)


@api
async def promote(request: web.Request) -> web.Response:
    svc = request.app[SERVICE]
    result = await svc.promote(await caller(request), caller=caller_of(request))
    follower = request.app.get(MIRROR)
    if follower is not None:
        await follower.stop()
    return json_response({"responseCode": RC.SUCCESS, **result})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/replication/changes", changes)
    r.add_get("/api/replication/snapshot", snapshot)
    r.add_get("/api/replication/status", status)
    r.add_post("/api/replication/promote", promote)
