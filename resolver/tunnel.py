"""Handle messages over HTTP: a POST of ``Content-Type: application/x-hdl-message``, the transport
Handle clients fall back to when a firewall blocks UDP and TCP 2641. Same dispatcher.

Handle.Net's client posts to ``/`` followed by the URL-encoded handle (``POST /88.101.5%2FX``;
``POST /%2F`` for site info), and its proxy takes the message type on any path: so does this node,
ahead of its routes (a middleware), so that no page route answers such a POST. The answer to that
content type is always a Handle message, errors included (RC 2 or 1 in a Handle error message, with
the HTTP status of the problem): Handle.Net's client reads any body as a message, and would take an
HTML page's first bytes for a message length.
"""

from __future__ import annotations

import time

from aiohttp import web

from protocol.codes import RC, HandleError
from protocol.message import MessageError, encode, error_for_undecodable

from .audit_trail import Caller
from .handle.dispatch import Dispatcher
from .http.common import read_within

CONTENT_TYPE = "application/x-hdl-message"
DISPATCHER = web.AppKey("handle_dispatcher", Dispatcher)


def _hdl_error(status: int, rc: int, message: str) -> web.Response:
    body = encode(error_for_undecodable(MessageError(rc, message)))
    return web.Response(status=status, body=body, content_type=CONTENT_TYPE)


async def post_message(request: web.Request) -> web.Response:
    dispatcher = request.app.get(DISPATCHER)
    if request.content_type != CONTENT_TYPE:
        raise web.HTTPUnsupportedMediaType(text=f"POST / takes {CONTENT_TYPE}")
    if dispatcher is None:
        return _hdl_error(404, RC.OPERATION_NOT_SUPPORTED, "this node does not speak the Handle protocol over HTTP")
    if request.content_length is not None and request.content_length > dispatcher.max_message + 20:
        return _hdl_error(413, RC.PROTOCOL_ERROR, f"a Handle message over HTTP is at most {dispatcher.max_message + 20} bytes")
    try:
        data = await read_within(request)
    except HandleError as e:
        return _hdl_error(408, RC.PROTOCOL_ERROR, e.message)
    caller = Caller("https-handle" if request.secure else "http-handle", request.remote)
    # A challenge this opens may be answered from this client address only.
    out = await dispatcher.answer(data, owner=("http", request.remote), peer=request.remote, now=time.time(),
                                  caller=caller)
    if out is None:
        return _hdl_error(400, RC.PROTOCOL_ERROR, "not a Handle request")
    return web.Response(body=out.data, content_type=CONTENT_TYPE)


@web.middleware
async def any_path(request: web.Request, handler):
    """A Handle message posted to any path goes to the dispatcher, whatever route the path matches."""
    if request.method == "POST" and request.content_type == CONTENT_TYPE:
        return await post_message(request)
    return await handler(request)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/", post_message)
    app.middlewares.append(any_path)
