"""Connections per client address over HTTP(S): past the limit, a new connection is answered 429 and
closed before anything is read from it.

aiohttp tells its ``web.Server`` of every connection that opens and closes (``connection_made``,
``connection_lost``, called by each connection's protocol object); ``limit_connections`` wraps those
two on the server a runner made, so the count is kept where aiohttp already looks, with no
per-request cost. The same ``Limits`` counts Handle TCP connections (resolver/handle/listeners.py).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..limits import Limits

_REFUSAL = (b'{"responseCode":3,"message":"too many connections from this address; close some and retry"}')
TOO_MANY = (b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(_REFUSAL)).encode() + b"\r\n\r\n" + _REFUSAL)


def limit_connections(server: web.Server, limits: Limits) -> None:
    made, lost = server.connection_made, server.connection_lost
    counted: dict[object, str | None] = {}  # the connections counted, and their address

    def connection_made(handler: object, transport: asyncio.Transport) -> None:
        made(handler, transport)
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else None
        if limits.connect(address):
            counted[handler] = address
        else:
            transport.write(TOO_MANY)
            transport.close()

    def connection_lost(handler: object, exc: BaseException | None = None) -> None:
        if handler in counted:
            limits.disconnect(counted.pop(handler))
        lost(handler, exc)

    # Instance attributes: the handlers call ``server.connection_made(...)`` and find these first.
    server.connection_made = connection_made  # type: ignore[method-assign]
    server.connection_lost = connection_lost  # type: ignore[method-assign]
