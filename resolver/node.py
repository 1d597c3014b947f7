"""Run the node: open the store, start the group committer, serve HTTP(S), drain on SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import signal
import ssl
import sys

from aiohttp import web

from .config import Config, data_path, host_port
from .handle.node import HANDLE_PORT, handle_front
from .http import create_app
from .runtime import close_service, open_service

GC_THRESHOLDS = (20_000, 20, 20)


def tls_context(cfg: Config) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    return ctx


async def serve(cfg: Config, *, ready: asyncio.Event | None = None) -> None:
    svc = open_service(cfg)
    try:
        prefix = svc.require_initialised()
        app = create_app(svc, cfg.settings())
        handle_addr = host_port(cfg.handle, HANDLE_PORT) if cfg.handle else None
        listeners = handle_front(svc, app, data_path(cfg), handle_addr, host_port(cfg.http, 8000))
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=15.0)
        await runner.setup()
        host, port = host_port(cfg.http, 8000)
        sites = [web.TCPSite(runner, host, port, backlog=2048)]
        if cfg.https:
            if not (cfg.tls_cert and cfg.tls_key):
                raise SystemExit("--https needs --tls-cert and --tls-key")
            h, p = host_port(cfg.https, 8443)
            sites.append(web.TCPSite(runner, h, p, ssl_context=tls_context(cfg), backlog=2048))
        for site in sites:
            await site.start()
        if listeners is not None:
            await listeners.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # What start-up made lives as long as the process: keep it out of every later collection.
        gc.collect()
        gc.freeze()
        # A batch makes tens of thousands of short-lived objects: collect young ones in larger steps.
        gc.set_threshold(*GC_THRESHOLDS)
        where = " ".join([s.name for s in sites] + ([listeners.name] if listeners else []))
        print(f"idnode serving prefix {prefix} from {data_path(cfg)} on {where}", file=sys.stderr, flush=True)
        if ready is not None:
            ready.set()
        await stop.wait()
        print("idnode: draining and stopping", file=sys.stderr, flush=True)
        if listeners is not None:
            await listeners.close()
        await runner.cleanup()  # stops accepting, lets in-flight requests finish
    finally:
        close_service(svc)


def run(cfg: Config) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; asyncio still works without it
        asyncio.run(serve(cfg))
    else:
        uvloop.run(serve(cfg))
