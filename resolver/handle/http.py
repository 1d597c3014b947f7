"""Handle messages over HTTP: ``POST /`` with ``Content-Type: application/x-hdl-message``, the
transport Handle clients fall back to when a firewall blocks UDP and TCP 2641. Same dispatcher."""

from __future__ import annotations

from aiohttp import web

from protocol.codes import HandleError

from .. import audit
from ..http.common import read_within
from .dispatch import Dispatcher

CONTENT_TYPE = "application/x-hdl-message"
DISPATCHER = web.AppKey("handle_dispatcher", Dispatcher)


async def post_message(request: web.Request) -> web.Response:
    dispatcher = request.app.get(DISPATCHER)
    if dispatcher is None:
        raise web.HTTPNotFound(text="this node does not speak the Handle protocol over HTTP")
    if request.content_type != CONTENT_TYPE:
        raise web.HTTPUnsupportedMediaType(text=f"POST / takes {CONTENT_TYPE}")
    if request.content_length is not None and request.content_length > dispatcher.max_message + 20:
        raise web.HTTPRequestEntityTooLarge(max_size=dispatcher.max_message + 20, actual_size=request.content_length)
    try:
        data = await read_within(request)
    except HandleError as e:
        raise web.HTTPRequestTimeout(text=e.message) from None
    with audit.attempt("https-handle" if request.secure else "http-handle", request.remote, mutating=False):
        # A challenge this opens may be answered from this client address only.
        out = await dispatcher.answer(data, owner=("http", request.remote), address=request.remote)
    if out is None:
        raise web.HTTPBadRequest(text="not a Handle request")
    return web.Response(body=out, content_type=CONTENT_TYPE)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/", post_message)
