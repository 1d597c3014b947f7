"""Which enterprise an identity acts for, and whether that enterprise may still write.

An identity belongs to the prefix it names: ``300:0.NA/88.101.5`` (the enterprise's admin) and
``300:88.101.5/ALICE`` (one of its members) both act for ``88.101.5``, or for the allocated prefix that
``88.101.5`` lies under. A disabled prefix refuses every write of its identities, on every route
(handles, batches, templates, events, tokens), and ends the tokens they hold.
"""

from __future__ import annotations

from protocol.codes import RC, HandleError
from protocol.handles import ancestors, fold
from storage import Tx

from ..credentials import Identity


def scope_of(identity: Identity | str) -> str:
    """The prefix an identity places it under: ``88.101.5`` for both ``300:0.NA/88.101.5`` and
    ``300:88.101.5/X`` (an Identity, or its text)."""
    handle = identity.handle if isinstance(identity, Identity) else identity.partition(":")[2]
    prefix, _, suffix = handle.partition("/")
    return suffix if fold(prefix) == "0.na" else prefix


def allocated_prefix(tx: Tx, prefix: str) -> dict | None:
    """The allocated prefix record (an enterprise's, or the node's own) that ``prefix`` is or lies under."""
    for p in ancestors(prefix):
        rec = tx.get_prefix(p)
        if rec is not None:
            return rec
    return None


def disabled_prefix_of(tx: Tx, identity: Identity) -> str | None:
    """The disabled prefix ``identity`` acts for, if it is; never for the node admin."""
    if identity.node_admin:
        return None
    rec = allocated_prefix(tx, scope_of(identity))
    if rec is not None and rec.get("state") == "disabled":
        return rec["prefix"]
    return None


def refuse_disabled(tx: Tx, identity: Identity | None, what: str) -> None:
    """Refuse ``what`` to an identity of a disabled prefix (HTTP 403, RC 400)."""
    if identity is None:
        return
    p = disabled_prefix_of(tx, identity)
    if p is not None:
        raise HandleError(RC.NOT_AUTHORIZED, f"prefix {p} is disabled: {identity} may not {what}")
