"""The LMDB environment: named databases, map growth, readers safe across processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lmdb

from .txn import DBS, Tx

DEFAULT_MAP_SIZE = 1 << 30  # grows as it fills; the file is sparse, so this costs address space only
GROW_AT = 0.75  # grow when the data reaches this share of the map
# LMDB 0.9's lock file: a 192-byte header holding the first reader slot, then a 64-byte slot a reader.
# Sized as LMDB sizes it, so that it reports the reader slots asked for (a larger file would give more).
_READER_SLOT, _LOCK_HEADER = 64, 192


class Store:
    """One LMDB environment per data folder. Open it after fork: an LMDB handle does not survive one."""

    def __init__(self, path: str | os.PathLike, *, map_size: int = DEFAULT_MAP_SIZE, readonly: bool = False,
                 max_readers: int = 1024, max_map_size: int = 0):
        self.path = Path(path)
        if not readonly:
            # Verifiers, private values and the audit trail live here: no one else on the machine reads them.
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.readonly = readonly
        self.max_map_size = max_map_size  # the map never grows past this (0: no ceiling)
        if max_map_size:
            map_size = min(map_size, max_map_size)
        if not readonly:
            _allocate_lock_file(self.path / "lock.mdb", max_readers)
        self.env = lmdb.open(
            str(self.path), map_size=map_size, max_dbs=len(DBS) + 4, max_readers=max_readers,
            readonly=readonly, lock=True, sync=True, metasync=True, readahead=False, meminit=False,
            mode=0o600,  # data.mdb and lock.mdb: the owner's alone (the folder is made above)
        )
        self._psize = self.env.stat()["psize"]
        self.dbs = {}
        try:
            self._open_dbs()
        except lmdb.MapResizedError:
            # Another process grew the map between our open and this first transaction: adopt its size.
            self.env.set_mapsize(0)
            self._open_dbs()

    def _open_dbs(self) -> None:
        if self.readonly:
            # Each open in its own transaction: handles opened in a read-only transaction that is then
            # ended are invalid afterwards (every later use fails with EINVAL).
            for name in DBS:
                try:
                    self.dbs[name] = self.env.open_db(name.encode(), create=False)
                except lmdb.NotFoundError:
                    self.dbs[name] = None
        else:
            with self.env.begin(write=True) as txn:
                for name in DBS:
                    self.dbs[name] = self.env.open_db(name.encode(), txn=txn, create=True)

    def close(self) -> None:
        self.env.close()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A short read transaction: it never blocks writers and sees one committed state."""
        try:
            txn = self.env.begin(buffers=False)
        except lmdb.MapResizedError:
            self.env.set_mapsize(0)  # another process grew the map: adopt its size
            txn = self.env.begin(buffers=False)
        try:
            yield Tx(txn, self.dbs)
        finally:
            txn.abort()

    def get_raw(self, k: bytes) -> bytes | None:
        """One handle record's stored bytes, in a transaction of its own (the resolution hot path)."""
        try:
            txn = self.env.begin(buffers=False)
        except lmdb.MapResizedError:
            self.env.set_mapsize(0)
            txn = self.env.begin(buffers=False)
        try:
            return txn.get(k, db=self.dbs["handles"])
        finally:
            txn.abort()

    def begin_write(self) -> lmdb.Transaction:
        try:
            return self.env.begin(write=True)
        except lmdb.MapResizedError:
            self.env.set_mapsize(0)
            return self.env.begin(write=True)

    def map_use(self) -> tuple[int, int]:
        """(bytes used, map size)."""
        info = self.env.info()
        return (info["last_pgno"] + 1) * self._psize, info["map_size"]

    def grow_if_needed(self, *, force: bool = False) -> bool:
        """Double the map (at least) before it fills, up to ``max_map_size``; False when it could not
        grow. Call with no transaction open in this process."""
        used, size = self.map_use()
        if force or used >= size * GROW_AT:
            new = max(size * 2, int(used / GROW_AT) * 2)
            if self.max_map_size:
                new = min(new, self.max_map_size)
            if new <= size:
                return False
            self.env.set_mapsize(new)
            return True
        return False


def loose_modes(path: str | os.PathLike) -> list[str]:
    """What in a data folder others than its owner may read or write: the folder and the files directly in
    it (``path mode`` each); an empty list when all is private (0700 and 0600)."""
    folder = Path(path)
    found = []
    for p in [folder, *sorted(folder.iterdir())] if folder.is_dir() else []:
        if p != folder and not p.is_file():
            continue
        try:
            mode = p.stat().st_mode & 0o777
        except OSError:
            continue
        if mode & 0o077:
            found.append(f"{p} {mode:04o}")
    return found


def make_private(path: str | os.PathLike) -> None:
    """Make a data folder and what lies directly in it readable and writable by its owner only."""
    folder = Path(path)
    os.chmod(folder, 0o700)
    for p in folder.iterdir():
        if p.is_symlink():
            continue
        os.chmod(p, 0o700 if p.is_dir() else 0o600)


def _allocate_lock_file(path: Path, max_readers: int) -> None:
    """Give LMDB's lock file real blocks. LMDB sizes it sparse and maps it; on a full volume the first
    touch of a page with no block behind it (a reader slot not used before) kills the process with
    SIGBUS. LMDB keeps a lock file at least as large as its reader table as it is.

    Only before this process opens the environment: closing a descriptor of the lock file drops every
    fcntl lock the process holds on it, and that lock is how LMDB tells that the environment is in use
    (without it, the next process to open it would reset the reader table and the writer's mutex).
    """
    want = (max_readers - 1) * _READER_SLOT + _LOCK_HEADER
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return
    try:
        # A lock file in use keeps its size (other processes sized their reader table by it).
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size or want)
    except OSError:
        pass  # a file system without fallocate, or one already full: LMDB sizes the file as it would
    finally:
        os.close(fd)
