"""Run the node: open the store, start the group committer, serve HTTP(S), drain on SIGTERM.

``--workers N`` (N > 1) runs a supervisor (``supervisor.py``) that forks N of these, each binding every
port with SO_REUSEPORT; with one worker the node is this one process. SIGHUP reloads the settings
and the TLS certificate in place.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import ssl
from collections.abc import Callable

from aiohttp import web

from storage.env import loose_modes

from .. import logs, metrics, mirror, tunnel
from ..changelog_pruning import Pruner
from ..config import Config, data_path, host_port
from ..counters import Counters
from ..escrow.takeover import Deposits, Takeover
from ..handle.siteinfo import multi_site, parse_site_server
from ..http import create_app, fastget
from ..http.common import SERVICE, SETTINGS
from ..http.connections import limit_connections
from ..http.monitoring import DRAINING, FEDERATION, METRICS
from ..http.replication import MIRROR
from ..keys.keyfiles import hs_pubkey, load_or_create_node_key
from ..service.federation import Share
from ..service.replication import MIRROR_META
from ..tunnel import DISPATCHER
from ..version import node_version
from .federation import Federation, forget_upstreams, wanted
from .federation import links as federation_links
from .handle_front import HANDLE_PORT, handle_front
from .preflight import bind_reason, check_serve
from .reporting import Reporting
from .service_setup import close_service, configure, open_service, open_store
from .supervisor import Supervisor

GC_THRESHOLDS = (20_000, 20, 20)
PUBLISH_EVERY = 1.0  # seconds between moving this worker's counts into the shared metric files

log = logging.getLogger("idnode")


def tls_context(cfg: Config) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    return ctx


async def serve(cfg: Config, *, ready: asyncio.Event | None = None, loader: Callable[[], Config] | None = None,
                supervised: bool = False) -> None:
    if not supervised:
        metrics.use_directory(metrics.directory(data_path(cfg)), clean=True)
    reuse = True if cfg.workers > 1 else None
    if mirror.wanted(cfg) and not supervised:
        mirror.bootstrap(cfg)
    store = open_store(cfg)
    store.env.reader_check()  # reader slots left by a worker that was killed
    with store.read() as tx:
        primary = tx.get_meta(MIRROR_META) is None
    # The service is built once with everything it works with (resolver/service/__init__.py).
    fed = federation_links(cfg, store) if wanted(cfg) else None
    # A mirror writes nothing of its own: it does not count for the reports (its primary does).
    counters = Counters() if cfg.counting and primary else None
    deposits = Deposits(store) if cfg.role == "top" else None  # secondaries' deposits (resolver/escrow)
    svc = open_service(cfg, store, remote=fed and fed.remote, traces=fed and fed.traces, share=site_share(cfg),
                       counters=counters, deposits=deposits)
    try:
        prefix = svc.require_initialised()
        app = create_app(svc, cfg.settings(), handle_tunnel=tunnel.add_routes)
        follower = None
        if mirror.wanted(cfg) and first_worker(supervised) and svc.mirror_of is not None:
            follower = app[MIRROR] = mirror.Follower(svc, cfg)
        m = app[METRICS] = metrics.Metrics(svc, node_version(), follower)
        handle_addr = host_port(cfg.handle, HANDLE_PORT) if cfg.handle else None
        listeners = handle_front(svc, app, data_path(cfg), handle_addr, host_port(cfg.http, 8000),
                                 reuse_port=bool(reuse), serve_na=cfg.role == "top", advertise=cfg.advertise,
                                 site_servers=cfg.site_servers, server_number=cfg.server_number)
        first = first_worker(supervised)
        federation = None
        if fed is not None:
            federation = app[FEDERATION] = Federation(svc, cfg, fed, app[DISPATCHER].site, deliver=first)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=15.0,
                               keepalive_timeout=cfg.http_idle_timeout)
        await runner.setup()
        limit_connections(runner.server, svc.limits)
        fastget.install(runner.server, app)  # plain anonymous resolutions, below the application layer
        host, port = host_port(cfg.http, 8000)
        sites = [web.TCPSite(runner, host, port, backlog=2048, reuse_port=reuse)]
        tls = None
        if cfg.https:
            if not (cfg.tls_cert and cfg.tls_key):
                raise SystemExit("--https needs --tls-cert and --tls-key")
            h, p = host_port(cfg.https, 8443)
            tls = tls_context(cfg)
            sites.append(web.TCPSite(runner, h, p, ssl_context=tls, backlog=2048, reuse_port=reuse))
        # The Handle listeners first: once /healthz answers, every port the node was given is open.
        try:
            if listeners is not None:
                await listeners.start()
            for site in sites:
                await site.start()
        except OSError as e:  # taken since the check in run(): one line, not a traceback
            raise SystemExit(f"idnode: cannot listen: {bind_reason(e)}") from None
        if federation is not None:
            await federation.start()
        reporting = Reporting(svc, cfg, first=first, site=app[DISPATCHER].site)
        await reporting.start()
        takeover = None
        if deposits is not None:  # serving secondaries' deposits when they are down (resolver/escrow)
            takeover = Takeover(svc, deposits, window=cfg.takeover_window, interval=cfg.takeover_probe_interval)
            await takeover.start(probing=first)
        if not cfg.upstream and first and svc.mirror_of is None:
            await forget_upstreams(svc)
        pruner = Pruner(svc, cfg)
        if first:
            pruner.start()
        if follower is not None:
            follower.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, reload, app, tls, loader)
        publisher = loop.create_task(publish(m))
        # What start-up made lives as long as the process: keep it out of every later collection.
        gc.collect()
        gc.freeze()
        # A batch makes tens of thousands of short-lived objects: collect young ones in larger steps.
        gc.set_threshold(*GC_THRESHOLDS)
        where = " ".join([s.name for s in sites] + ([listeners.name] if listeners else []))
        log.info(f"idnode serving prefix {prefix} from {data_path(cfg)} on {where}",
                 extra={"prefix": prefix, "listen": where})
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("draining and stopping")
        app[DRAINING][0] = True
        if listeners is not None:
            await listeners.close()
        await runner.cleanup()  # stops accepting, lets in-flight requests finish
        await reporting.stop()  # the last second's counts
        if takeover is not None:
            await takeover.stop()
        if federation is not None:
            await federation.stop()
        if follower is not None:
            await follower.stop()
        await pruner.stop()
        publisher.cancel()
        m.publish()
    finally:
        close_service(svc)


def first_worker(supervised: bool) -> bool:
    """The one process that talks upstream, follows the primary and probes (worker slot 0)."""
    return not supervised or os.environ.get("IDNODE_WORKER_SLOT", "0") == "0"


def site_share(cfg: Config) -> Share | None:
    """This server's share of a site of several (``--site-server``), which the service checks each handle
    against; None for a node that is a site of its own."""
    if not cfg.site_servers:
        return None
    key = load_or_create_node_key(data_path(cfg))
    servers = [parse_site_server(t) for t in cfg.site_servers]
    site = multi_site(servers, cfg.server_number, hs_pubkey(key))
    bases = [f"http://{a if ':' not in a else f'[{a}]'}:{http_port}" for a, _, http_port in servers]
    return Share(site, cfg.server_number - 1, bases)


async def publish(m: metrics.Metrics) -> None:
    while True:
        await asyncio.sleep(PUBLISH_EVERY)
        try:
            m.publish()
        except Exception:
            log.exception("publishing metrics failed")


def reload(app: web.Application, tls: ssl.SSLContext | None, loader: Callable[[], Config] | None) -> None:
    """SIGHUP: read the configuration again; apply the settings and the TLS certificate in place."""
    if loader is None:
        log.warning("SIGHUP: nothing to reload from")
        return
    try:
        cfg = loader()
        if tls is not None and cfg.tls_cert and cfg.tls_key:
            tls.load_cert_chain(cfg.tls_cert, cfg.tls_key)  # new handshakes use it
    except (SystemExit, OSError, ssl.SSLError) as e:
        log.error("configuration not reloaded: %s", e.code if isinstance(e, SystemExit) else e)
        return
    app[SETTINGS].update(cfg.settings())
    configure(app[SERVICE].policy, cfg)
    logging.getLogger().setLevel(cfg.log_level.upper())
    log.info("configuration reloaded", extra={"tls_cert": cfg.tls_cert})


def _loop_run(coro) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; asyncio still works without it
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def warn_loose_modes(data: str) -> None:
    """The data folder holds verifiers, private values and the audit trail: say so when others may read it."""
    loose = loose_modes(data)
    if loose:
        log.warning(f"the data folder is readable or writable by others than its owner ({'; '.join(loose)}): "
                    f"chmod 700 {data} and chmod 600 the files in it", extra={"loose_modes": loose})


def run_worker(cfg: Config, loader: Callable[[], Config] | None = None) -> None:
    """One worker under the supervisor (after the fork)."""
    _loop_run(serve(cfg, loader=loader, supervised=True))


def run(cfg: Config, loader: Callable[[], Config] | None = None) -> int:
    logs.setup(cfg.log_format, cfg.log_level)
    if cfg.workers < 1:
        raise SystemExit("idnode: --workers must be at least 1")
    check_serve(cfg, mirror=mirror.wanted(cfg))  # before anything is created or forked
    warn_loose_modes(data_path(cfg))
    if cfg.workers > 1:
        return Supervisor(cfg, run_worker, loader).run()
    _loop_run(serve(cfg, loader=loader))
    return 0
