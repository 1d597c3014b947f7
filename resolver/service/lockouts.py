"""Clearing a lock-out (resolver/lockout.py) for every serving worker at once.

Lock-outs live in each worker's memory, so the node admin's clearance is recorded where every worker
(and the CLI on the same data folder) sees it: a meta entry per identity or address holding when it was
cleared, written through the group committer with its audit entry. A worker's guard reads it only when
it is about to refuse, and forgets a lock-out that began before the clearance.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from protocol.codes import RC, HandleError

from ..audit_trail import Attempt, mutation
from ..credentials import Identity, parse_identity
from ..lockout import AuthGuard
from .base import LOCKOUT_CLEARED

if TYPE_CHECKING:
    from . import Service



def lockout_key(who: str | None, address: str | None) -> tuple[str, str]:
    """The guard's key and the normalised name for exactly one of an identity or an address."""
    if (who is None) == (address is None):
        raise HandleError(RC.INVALID_VALUE, "name exactly one of identity (index:handle) or address",
                          field="identity")
    if who is not None:
        try:
            index, handle = parse_identity(who)
        except HandleError:
            raise HandleError(RC.INVALID_VALUE, f"identity {who!r} is not of the form index:prefix/suffix",
                              field="identity") from None
        who = f"{index}:{handle}"
        return AuthGuard.key_of(identity=who), who
    try:
        address = str(ipaddress.ip_address(address))
    except ValueError:
        raise HandleError(RC.INVALID_VALUE, f"address {address!r} is not an IP address", field="address") from None
    return AuthGuard.key_of(address=address), address


class LockoutOps:
    """Clearing a lock-out for every worker."""

    def __init__(self, svc: Service):
        self.svc = svc

    @mutation("clear_lockout", target=0)
    async def clear_lockout(self, att: Attempt, target: str, identity: Identity | None, *, address: bool = False) -> dict:
        """End the lock-out of the identity (or, with ``address``, the client address) ``target`` in every
        worker: failures counted before now no longer refuse it. Node admin only."""
        self.svc.require_node_admin(identity, "clear a lock-out")
        key, name = lockout_key(None if address else target, target if address else None)
        at = self.svc.clock()

        def op(tx) -> None:
            tx.put_meta(LOCKOUT_CLEARED + key, at)

        await self.svc.write(op, attempt=att)
        self.svc.guard.forget(key)
        return {"address" if address else "identity": name, "cleared": True}
