"""The service's side of federation: referrals on a top-level node, remote resolution on any node,
and the outbox entries that tell the upstream top-level nodes about this node's prefixes."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from protocol.codes import RC, HandleError
from protocol.handles import ancestors, fold, na_handle, strip_scheme
from protocol.refusals import Moved
from protocol.site import Site, server_number
from protocol.values import HS_SITE, HandleValue
from storage import Tx

from ..credentials import Identity
from ..federation.remote import RemoteAnswer, local_sites, site_values  # noqa: F401 - local_sites is read here
from ..federation.state import FEDERATION_META, health_key  # noqa: F401 - the names other modules read here

if TYPE_CHECKING:
    from . import Service


class Referral(HandleError):
    """This node knows the site that serves a handle (a top-level node's ``0.NA/<prefix>`` record)."""

    def __init__(self, handle: str, na: str, values: list[HandleValue]):
        super().__init__(RC.SERVICE_REFERRAL, f"{handle} is served elsewhere: see {na}", field="handle")
        self.na = na
        self.values = values


class NotHeld(Referral):
    """A handle the site's hash gives to another server of this site (RFC 3652 §3.3): over the Handle
    protocol a referral to the site (the client picks the server). Over HTTP the referral's status, or,
    as ``NotHeldMoved`` (the Moved kind) when that server's HTTP base is known, a redirect there."""

    def __init__(self, handle: str, site_value: HandleValue, server: int, redirect_to: str | None = None):
        # The status is the kind's (protocol/refusals.py): Moved's for NotHeldMoved, else the response code's.
        HandleError.__init__(self, RC.SERVICE_REFERRAL, f"{handle} is held by server {server} of this site"
                             + (f" ({redirect_to})" if redirect_to else ""), field="handle",
                             status=getattr(self, "STATUS", None))
        self.na = ""
        self.values = [site_value]
        self.redirect_to = redirect_to


class NotHeldMoved(Moved, NotHeld):
    """NotHeld where the server that holds the handle has a known HTTP base (``redirect_to``)."""

    __init__ = NotHeld.__init__


def not_held(handle: str, site_value: HandleValue, server: int, redirect_to: str | None) -> NotHeld:
    return (NotHeldMoved if redirect_to else NotHeld)(handle, site_value, server, redirect_to)


class Share:
    """This server's place in a site of several: the site, its number there, the others' HTTP bases."""

    def __init__(self, site: Site, number: int, http_bases: list[str | None]):
        self.site = site
        self.number = number
        self.http_bases = http_bases
        self.value = HandleValue(1, HS_SITE, site.to_wire())

    def check(self, handle: str) -> None:
        if fold(handle.partition("/")[0]) == "0.na":
            return  # prefix records (identities) are on every server of the site
        n = server_number(handle, self.site.hash_option, len(self.site.servers))
        if n != self.number:
            raise not_held(handle, self.value, n + 1, self.http_bases[n])


class FederationOps:
    """Resolution anywhere, delegations on a top-level node, and what the upstreams must hear."""

    def __init__(self, svc: Service):
        self.svc = svc

    # --- top-level node: delegations ---------------------------------------------------------------------
    def delegation(self, tx: Tx, prefix: str) -> tuple[str, list[HandleValue]] | None:
        """The nearest ``0.NA`` record at or above ``prefix`` (below this node's own) that names a site."""
        node = self.svc.node_prefix
        for p in ancestors(prefix):
            if node is not None and fold(p) == fold(node):
                break
            rec = tx.get_handle(na_handle(p))
            if rec is not None:
                found = site_values(rec.values)
                if found:
                    return na_handle(p), found
        return None

    # --- resolution anywhere --------------------------------------------------------------------------
    async def resolve_anywhere(self, handle: str, *, indexes: set[int] | None = None,
                               types: list[str] | None = None, identity: Identity | None = None,
                               client: str | None = None, t0: float = 0.0, recurse: bool = True):
        """The one resolve-or-recurse path (HTTP, the scanner page, the Handle protocol's recursive
        resolution): ``resolve`` here, and for a handle served elsewhere (when ``recurse`` and the node
        has a remote resolver), the answer of the site that serves it. Anything else ``resolve`` refuses
        (a referral to another server of this site included) is raised as it is."""
        try:
            return self.svc.handles.resolve(handle, indexes=indexes, types=types, identity=identity, client=client,
                                            t0=t0)
        except HandleError as e:
            if not (recurse and self.served_elsewhere(e)):
                raise
        return await self.resolve_remote(handle, indexes=indexes, types=types)

    def served_elsewhere(self, err: HandleError) -> bool:
        """Is ``err`` (from ``resolve``) one that asking the site serving the handle would answer? Not for
        a handle another server of this very site holds: the caller is told where instead."""
        return (self.svc.remote is not None and err.rc in (RC.SERVER_NOT_RESPONSIBLE, RC.SERVICE_REFERRAL)
                and not isinstance(err, NotHeld))

    async def resolve_remote(self, handle: str, *, indexes: set[int] | None = None, types: list[str] | None = None):
        """The answer of the site that serves ``handle`` (after ``resolve`` said it is not here)."""
        handle = strip_scheme(handle)
        return RemoteAnswer(handle, await self.svc.remote.fetch(handle), indexes, types)

    # --- secondary node: what the upstream must hear ---------------------------------------------------
    def tell_upstream(self, tx: Tx, entry: dict, now: int) -> None:
        """Queue ``entry`` for the upstream top-level nodes, in this transaction (when there are any)."""
        if tx.get_meta(FEDERATION_META):
            tx.outbox_put({**entry, "at": now})

    def federation_status(self, identity: Identity | None) -> dict:
        """The outbox and each upstream's health (``idnode federation status``, ``GET /api/federation``)."""
        self.svc.require_node_admin(identity, "read the federation status")
        with self.svc.store.read() as tx:
            out = {"role": self.svc.role, **outbox_status(tx, time.time())}
        if self.svc.remote is not None:
            out["remote"] = {**self.svc.remote.counts, "cachedAnswers": len(self.svc.remote.answers)}
        return out


def outbox_status(tx: Tx, now: float) -> dict:
    """What waits for the upstreams, and how each of them is doing (read from the store, so every
    worker and the CLI see the same)."""
    conf = tx.get_meta(FEDERATION_META) or {}
    total, oldest = tx.outbox_depth(0)
    ups = []
    for name in conf.get("upstreams", []):
        cursor = tx.outbox_cursor(name) or 0
        depth, first = tx.outbox_depth(cursor)
        health = tx.get_meta(health_key(name)) or {}
        ups.append({"upstream": name, "acknowledged": cursor, "waiting": depth, "oldestAge": _age(now, first),
                    "lastOk": health.get("ok_at"), "lastError": health.get("error"),
                    "lastErrorAt": health.get("error_at"),
                    # A delivery clears the error, so an error kept means the last attempt failed.
                    "failing": health.get("error") is not None})
    return {"configured": bool(conf), "identity": conf.get("identity"), "queued": tx.outbox_last(),
            "outbox": {"entries": total, "oldestAge": _age(now, oldest)}, "upstreams": ups}


def _age(now: float, then: float | None) -> float | None:
    return None if then is None else round(max(0.0, now - then), 3)
