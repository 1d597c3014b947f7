"""Starting and stopping federation in a serving process."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from storage import Store

from ..config import Config, host_port
from ..federation.peer import Peers
from ..federation.remote import RemoteResolver, local_sites
from ..federation.state import FEDERATION_META
from ..federation.sync import FederationSync, flush_resolutions
from ..federation.traces import TraceClient
from ..federation.upstream import Deliverer, Upstream
from ..handleclient import PrivateKey, SecretKey
from ..keys.keyfiles import load_private
from ..reports.delivery import ReportDelivery

if TYPE_CHECKING:  # the service is handed in: federation drives it without importing it
    from ..service import Service

HANDLE_PORT = 2641
FLUSH_EVERY = 5.0


def upstreams_of(cfg: Config) -> list[Upstream]:
    return [Upstream(*host_port(u, HANDLE_PORT)) for u in cfg.upstream]


def report_delivery(cfg: Config, ups: list[Upstream], ident: SecretKey | PrivateKey):
    """Reports travel over HTTP to each upstream's --upstream-http address (given in the same order)."""
    if len(cfg.upstream_http) > len(ups):
        raise SystemExit("idnode: more --upstream-http addresses than --upstream nodes")
    secret = cfg.upstream_secret if isinstance(ident, SecretKey) else None
    return ReportDelivery({u.name: url for u, url in zip(ups, cfg.upstream_http, strict=False)},
                          f"{ident.index}:{ident.handle}", secret, cfg.remote_timeout_ms / 1000)


def upstream_identity(cfg: Config) -> SecretKey | PrivateKey:
    text = cfg.upstream_identity or ""
    index, sep, handle = text.partition(":")
    if not sep or not index.isdigit() or "/" not in handle:
        raise SystemExit(f"idnode: --upstream-identity must look like 300:0.NA/88.101, not {text!r}")
    if cfg.upstream_key:
        return PrivateKey(int(index), handle, load_private(Path(cfg.upstream_key)))
    if not cfg.upstream_secret:
        raise SystemExit("idnode: --upstream needs --upstream-secret or --upstream-key")
    return SecretKey(int(index), handle, cfg.upstream_secret.encode())


@dataclass(frozen=True)
class Links:
    """What the service is given to reach other nodes: the remote resolver (over ``peers``) and the
    client for traces of parts served elsewhere (service/trace_federated.py)."""

    peers: Peers
    remote: RemoteResolver
    traces: TraceClient


def links(cfg: Config, store: Store) -> Links:
    """Built before the service, which is given ``remote`` and ``traces``."""
    peers = Peers(cfg.remote_timeout_ms / 1000)
    remote = RemoteResolver(peers, [(u.host, u.port) for u in upstreams_of(cfg)],
                            local_sites=partial(local_sites, store), cache_ttl=cfg.remote_cache_ttl,
                            max_entries=cfg.cache_entries)
    return Links(peers, remote, TraceClient())


class Federation:
    """What one serving process runs: the remote resolver always; the outbox and reports in one process."""

    def __init__(self, svc: Service, cfg: Config, links: Links, site: bytes, *, deliver: bool):
        self.svc = svc
        self.peers = links.peers
        ups = upstreams_of(cfg)
        self.sync: FederationSync | None = None
        if ups and deliver:
            ident = upstream_identity(cfg)
            deliverer = Deliverer(self.peers, ident, svc.require_initialised(), site)
            deliverer.reports = report_delivery(cfg, ups, ident)
            self.sync = FederationSync(svc, ups, deliverer,
                                       stats_interval=cfg.stats_interval, identity=f"{ident.index}:{ident.handle}")
        elif ups:
            upstream_identity(cfg)  # a worker that does not deliver still refuses a bad configuration
        self._flusher: asyncio.Task | None = None
        self._flush = bool(ups) and not deliver

    async def start(self) -> None:
        if self.sync is not None:
            await self.sync.start()
        if self._flush:  # other workers hand their resolution counts to the one that reports
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            await flush_resolutions(self.svc)

    async def stop(self) -> None:
        if self.sync is not None:
            await self.sync.stop()
            if self.sync.deliverer.reports is not None:
                await self.sync.deliverer.reports.close()
        if self._flusher is not None:
            self._flusher.cancel()
        await flush_resolutions(self.svc)
        if self.svc.traces is not None:
            await self.svc.traces.close()
        self.peers.close()


def wanted(cfg: Config) -> bool:
    return cfg.role == "top" or bool(cfg.upstream)


async def forget_upstreams(svc: Service) -> None:
    """Serving without upstreams: stop queueing work for them. What already waits stays in the outbox
    (a restart that forgot its flags must not lose it); naming them again re-syncs everything."""
    with svc.store.read() as tx:
        if not tx.get_meta(FEDERATION_META):
            return

    await svc.write(lambda tx: tx.delete_meta(FEDERATION_META))
