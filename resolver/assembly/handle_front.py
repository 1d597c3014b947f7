"""Wiring the Handle protocol into a running node: key pair, site, dispatcher, listeners."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ..handle.dispatch import Dispatcher
from ..handle.listeners import HandleListeners
from ..handle.siteinfo import multi_site, node_site, parse_site_server
from ..keys.certify import Certifier
from ..keys.keyfiles import hs_pubkey, load_or_create_node_key
from ..keys.sealed import Sealer
from ..service import Service
from ..tunnel import DISPATCHER

HANDLE_PORT = 2641


def handle_front(svc: Service, app: web.Application, data_dir: Path, handle: tuple[str, int] | None,
                 http: tuple[str, int], *, reuse_port: bool = False, serve_na: bool = False,
                 advertise: str | None = None, site_servers: list[str] | None = None,
                 server_number: int = 0) -> HandleListeners | None:
    """Give ``app`` the HTTP fallback, and return the UDP/TCP listeners to start (None when the
    node was not asked to listen for the Handle protocol)."""
    key = load_or_create_node_key(data_dir)
    host, port = handle if handle is not None else http
    if site_servers:
        servers = [parse_site_server(t) for t in site_servers]
        site = multi_site(servers, server_number, hs_pubkey(key))
    else:
        site = node_site(advertise or host, handle[1] if handle else None, http[1], hs_pubkey(key))
    # A top-level node answers for prefix handles (0.NA/…); a secondary leaves them to the top level.
    dispatcher = Dispatcher(svc, site.to_wire(), sealer=Sealer.for_data(data_dir), serve_na=serve_na,
                            certifier=Certifier(key))
    app[DISPATCHER] = dispatcher
    return HandleListeners(dispatcher, *handle, reuse_port=reuse_port) if handle is not None else None
