"""The aiohttp application factory."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ..service import Service
from ..version import node_version
from . import (
    admin,
    digitallink,
    events,
    handles,
    lockouts,
    monitoring,
    replication,
    scan,
    snms,
    tokens,
    trace,
)
from . import escrow as escrow_http
from . import reports as reports_http
from .common import SERVICE, SETTINGS, json_response
from .console import web as console
from .openapi import document

DEFAULT_MAX_BODY = 32 * 1024 * 1024


def create_app(service: Service, settings: dict | None = None, *,
               handle_tunnel: Callable[[web.Application], None] | None = None) -> web.Application:
    """``handle_tunnel`` adds the Handle protocol over HTTP (resolver/tunnel.py: the node passes it in, so
    that this package never imports the Handle adapter); without it POST / is not a Handle endpoint."""
    settings = dict(settings or {})
    app = web.Application(client_max_size=settings.get("max_body_bytes", DEFAULT_MAX_BODY))
    app[SERVICE] = service
    app[SETTINGS] = settings
    spec = document(node_version())

    async def openapi(request: web.Request) -> web.Response:
        return json_response(spec)

    monitoring.add_routes(app)  # /healthz, /readyz, /metrics
    app.router.add_get("/openapi.json", openapi)
    handles.add_routes(app)
    admin.add_routes(app)
    replication.add_routes(app)
    tokens.add_routes(app)  # /api/token
    lockouts.add_routes(app)  # DELETE /api/lockouts
    events.add_routes(app)
    trace.add_routes(app)
    snms.add_routes(app)  # the SNMS-compatible API: /identity/token, /snms/api/…, /identityv2/…
    if handle_tunnel is not None:
        handle_tunnel(app)  # POST / with application/x-hdl-message: the Handle protocol
    digitallink.add_routes(app)  # /01/…, /00/…, /414/…: before the catch-all below
    reports_http.add_routes(app)  # /api/reports on a top-level node (resolver/reports)
    escrow_http.add_routes(app)  # /api/escrow on a top-level node (resolver/escrow)
    console.add_routes(app)  # /console/: the web console (resolver/http/console); GET / leads there
    scan.add_routes(app)  # last: its catch-all route takes every other path as a handle
    monitoring.count_routes(app)  # after every route: each one's answers are counted
    return app
