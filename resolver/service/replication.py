"""Replication, the service's side: the change log and snapshots a primary hands its mirrors, and the
refusal of writes on a mirror (a referral to its primary)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from protocol.codes import RC, HandleError
from protocol.refusals import Conflict
from storage.backup import DATA_FILE, copy_snapshot

from ..credentials import Identity

if TYPE_CHECKING:
    from . import Service

MIRROR_META = "mirror_of"  # the primary's URL, while this store is a mirror's
MAX_CHANGES = 10_000
MAX_SEQ = (1 << 63) - 2  # change-log keys are u64; after+1 must fit, and a signed reader too


class ReplicationOps:
    """The change log and snapshots for mirrors; promoting a mirror."""

    def __init__(self, svc: Service):
        self.svc = svc

    def changes_after(self, after: int, limit: int, identity: Identity | None) -> tuple[list, int]:
        """Change-log entries after ``after`` (at most ``limit``), and the last sequence there is."""
        self.svc.require_node_admin(identity, "read the change log")
        if not 0 <= after <= MAX_SEQ:
            raise HandleError(RC.INVALID_VALUE, f"after must be a sequence number from 0 to {MAX_SEQ}", field="after")
        if not 0 < limit <= MAX_CHANGES:
            raise HandleError(RC.INVALID_VALUE, f"limit must be 1…{MAX_CHANGES}", field="limit")
        with self.svc.store.read() as tx:
            return [[seq, *entry] for seq, entry in tx.changes(after, limit)], tx.last_seq()

    def make_snapshot(self, folder: Path, identity: Identity | None) -> Path:
        """A consistent, compacted copy of the store (``folder/data.mdb``), for a mirror to start from."""
        self.svc.require_node_admin(identity, "take a snapshot")
        folder.mkdir(parents=True, exist_ok=True)
        copy_snapshot(self.svc.store, folder)
        return folder / DATA_FILE

    def promote(self, identity: Identity | None) -> dict:
        """Stop being a mirror: from now on this node takes writes itself."""
        self.svc.require_node_admin(identity, "promote this node")
        if self.svc.mirror_of is None:
            raise Conflict(RC.ERROR, "this node is not a mirror")
        from storage.commit import run_group

        [(ok, err)] = run_group(self.svc.store, [lambda tx: tx.delete_meta(MIRROR_META)])
        if not ok:
            raise err
        was, self.svc.mirror_of = self.svc.mirror_of, None
        return {"promoted": True, "was_mirror_of": was}
