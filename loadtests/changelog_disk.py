"""Disk per identifier with and without change-log pruning (README "Scale").

``python -m loadtests.changelog_disk --ids 100000`` builds a store with ``idnode import`` (in process),
then prints the bytes per identifier that LMDB's pages in use hold (per named database and in all),
before and after one pruning pass, and the size of a compacted copy (what a snapshot, a backup or a
new mirror takes). It then imports as many identifiers again and prints how much ``data.mdb`` grew,
so that the pages pruning freed are seen being reused.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from resolver.assembly.service_setup import close_service, open_service
from resolver.changelog_pruning import Pruner
from resolver.config import Config
from resolver.importer import import_file
from storage.backup import copy_snapshot


def _write_ids(path: Path, start: int, n: int) -> None:
    with open(path, "w") as fh:
        for i in range(start, start + n):
            fh.write(f'{{"handle": "88.101.5/SN-{i:010d}", "values": [{{"index": 1, "type": "URL", '
                     f'"data": "https://example.com/p/{i}"}}, {{"index": 2, "type": "EMAIL", '
                     f'"data": "support@example.com"}}]}}\n')


def _in_use(svc) -> dict[str, int]:
    """Bytes of the pages each named database holds."""
    env, out = svc.store.env, {}
    with env.begin() as txn:
        for name, db in svc.store.dbs.items():
            st = txn.stat(db)
            out[name] = (st["branch_pages"] + st["leaf_pages"] + st["overflow_pages"]) * st["psize"]
    return out


def _compacted(svc, tmp: Path) -> int:
    dest = Path(tempfile.mkdtemp(dir=tmp))
    copy_snapshot(svc.store, dest)
    return (dest / "data.mdb").stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ids", type=int, default=100_000)
    args = ap.parse_args()
    n = args.ids
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        cfg = Config.load(flags={"data": str(tmp / "data"), "changelog_keep": 0})
        svc = open_service(cfg)
        try:
            svc.init_node("88.101", "node-admin-secret")
            asyncio.run(svc.allocate_prefix({"prefix": "88.101.5", "secret": "acme-secret-5"}, svc.operator()))
            src = tmp / "ids.jsonl"
            _write_ids(src, 0, n)
            import_file(svc, src, progress=False)

            def report(when: str) -> None:
                use = _in_use(svc)
                total = sum(use.values())
                print(f"{when}: in use {total / n:,.0f} B/id (handles {use['handles'] / n:,.0f}, change log "
                      f"{use['changelog'] / n:,.0f}); compacted copy {_compacted(svc, tmp) / n:,.0f} B/id")

            report("before pruning")
            size_before = (tmp / "data" / "data.mdb").stat().st_size
            pruner = Pruner(svc, cfg, clock=lambda: time.time() + 1)  # everything written so far is old enough
            removed = asyncio.run(pruner.prune())
            print(f"pruned {removed:,} changes")
            report("after pruning")
            _write_ids(src, n, n)
            import_file(svc, src, progress=False)
            grew = (tmp / "data" / "data.mdb").stat().st_size - size_before
            print(f"{n:,} more identifiers after pruning: data.mdb grew {grew / n:,.0f} B/id")
        finally:
            close_service(svc)


if __name__ == "__main__":
    main()
