"""Replication, the service's side: the change log and snapshots a primary hands its mirrors, and the
refusal of writes on a mirror (a referral to its primary)."""

from __future__ import annotations

import re
from pathlib import Path

from protocol.codes import RC, HandleError
from storage.backup import DATA_FILE, copy_snapshot

from ..credentials import Identity
from .base import ServiceBase

MIRROR_META = "mirror_of"  # the primary's URL, while this store is a mirror's
MAX_CHANGES = 10_000
MAX_SEQ = (1 << 63) - 2  # change-log keys are u64; after+1 must fit, and a signed reader too
MIRROR_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")  # how a mirror names itself when it asks for changes
ACK_REFRESH = 2  # seconds: an idle mirror's acknowledgement is written again this often (its "seen")
GONE = 410  # HTTP: the changes asked for were pruned


class ReadOnlyMirror(HandleError):
    """A write sent to a mirror: HTTP answers 307 to the same path on the primary."""

    def __init__(self, primary: str):
        super().__init__(RC.SERVER_BACKUP, f"this node is a read-only mirror of {primary}: send writes there",
                         status=307)
        self.redirect_to = primary  # HTTP answers 307 to the same request there


class ReplicationOps(ServiceBase):
    follower = None  # mirror.Follower, in the worker of a mirror that follows its primary
    def changes_after(self, after: int, limit: int, identity: Identity | None,
                      mirror: str | None = None) -> tuple[list, int]:
        """Change-log entries after ``after`` (at most ``limit``), and the last sequence there is.
        ``mirror``: the name of the mirror asking, which has applied everything up to ``after``."""
        self.require_node_admin(identity, "read the change log")
        if not 0 <= after <= MAX_SEQ:
            raise HandleError(RC.INVALID_VALUE, f"after must be a sequence number from 0 to {MAX_SEQ}", field="after")
        if not 0 < limit <= MAX_CHANGES:
            raise HandleError(RC.INVALID_VALUE, f"limit must be 1…{MAX_CHANGES}", field="limit")
        if mirror is not None and not MIRROR_NAME.fullmatch(mirror):
            raise HandleError(RC.INVALID_VALUE, "mirror must be 1 to 64 letters, digits, '.', '_' or '-'",
                              field="mirror")
        with self.store.read() as tx:
            if after < (floor := tx.changelog_floor()):  # resolver/changelog_pruning.py
                raise HandleError(RC.ERROR, f"the change log was pruned through sequence {floor}: the changes after "
                                  f"{after} are gone; re-seed this mirror from a snapshot (restart it: a mirror whose "
                                  "position is pruned re-seeds at start)", status=GONE, field="after")
            out = [[seq, *entry] for seq, entry in tx.changes(after, limit)], tx.last_seq()
            ack = tx.mirror_ack(mirror) if mirror is not None else None
        if mirror is not None and (ack is None or ack.get("applied") != after
                                   or self.now() - ack.get("seen", 0) >= ACK_REFRESH):
            # Not waited for: a lost acknowledgement only keeps more of the log.
            now = self.now()
            self.committer.submit(lambda tx: tx.put_mirror_ack(mirror, after, now))
        return out

    def last_sequence(self, identity: Identity | None) -> int:
        """The change log's last sequence (it never goes back, pruned or not)."""
        self.require_node_admin(identity, "read the change log")
        with self.store.read() as tx:
            return tx.last_seq()

    def make_snapshot(self, folder: Path, identity: Identity | None) -> Path:
        """A consistent, compacted copy of the store (``folder/data.mdb``), for a mirror to start from."""
        self.require_node_admin(identity, "take a snapshot")
        folder.mkdir(parents=True, exist_ok=True)
        copy_snapshot(self.store, folder)
        return folder / DATA_FILE

    def refuse_writes_if_mirror(self) -> None:
        if self.mirror_of is not None:
            raise ReadOnlyMirror(self.mirror_of)

    def promote(self, identity: Identity | None) -> dict:
        """Stop being a mirror: from now on this node takes writes itself."""
        self.require_node_admin(identity, "promote this node")
        if self.mirror_of is None:
            raise HandleError(RC.ERROR, "this node is not a mirror", status=409)
        self.committer.apply(lambda tx: tx.delete_meta(MIRROR_META))
        was, self.mirror_of = self.mirror_of, None
        return {"promoted": True, "was_mirror_of": was}
