"""The GET baseline: a bare aiohttp handler (uvloop, no idnode code) answering from the same LMDB folder.

``GET /api/handles/{h}`` does one LMDB get on the ``handles`` database by the lower-cased handle and returns
the stored bytes as they are (msgpack, labelled application/json): HTTP + event loop + one B-tree read, the
floor under anything the node does per resolution.

Two forms: an ``web.Application`` with a router (the default), and with ``--low-level`` aiohttp's
low-level server (``web.Server``: one handler for every request, no router, no application), the
reference of issue 22's HTTP goal.

    python -m loadtests.baseline --data DIR --http 127.0.0.1:PORT [--low-level]
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import lmdb
import uvloop
from aiohttp import web

# storage/env.py opens the environment with max_dbs=len(DBS) + 4, DBS being the six names in storage/txn.py.
MAX_DBS = 10


def open_handles(path: str) -> tuple[lmdb.Environment, object]:
    env = lmdb.open(path, readonly=True, lock=True, max_dbs=MAX_DBS, readahead=False)
    # Opened outside an explicit transaction: with py-lmdb 3.0 a handle opened inside a read-only
    # ``with env.begin()`` block on a read-only environment answered every later get with EINVAL.
    db = env.open_db(b"handles", create=False)
    return env, db


def make_app(env: lmdb.Environment, db: object) -> web.Application:

    async def get_handle(request: web.Request) -> web.Response:
        k = request.match_info["h"].lower().encode()
        try:
            txn = env.begin(db=db)
        except lmdb.MapResizedError:
            env.set_mapsize(0)
            txn = env.begin(db=db)
        try:
            raw = txn.get(k)
        finally:
            txn.abort()
        if raw is None:
            return web.Response(status=404, body=b'{"responseCode":100}', content_type="application/json")
        return web.Response(body=raw, content_type="application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(body=b'{"status":"ok"}', content_type="application/json")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/handles/{h:.+}", get_handle)
    return app


REDIRECT = {"Content-Type": "text/plain; charset=utf-8", "Location": "https://trace.example.com/p/"}


def make_low_level(env: lmdb.Environment, db: object) -> web.Server:
    """The same answers from aiohttp's low-level server: the path is looked at by hand. Any other
    path is a scanner's ``GET /{handle}``: the same read, answered with a redirect (302) to a fixed address."""
    prefix = "/api/handles/"
    n = len(prefix)

    async def handler(request: web.BaseRequest) -> web.Response:
        path = request.path
        if path.startswith(prefix):
            k = path[n:].lower().encode()
        elif path == "/healthz":
            return web.Response(body=b'{"status":"ok"}', content_type="application/json")
        else:  # a scanner's /{handle}: the same read, then a redirect to a fixed address
            k = path[1:].lower().encode()
        try:
            txn = env.begin(db=db)
        except lmdb.MapResizedError:
            env.set_mapsize(0)
            txn = env.begin(db=db)
        try:
            raw = txn.get(k)
        finally:
            txn.abort()
        if raw is None:
            return web.Response(status=404, body=b'{"responseCode":100}', content_type="application/json")
        if not path.startswith(prefix):
            return web.Response(status=302, body=b"302: Found", headers=REDIRECT)
        return web.Response(body=raw, content_type="application/json")

    return web.Server(handler, access_log=None)


async def serve(path: str, host: str, port: int, low_level: bool = False) -> None:
    env, db = open_handles(path)
    if low_level:
        runner: web.BaseRunner = web.ServerRunner(make_low_level(env, db), handle_signals=False)
    else:
        runner = web.AppRunner(make_app(env, db), access_log=None, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, host, port, backlog=2048).start()
        await stop.wait()
    finally:
        await runner.cleanup()
        env.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--http", default="127.0.0.1:8001")
    p.add_argument("--low-level", action="store_true", help="aiohttp's low-level server: no router, no application")
    a = p.parse_args()
    host, _, port = a.http.rpartition(":")
    uvloop.run(serve(a.data, host or "127.0.0.1", int(port), a.low_level))


if __name__ == "__main__":
    main()
