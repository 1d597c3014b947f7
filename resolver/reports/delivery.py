"""Delivering a report from the outbox to a top-level node: ``PUT /api/reports/{node}/{kind}/{key}``
on its HTTP API, authenticated as this node's upstream identity (HTTP Basic with its secret).

Idempotent: a report delivered twice replaces itself. An upstream with no HTTP address configured
cannot take reports; its entries are passed over (with a warning) rather than holding up the prefix
registrations queued behind them.
"""

from __future__ import annotations

import base64
import logging
import urllib.parse

import aiohttp
import orjson

from protocol.codes import RC, HandleError

from ..federation.peer import PeerError

log = logging.getLogger("idnode.reports")


def report_path(node: str, kind: str, key: str) -> str:
    q = urllib.parse.quote
    return f"/api/reports/{q(node, safe='')}/{q(kind, safe='')}/{q(key, safe='')}"


class ReportDelivery:
    def __init__(self, http_of: dict[str, str], identity: str, secret: str | None, timeout: float):
        self.http_of = {name: url.rstrip("/") for name, url in http_of.items()}
        auth = f"{urllib.parse.quote(identity, safe='/')}:{secret or ''}"
        self.headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode(),
                        "Content-Type": "application/json"}
        self.secret = secret
        self.timeout = aiohttp.ClientTimeout(total=max(timeout * 5, 10.0))
        self._session: aiohttp.ClientSession | None = None
        self._warned: set[str] = set()

    async def deliver(self, upstream_name: str, entry: dict) -> None:
        base = self.http_of.get(upstream_name)
        if base is None:
            if upstream_name not in self._warned:
                self._warned.add(upstream_name)
                log.warning("reports: %s has no HTTP address (--upstream-http): its reports are passed over",
                            upstream_name)
            return
        if not self.secret:
            raise HandleError(RC.AUTHENTICATION_NEEDED, "reports need --upstream-secret (HTTP Basic at the top-level "
                              "node)")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        url = base + report_path(entry["node"], entry["kind"], entry["key"])
        try:
            async with self._session.put(url, data=orjson.dumps(entry["report"]), headers=self.headers) as r:
                if r.status in (200, 201):
                    return
                text = (await r.text())[:300]
        except (aiohttp.ClientError, TimeoutError) as e:
            raise PeerError(f"{base}: {e or type(e).__name__}") from None
        raise HandleError(RC.ERROR, f"{base} refused the {entry['kind']} report {entry['key']}: HTTP {r.status} {text}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
