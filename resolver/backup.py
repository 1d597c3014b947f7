"""``idnode backup``, ``restore`` and ``verify``: the operator's side of storage/backup.py and verify.py.

A backup folder holds ``data.mdb`` (a compacted copy of the store at one change-log sequence), the
key files the data folder needs (the seal key, so that a restored node can still check secrets over
the Handle protocol; the node key, so that it keeps its identity), and ``manifest.json``, written
last: what the copy holds and a SHA-256 of every file. A folder without a manifest is an unfinished
backup. The seal key makes a backup as secret as the data folder: the folder is made 0700.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from storage import Store
from storage.backup import DATA_FILE, copy_snapshot, snapshot_at
from storage.verify import verify

from .keys.keyfiles import NODE_KEY, SEAL_KEY
from .version import node_version

MANIFEST = "manifest.json"
FORMAT = "idnode-backup/1"
KEY_FILES = (SEAL_KEY, NODE_KEY)


class Refused(Exception):
    """A backup or restore that cannot go ahead; the message says why."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _empty_or_absent(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def _undo(path: Path, made: bool) -> None:
    """Remove what a failed backup or restore wrote: the folder it made, or what it put in one it found."""
    if made:
        shutil.rmtree(path, ignore_errors=True)
    elif path.is_dir():
        for f in path.iterdir():
            shutil.rmtree(f) if f.is_dir() else f.unlink()


def backup(data: Path, dest: Path) -> dict:
    """Copy the store in ``data`` (served or not) into the new folder ``dest``; returns the manifest."""
    if not (data / DATA_FILE).is_file():
        raise Refused(f"{data} holds no store ({DATA_FILE} is missing)")
    if not _empty_or_absent(dest):
        raise Refused(f"{dest} exists and is not empty; a backup goes into a new folder")
    made = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(dest, 0o700)
        manifest = _write_backup(data, dest)
    except BaseException:
        _undo(dest, made)
        raise
    return manifest


def _write_backup(data: Path, dest: Path) -> dict:
    started = time.time()
    store = Store(data, readonly=True)
    try:
        snap = copy_snapshot(store, dest)
    finally:
        store.close()
    for name in KEY_FILES:
        if (data / name).is_file():
            shutil.copyfile(data / name, dest / name)
            os.chmod(dest / name, 0o600)
    files = {}
    for f in sorted(p for p in dest.iterdir() if p.is_file()):
        _fsync(f)
        files[f.name] = {"sha256": sha256_of(f), "bytes": f.stat().st_size}
    manifest = {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "idnode_version": node_version(),
        "node_prefix": snap.node_prefix,
        # Read in the read transaction the copy was made from: the copy holds exactly the changes up to it.
        "change_seq": snap.change_seq,
        "handles": snap.handles,
        "prefix_counts": snap.prefix_counts,
        "prefixes": snap.prefixes,
        "templates": snap.templates,
        "events": snap.events,
        "files": files,
    }
    tmp = dest / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _fsync(tmp)
    tmp.rename(dest / MANIFEST)
    _fsync(dest)
    return manifest


def read_manifest(src: Path) -> dict:
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise Refused(f"{src} has no {MANIFEST}: not a backup, or an unfinished one") from None
    except (OSError, ValueError) as e:
        raise Refused(f"{src / MANIFEST} cannot be read: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise Refused(f"{src / MANIFEST} is not an {FORMAT} manifest")
    return manifest


def check_backup(src: Path) -> dict:
    """The manifest, once every file it names is there with its size and SHA-256; else Refused."""
    manifest = read_manifest(src)
    files = manifest["files"]
    if DATA_FILE not in files:
        raise Refused(f"the manifest names no {DATA_FILE}")
    for name, want in sorted(files.items()):
        f = src / name
        if Path(name).name != name or not f.is_file():
            raise Refused(f"backup damaged: {name} is missing")
        if f.stat().st_size != want.get("bytes"):
            raise Refused(f"backup damaged: {name} has {f.stat().st_size} bytes; the manifest says {want.get('bytes')}")
        if sha256_of(f) != want.get("sha256"):
            raise Refused(f"backup damaged: the SHA-256 of {name} differs from the manifest's")
    return manifest


def restore(src: Path, data: Path) -> dict:
    """Make the new data folder ``data`` from the backup in ``src``; returns the manifest."""
    if not _empty_or_absent(data):
        raise Refused(f"{data} exists and is not empty; restore makes a new data folder and overwrites none")
    manifest = check_backup(src)
    # Into a folder beside it, renamed into place at the end; an empty folder found (a mounted volume,
    # say) is filled in place instead, and emptied again on failure.
    made = not data.exists()
    work = data.with_name(f".{data.name}.restoring-{os.getpid()}") if made else data
    if made:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(mode=0o700, parents=True)
    try:
        for name in manifest["files"]:
            shutil.copyfile(src / name, work / name)
            if name != DATA_FILE:
                os.chmod(work / name, 0o600)
            _fsync(work / name)
        snap = snapshot_at(work).as_dict()
        differs = [k for k, v in snap.items() if manifest.get(k) != v]
        if differs:
            raise Refused(f"the restored store does not match the manifest ({', '.join(differs)})")
        (work / "lock.mdb").unlink(missing_ok=True)  # made by the check above; a node makes its own
        _fsync(work)
        if made:
            work.rename(data)
            _fsync(data.parent)
    except BaseException:
        _undo(work, made)
        raise
    return manifest


# --- the commands ----------------------------------------------------------------------------------

def cmd_backup(args: argparse.Namespace) -> int:
    m = backup(Path(args.data), Path(args.dir))
    print(f"backed up {args.data} to {args.dir}: {m['handles']:,} handles, {m['events']:,} events, "
          f"change-log sequence {m['change_seq']:,}, {m['files'][DATA_FILE]['bytes']:,} bytes")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    m = restore(Path(args.dir), Path(args.data))
    print(f"restored {args.dir} into {args.data}: {m['handles']:,} handles at change-log sequence "
          f"{m['change_seq']:,} (backup of {m['created']}, prefix {m['node_prefix']})")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    data = Path(args.data)
    if not (data / DATA_FILE).is_file():
        raise Refused(f"{data} holds no store ({DATA_FILE} is missing)")
    store = Store(data, readonly=True)
    try:
        t0 = time.perf_counter()
        r = verify(store)
    finally:
        store.close()
    print(f"{data}: {r.handles:,} handles under {len(r.prefix_counts)} prefixes, {r.accounts:,} secret keys, "
          f"{r.events:,} events, {r.changes:,} changes up to sequence {r.last_seq:,} "
          f"({time.perf_counter() - t0:.1f} s)")
    for p in r.problems:
        print(f"  problem: {p}")
    if r.problem_count > len(r.problems):
        print(f"  … and {r.problem_count - len(r.problems)} more")
    print("ok" if r.ok else f"{r.problem_count} problem(s) found")
    return 0 if r.ok else 1


def _run(fn):
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except Refused as e:
            print(f"idnode {args.command}: {e}", file=sys.stderr)
            return 1
    return run


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the three commands on the ``idnode`` parser."""
    s = sub.add_parser("backup", help="copy a data folder, served or not, into a new backup folder")
    s.add_argument("dir", help="the backup folder to make (new, or empty)")
    s.add_argument("--data", required=True, help="the data folder to copy")
    s.set_defaults(fn=_run(cmd_backup))

    s = sub.add_parser("restore", help="make a new data folder from a backup, after checking it")
    s.add_argument("dir", help="the backup folder")
    s.add_argument("--data", required=True, help="the data folder to make (new, or empty)")
    s.set_defaults(fn=_run(cmd_restore))

    s = sub.add_parser("verify", help="check a store's counters and indexes against its records")
    s.add_argument("--data", required=True, help="the data folder (it may be served meanwhile)")
    s.set_defaults(fn=_run(cmd_verify))
