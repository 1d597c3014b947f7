"""Telling the upstream top-level nodes about this node: what each outbox entry becomes on the wire.

Every operation is idempotent, so an entry delivered twice (the answer lost, the node killed before
it moved its cursor) leaves the upstream as delivering it once would:

- ``site``: this node's HS_SITE at index 1 of its own delegation ``0.NA/<node prefix>`` (modify,
  or add when absent);
- ``put`` of an enabled prefix: create-or-replace ``0.NA/<prefix>`` with our HS_SITE and an HS_ADMIN
  naming our identity there; of a disabled prefix: the same without the site, so it stops resolving;
- ``delete``: remove ``0.NA/<prefix>`` ("not found" counts as done);
- ``stats``: the report at index 2 of ``0.NA/<node prefix>``, readable by administrators only;
- ``report``: a table or event of resolver/reports, over HTTP (resolver/reports/delivery.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from protocol import admin as adm
from protocol import bodies as b
from protocol.admin import AdminRef
from protocol.codes import RC, HandleError
from protocol.envelope import OVRW, Op
from protocol.handles import na_handle
from protocol.values import ADMIN_READ, ADMIN_WRITE, HS_ADMIN, HS_SITE, HandleValue

from ..handleclient import Identity
from .peer import Peers

SITE_INDEX = 1
STATS_INDEX = 2
ADMIN_INDEX = 100
STATS_TYPE = "IDNODE_STATS"
DESC = "DESC"


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int

    @property
    def name(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class UpstreamRefused(HandleError):
    """The upstream answered, and said no: retried all the same (the operator may fix it there)."""


class Deliverer:
    def __init__(self, peers: Peers, identity: Identity, node_prefix: str, site: bytes):
        self.peers = peers
        self.identity = identity
        self.node_prefix = node_prefix
        self.site = site
        self.reports = None  # resolver.reports.delivery.ReportDelivery: reports go over HTTP

    def _admin(self) -> HandleValue:
        ref = AdminRef(self.identity.handle, self.identity.index, adm.ALL)
        return HandleValue(ADMIN_INDEX, HS_ADMIN, ref.to_wire())

    def _site(self) -> HandleValue:
        return HandleValue(SITE_INDEX, HS_SITE, self.site)

    async def deliver(self, up: Upstream, entry: dict) -> None:
        op = entry.get("op")
        if op == "site":
            await self._set_value(up, na_handle(self.node_prefix), self._site())
        elif op == "put":
            prefix = entry["prefix"]
            values = [self._site(), self._admin()] if entry.get("state") == "enabled" else [
                HandleValue(STATS_INDEX, DESC, f"disabled on the node serving {self.node_prefix}".encode()),
                self._admin()]
            await self._expect(up, Op.CREATE_HANDLE, b.CreateHandleRequest(na_handle(prefix), tuple(values)), OVRW)
        elif op == "delete":
            await self._expect(up, Op.DELETE_HANDLE, b.HandleRequest(na_handle(entry["prefix"])),
                               ok=(RC.SUCCESS, RC.HANDLE_NOT_FOUND))
        elif op == "stats":
            data = orjson.dumps(entry["report"])
            value = HandleValue(STATS_INDEX, STATS_TYPE, data, permissions=ADMIN_READ | ADMIN_WRITE)
            await self._set_value(up, na_handle(self.node_prefix), value)
        elif op == "report":  # resolver/reports: tables and events, over the upstream's HTTP API
            if self.reports is None:
                raise HandleError(RC.ERROR, "reports are queued but no --upstream-http is configured")
            await self.reports.deliver(up.name, entry)
        else:
            raise HandleError(RC.ERROR, f"outbox entry of unknown kind {op!r}")

    async def _set_value(self, up: Upstream, handle: str, value: HandleValue) -> None:
        ans = await self.peers.call(up.host, up.port, Op.MODIFY_VALUE, b.ModifyValueRequest(handle, (value,)),
                                    self.identity)
        if ans.rc == RC.VALUES_NOT_FOUND:
            await self._expect(up, Op.ADD_VALUE, b.AddValueRequest(handle, (value,)))
        elif ans.rc != RC.SUCCESS:
            raise _refused(up, handle, ans)

    async def _expect(self, up: Upstream, opcode: int, body: b.Body, opflags: int = 0,
                      ok: tuple[int, ...] = (RC.SUCCESS,)) -> None:
        ans = await self.peers.call(up.host, up.port, opcode, body, self.identity, opflags)
        if ans.rc not in ok:
            raise _refused(up, getattr(body, "handle", ""), ans)


def _refused(up: Upstream, handle: str, ans) -> UpstreamRefused:
    message = getattr(ans.body, "message", "") or ""
    return UpstreamRefused(ans.rc, f"{up.name} refused {handle}: response code {ans.rc} {message}".rstrip())
