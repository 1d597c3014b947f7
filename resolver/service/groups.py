"""Admin groups: an HS_ADMIN value that names an HS_VLIST (RFC 3651 §3.2.5).

An HS_ADMIN value names ``index:handle``. When the value there is an HS_VLIST, every identity the
list names (directly, or through lists it names in turn) administers with that HS_ADMIN's
permissions; this is how Handle.Net lets several people share one admin entry. The lists are read
in the caller's transaction, so removing someone from a list takes effect on the next request.

Lists name each other freely, so the walk is bounded: at most ``MAX_DEPTH`` lists deep, each list
read once per check (a cycle ends there and grants nothing), and at most ``MAX_LISTS`` lists read in
one check, so that a wide tree of lists cannot make one request read thousands of records. Only
lists held on this node count: a permission check never waits for the network.
"""

from __future__ import annotations

from protocol import vlist
from protocol.codes import HandleError
from protocol.handles import MAX_HANDLE_BYTES, fold, key
from protocol.values import HS_VLIST
from storage import Tx

from ..credentials import Identity

MAX_DEPTH = 4
MAX_LISTS = 64


def is_named(tx: Tx, handle: str, index: int, identity: Identity) -> bool:
    """Is ``identity`` the reference ``index:handle``, or named by the HS_VLIST found there?"""
    who = (identity.folded, identity.index)
    if (fold(handle), index) == who:
        return True
    seen: set[tuple[str, int]] = set()
    return _walk(tx, handle, index, who, MAX_DEPTH, seen)


def _walk(tx: Tx, handle: str, index: int, who: tuple[str, int], depth: int, seen: set[tuple[str, int]]) -> bool:
    here = (fold(handle), index)
    if here in seen or len(seen) >= MAX_LISTS:
        return False
    seen.add(here)
    members = _members(tx, handle, index)
    if any((fold(h), i) == who for h, i in members):
        return True
    if depth <= 1:
        return False
    return any(_walk(tx, h, i, who, depth - 1, seen) for h, i in members)


def _members(tx: Tx, handle: str, index: int) -> list[tuple[str, int]]:
    """The references of the HS_VLIST at ``index:handle``; none when there is no such list here."""
    try:
        size = len(key(handle))
    except UnicodeError:
        return []
    if not 0 < size <= MAX_HANDLE_BYTES:  # a stored reference that could name no record
        return []
    rec = tx.get_handle(handle)
    if rec is None:
        return []
    for v in rec.values:
        if v.index == index:
            if v.type != HS_VLIST:
                return []
            try:
                return vlist.from_wire(v.data)
            except HandleError:  # a list that does not decode names nobody
                return []
    return []
