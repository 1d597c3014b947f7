"""Storage ceiling: the raw LMDB write rate of the same records in one process, no HTTP, no validation.

msgpack-pack each record in the layout the node stores and put it in a ``handles`` database, with one
synced commit per ``--commit-every`` records (2,000 as a batch, 20,000 as ``idnode import``). Building the
Python records is not timed; pack + put + commit are. Prints one line of JSON:

    python -m loadtests.ceiling --dir SCRATCH --ids 200000 --commit-every 2000
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import lmdb
import msgpack

from . import data
from .batchload import percentile


def measure(folder: Path, kind: str, ids: int, commit_every: int) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    env = lmdb.open(str(folder), map_size=1 << 34, max_dbs=10, sync=True, metasync=True, readahead=False,
                    meminit=False)
    pack = msgpack.Packer(use_bin_type=True).pack
    try:
        db = env.open_db(b"handles", create=True)
        now = int(time.time())
        spent = 0.0
        commits: list[float] = []
        for start in range(0, ids, commit_every):
            chunk = list(data.stored_records(kind, start, min(start + commit_every, ids), now))
            t0 = time.perf_counter()
            with env.begin(write=True, db=db) as txn:
                for k, rec in chunk:
                    txn.put(k, pack(rec))
            dt = time.perf_counter() - t0
            spent += dt
            commits.append(dt * 1000)
    finally:
        env.close()
    commits.sort()
    return {"ids": ids, "seconds": spent, "rate": ids / spent, "p50_ms": percentile(commits, 50),
            "p99_ms": percentile(commits, 99)}


def main() -> None:
    p = argparse.ArgumentParser(description="raw LMDB write rate (the storage ceiling)")
    p.add_argument("--dir", required=True, help="scratch folder, removed afterwards")
    p.add_argument("--kind", default="RAW")
    p.add_argument("--ids", type=int, default=200_000)
    p.add_argument("--commit-every", type=int, default=2000)
    a = p.parse_args()
    folder = Path(a.dir)
    try:
        res = measure(folder, a.kind, a.ids, a.commit_every)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("CEILJSON " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
