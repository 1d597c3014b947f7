"""What operators watch over HTTP: ``/metrics``, ``/healthz``, ``/readyz``, and request counting.

Every route's answers are counted by operation and status and timed (``metrics.record``: a dict
look-up and a few additions); ``count_routes`` wraps the handlers once all routes are added.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from .. import metrics
from ..metrics import PROTOCOL_HTTP, Metrics
from ..service.federation import outbox_status
from .common import SERVICE, error_response, json_response

log = logging.getLogger("idnode.http")

METRICS = web.AppKey("metrics", Metrics)
DRAINING = web.AppKey("draining", list)  # [bool]: set once the node stops taking new work
FEDERATION = web.AppKey("federation", object)  # assembly.federation.Federation, when the node federates

# (method, route) -> operation; the names the Handle protocol's opcodes use where they mean the same.
OPERATIONS = {
    ("GET", "/api/handles/{handle}"): "resolve",
    ("PUT", "/api/handles/{handle}"): "register",
    ("DELETE", "/api/handles/{handle}"): "delete",
    ("GET", "/api/handles"): "list",
    ("POST", "/api/batch"): "batch",
    ("POST", "/"): "handle_message",
    ("GET", "/{handle}"): "resolve_page",
    ("GET", "/scan"): "scan",
    ("GET", "/{ai}/{rest}"): "digital_link",  # resolver/http/digitallink.py
    ("OPTIONS", "/{ai}/{rest}"): "digital_link",
    ("GET", "/.well-known/gs1resolver"): "digital_link",
    ("GET", "/{compressed}"): "digital_link",  # a compressed Digital Link
    ("OPTIONS", "/{compressed}"): "digital_link",
    ("POST", "/scan"): "scan",
    ("GET", "/metrics"): "metrics",
    ("GET", "/healthz"): "health",
    ("GET", "/readyz"): "health",
    ("GET", "/openapi.json"): "openapi",
    ("POST", "/api/token"): "token",
    ("DELETE", "/api/token"): "token",
    ("GET", "/api/audit"): "audit",
}
OTHER = "other"
UNLIMITED = frozenset({"health", "metrics"})  # probes and scrapes are never rate limited
# The classic text format, which every Prometheus reads (prometheus-client's "latest" names a newer one).
EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def operation(method: str, path: str) -> str:
    if method == "HEAD":
        method = "GET"
    op = OPERATIONS.get((method, path))
    if op is not None:
        return op
    if path.startswith("/api/prefixes"):
        return "prefix"
    if path.startswith("/api/templates"):
        return "template"
    if path.startswith(("/capture", "/api/events")) and method == "POST":
        return "capture"
    if path.startswith(("/events", "/epcs", "/capture")):
        return "events"
    if path.startswith(("/api/trace", "/trace")):
        return "trace"
    if path.startswith(("/identity/", "/identityv2/", "/snms/")):
        return "snms"  # the SNMS-compatible API (http/snms.py): its refusals are HTTP 200, status in the body
    return OTHER


def counted(op: str, handler: Handler) -> Handler:
    """``handler``, counting each answer by operation and status and timing it."""
    perf = time.perf_counter
    record = metrics.record
    limited = op not in UNLIMITED

    async def counting(request: web.Request) -> web.StreamResponse:
        t0 = perf()
        svc = request.app.get(SERVICE) if limited else None
        if svc is not None:
            limits = svc.limits
            if not limits.per_address.admit(request.remote, t0):
                resp = error_response(limits.address_refusal(request.remote))
                record((PROTOCOL_HTTP, op, resp.status), perf() - t0)
                return resp
        try:
            resp = await handler(request)
        except web.HTTPException as e:
            record((PROTOCOL_HTTP, op, e.status), perf() - t0)
            raise
        except Exception:
            record((PROTOCOL_HTTP, op, 500), perf() - t0)
            return failed(request, op)
        record((PROTOCOL_HTTP, op, resp.status), perf() - t0)
        return resp

    counting.__name__ = getattr(handler, "__name__", "handler")
    counting.__doc__ = handler.__doc__
    return counting


def failed(request: web.Request, op: str) -> web.Response:
    """A bug, not the caller's fault: log it with a request id, and answer 500 naming that id."""
    rid = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    log.exception("request failed", extra={"request_id": rid, "method": request.method, "path": request.path,
                                           "operation": op})
    resp = json_response({"responseCode": 2, "message": f"internal error (request id {rid})"}, 500)
    resp.headers["X-Request-Id"] = rid
    return resp


def count_routes(app: web.Application) -> None:
    """Count every route's answers: the HTTP adapter's choke point.

    Not a middleware: aiohttp's middleware chain costs about 2 µs a request, 7% of a resolution.
    Each route's handler is wrapped instead, once, when the routes are all added; a handler that
    counts itself (the resolution hot path, ``counts_itself``) is left as it is.
    """
    for route in app.router.routes():
        if getattr(route.handler, "counts_itself", False) or getattr(route.handler, "__wrapped_by_count__", False):
            continue
        canonical = route.resource.canonical if route.resource is not None else ""
        wrapped = counted(operation(route.method, canonical), route.handler)
        wrapped.__wrapped_by_count__ = True  # type: ignore[attr-defined]
        route._handler = wrapped  # aiohttp keeps the handler here; there is no public setter


async def metrics_page(request: web.Request) -> web.Response:
    m = request.app.get(METRICS)
    if m is None:
        raise web.HTTPNotFound(text="metrics are not enabled in this process")
    resp = web.Response(body=m.exposition())
    resp.headers["Content-Type"] = EXPOSITION_TYPE
    return resp


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers. ``pid`` tells which worker did."""
    return json_response({"status": "ok", "pid": os.getpid()})


async def readyz(request: web.Request) -> web.Response:
    """Ready for traffic: storage open and readable, and not draining (and how the upstreams fare)."""
    if request.app.get(DRAINING, [False])[0]:
        return json_response({"status": "draining", "pid": os.getpid()}, 503)
    try:
        with request.app[SERVICE].store.read() as tx:
            tx.get_meta("node_prefix")
            fed = outbox_status(tx, time.time()) if FEDERATION in request.app else None
    except Exception as e:
        return json_response({"status": "storage unavailable", "error": str(e), "pid": os.getpid()}, 503)
    body: dict = {"status": "ready", "pid": os.getpid()}
    if fed is not None and fed["configured"]:
        # Reported, not gating: with its top-level nodes down a node still serves its own identifiers,
        # so taking it out of rotation would only make things worse.
        body["upstreams"] = [{"upstream": u["upstream"], "waiting": u["waiting"],
                              "ok": not u["failing"]}
                             for u in fed["upstreams"]]
    return json_response(body)


def add_routes(app: web.Application) -> None:
    app[DRAINING] = [False]
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
