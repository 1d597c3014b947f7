"""Asking another node for an item's trace: find the node serving a handle's prefix through the
top-level nodes (its HS_SITE's HTTP interface), then ``GET /api/trace/…`` there.

Every failure is a ``TraceUnreachable`` with a reason a person can act on (which node, what went
wrong): a federated trace reports it beside the rest of the answer instead of failing.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import aiohttp
import orjson

from protocol.codes import HandleError
from protocol.handles import split
from protocol.site import http_base, http_interface

from .remote import RemoteResolver

MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a trace is bounded by its limits; a peer sending more is broken


class TraceUnreachable(Exception):
    """A part's trace could not be had: ``node`` is where it was asked (None when no node was found)."""

    def __init__(self, node: str | None, reason: str):
        super().__init__(reason)
        self.node = node
        self.reason = reason


async def node_for(remote: RemoteResolver, handle: str) -> str:
    """The base URL (``http://address:port``) of the node whose site serves ``handle``."""
    try:
        prefix, _ = split(handle)
        sites = await remote.sites_for(prefix, [0])
    except HandleError as e:
        raise TraceUnreachable(None, f"no node found for {handle}: {e.message}") from None
    for site in sites:
        server = site.server_for(handle)
        iface = http_interface(server)
        if iface is not None:
            return http_base(server, iface)
    raise TraceUnreachable(None, f"the site serving {handle} offers no HTTP interface to ask for its trace")


class TraceClient:
    """One HTTP connection pool per process for asking other nodes; opened on first use (inside the
    event loop, where aiohttp wants it)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, limit_per_host=16),
                headers={"Accept": "application/json"})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def trace(self, base: str, identifier: str, params: dict[str, str], timeout: float) -> dict:
        """``GET base/api/trace/identifier`` within ``timeout`` seconds: the answer, or TraceUnreachable."""
        url = f"{base}/api/trace/{quote(identifier, safe='/:')}"
        try:
            async with asyncio.timeout(timeout):
                async with self._open().get(url, params=params, allow_redirects=False) as resp:
                    raw = await resp.content.read(MAX_ANSWER_BYTES + 1)
                    status = resp.status
        except TimeoutError:
            raise TraceUnreachable(base, f"no answer within {timeout * 1000:.0f} ms (the trace's time budget)") from None
        except aiohttp.ClientError as e:
            raise TraceUnreachable(base, f"could not ask {base}: {e}") from None
        except OSError as e:
            raise TraceUnreachable(base, f"could not ask {base}: {e.strerror or e}") from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise TraceUnreachable(base, f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise TraceUnreachable(base, f"answered HTTP {status} with a body that is not JSON") from None
        if status != 200 or not isinstance(body, dict):
            message = body.get("message") if isinstance(body, dict) else None
            raise TraceUnreachable(base, f"answered HTTP {status}" + (f": {message}" if message else ""))
        if not all(isinstance(body.get(k), list) for k in ("timeline", "upstream", "downstream")):
            raise TraceUnreachable(base, "the answer is not a trace (timeline, upstream, downstream missing)")
        return body
