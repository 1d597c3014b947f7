"""When the store cannot take a write: the map at its configured ceiling, the data volume full, or the
disk failing the commit.

A refused write leaves nothing behind: LMDB writes a commit's pages to places no reader or earlier
commit uses and switches to them with the meta page last, so a commit that fails part way keeps the
last committed state whole, and reads go on from it.
"""

from __future__ import annotations

import os
from pathlib import Path

import lmdb

# A commit that fails with EIO on a volume with less room than this is taken for a full volume: Linux
# reports a short write into the last free blocks as EIO (LMDB turns a short pwrite into EIO), not ENOSPC.
LOW_SPACE = 64 << 20


class StoreFull(Exception):
    """A write refused for want of space. Nothing of it was written; reads go on."""


class WriteFailed(Exception):
    """The disk refused a commit for another reason (an I/O error). Nothing of it was written."""


def volume_free(path: Path) -> int | None:
    """Bytes an unprivileged process may still write on the file system holding ``path``."""
    try:
        vfs = os.statvfs(path)
    except OSError:
        return None
    return vfs.f_bavail * vfs.f_frsize


def map_full(ceiling: int) -> StoreFull:
    if not ceiling:
        return StoreFull("storage is full: the LMDB map could not grow enough for one group of writes; "
                         "reads go on")
    return StoreFull(f"storage is full: the LMDB map has reached its ceiling of {ceiling:,} bytes "
                     "(max_map_size); writes are refused until it is raised, reads go on")


def commit_refused(exc: lmdb.Error, path: Path) -> Exception:
    """What a failed commit means for the caller: a full volume, or a failing disk."""
    free = volume_free(path)
    reason = exc.args[-1] if exc.args else str(exc)
    if isinstance(exc, lmdb.DiskError) or (free is not None and free < LOW_SPACE):
        where = f"{free:,} bytes free on the volume of {path}" if free is not None else str(path)
        return StoreFull(f"storage is full: the data volume has no room for this write ({where}; {reason}); "
                         "writes are refused until space is freed, reads go on")
    return WriteFailed(f"storage could not write: {reason} (data folder {path}); nothing of this write was kept")
