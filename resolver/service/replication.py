"""Replication, the service's side: the change log and snapshots a primary hands its mirrors, and the
refusal of writes on a mirror (a referral to its primary)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from protocol.codes import RC, HandleError
from protocol.refusals import Conflict, Gone
from storage.backup import DATA_FILE, copy_snapshot

from ..audit_trail import Attempt, mutation
from ..credentials import Identity

if TYPE_CHECKING:
    from . import Service

MIRROR_META = "mirror_of"  # the primary's URL, while this store is a mirror's
MAX_CHANGES = 10_000
MAX_SEQ = (1 << 63) - 2  # change-log keys are u64; after+1 must fit, and a signed reader too
MIRROR_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")  # how a mirror names itself when it asks for changes
ACK_REFRESH = 2  # seconds: an idle mirror's acknowledgement is written again this often (its "seen")


class ReplicationOps:
    """The change log and snapshots for mirrors; promoting a mirror."""

    def __init__(self, svc: Service):
        self.svc = svc

    def changes_after(self, after: int, limit: int, identity: Identity | None,
                      mirror: str | None = None) -> tuple[list, int]:
        """Change-log entries after ``after`` (at most ``limit``), and the last sequence there is.
        ``mirror``: the name of the mirror asking, which has applied everything up to ``after``."""
        svc = self.svc
        svc.require_node_admin(identity, "read the change log")
        if not 0 <= after <= MAX_SEQ:
            raise HandleError(RC.INVALID_VALUE, f"after must be a sequence number from 0 to {MAX_SEQ}", field="after")
        if not 0 < limit <= MAX_CHANGES:
            raise HandleError(RC.INVALID_VALUE, f"limit must be 1…{MAX_CHANGES}", field="limit")
        if mirror is not None and not MIRROR_NAME.fullmatch(mirror):
            raise HandleError(RC.INVALID_VALUE, "mirror must be 1 to 64 letters, digits, '.', '_' or '-'",
                              field="mirror")
        with svc.store.read() as tx:
            if after < (floor := tx.changelog_floor()):  # resolver/changelog_pruning.py
                raise Gone(RC.ERROR, f"the change log was pruned through sequence {floor}: the changes after "
                           f"{after} are gone; re-seed this mirror from a snapshot (restart it: a mirror whose "
                           "position is pruned re-seeds at start)", field="after")
            out = [[seq, *entry] for seq, entry in tx.changes(after, limit)], tx.last_seq()
            ack = tx.mirror_ack(mirror) if mirror is not None else None
        if mirror is not None and (ack is None or ack.get("applied") != after
                                   or svc.now() - ack.get("seen", 0) >= ACK_REFRESH):
            # Not waited for: a lost acknowledgement only keeps more of the log.
            now = svc.now()
            svc.committer.submit(lambda tx: tx.put_mirror_ack(mirror, after, now))
        return out

    def last_sequence(self, identity: Identity | None) -> int:
        """The change log's last sequence (it never goes back, pruned or not)."""
        self.svc.require_node_admin(identity, "read the change log")
        with self.svc.store.read() as tx:
            return tx.last_seq()

    def make_snapshot(self, folder: Path, identity: Identity | None) -> Path:
        """A consistent, compacted copy of the store (``folder/data.mdb``), for a mirror to start from."""
        self.svc.require_node_admin(identity, "take a snapshot")
        folder.mkdir(parents=True, exist_ok=True)
        copy_snapshot(self.svc.store, folder)
        return folder / DATA_FILE

    @mutation("promote")
    async def promote(self, att: Attempt, identity: Identity | None) -> dict:
        """Stop being a mirror: from now on this node takes writes itself."""
        self.svc.require_node_admin(identity, "promote this node")
        if self.svc.mirror_of is None:
            raise Conflict(RC.ERROR, "this node is not a mirror")
        self.svc.committer.apply(lambda tx: tx.delete_meta(MIRROR_META))
        was, self.svc.mirror_of = self.svc.mirror_of, None
        return {"promoted": True, "was_mirror_of": was}
