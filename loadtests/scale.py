"""Resolution cost as the store grows: build stores of several sizes with ``idnode import``, then time
in-process resolution (``Service.resolve``) of random existing handles in each.

    python -m loadtests.scale --sizes 100000,10000000

Two measurements per store, each in a fresh process pinned to one core, sizes alternating run by run:
- ``hot``: lookups drawn from a fixed set of 100,000 random handles of the store, record cache on
  (as a node serves a working set);
- ``uniform``: lookups drawn from the whole store, record cache off, so every one reads and decodes
  its record (the B-tree read itself, which is what could grow with the store).
Each process makes one untimed pass (the pages it needs come into the page cache) and then timed passes.

The store's facts (file size, B-tree depth and pages per database, import time) are reported with
the rates, for projecting to larger stores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import data
from .procs import can_pin, run
from .report import median

HOT_SET = 100_000
MODES = ("hot", "uniform")


def log(msg: str) -> None:
    print(f"[scale] {msg}", file=sys.stderr, flush=True)


def _cli(*args: str) -> list[str]:
    # ``python -m resolver.cli`` from the checkout (procs.run's working folder), not an installed copy.
    return [sys.executable, "-m", "resolver.cli", *args]


def build(folder: Path, n: int, work: Path, cpu: int | None = None) -> dict:
    """A data folder holding ``n`` identifiers 88.101.5/SN-…, loaded by ``idnode import``; its facts."""
    marker = folder / "built.json"
    if marker.exists():
        facts = json.loads(marker.read_text())
        if facts.get("ids") == n:
            log(f"{n:,}: reusing {folder}")
            return facts
    shutil.rmtree(folder, ignore_errors=True)
    run(_cli("init", "--data", str(folder), "--prefix", data.NODE_PREFIX, "--admin-secret", data.NODE_SECRET))
    run(_cli("prefix", "add", data.PREFIX, "--secret", data.ENTERPRISE_SECRET, "--data", str(folder)))
    jsonl = work / f"scale-{n}.jsonl"
    log(f"{n:,}: generating the import file")
    size = data.write_jsonl(jsonl, "SN", n)
    log(f"{n:,}: idnode import ({size / 1e6:,.0f} MB)")
    done = run(_cli("import", str(jsonl), "--data", str(folder), "--no-progress"), cpu=cpu, timeout=6 * 3600)
    jsonl.unlink()
    if f"imported {n}, unchanged 0, rejected 0" not in done.out:
        raise RuntimeError(f"idnode import did not take every line:\n{done.out[-2000:]}")
    facts = {"ids": n, "import_seconds": done.seconds, "import_cpu_seconds": done.cpu, "import_file_bytes": size,
             **store_facts(folder)}
    marker.write_text(json.dumps(facts, indent=2))
    return facts


def store_facts(folder: Path) -> dict:
    """File size, and per named database its entries, B-tree depth and pages."""
    from storage import Store

    store = Store(folder, readonly=True)
    try:
        with store.read() as tx:
            dbs = {name: tx.txn.stat(db) for name, db in store.dbs.items() if db is not None}
        psize = store.env.stat()["psize"]
    finally:
        store.close()
    return {"data_bytes": (folder / "data.mdb").stat().st_size, "page_bytes": psize,
            "dbs": {name: {k: st[k] for k in ("entries", "depth", "branch_pages", "leaf_pages", "overflow_pages")}
                    for name, st in dbs.items() if st["entries"]}}


def lookups_for(n: int, count: int, mode: str, seed: int) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    if mode == "hot":
        pool = rng.sample(range(n), min(n, HOT_SET))  # as many distinct handles whatever the store's size
        picks = [rng.choice(pool) for _ in range(count)]
    else:
        picks = [rng.randrange(n) for _ in range(count)]
    return [(i, data.handle("SN", i)) for i in picks]


def open_for(folder: Path, mode: str):
    from resolver.config import Config
    from resolver.runtime import open_service

    # cache_entries=8: a cache that holds almost nothing, so every lookup reads and decodes its record.
    return open_service(Config(data=str(folder), cache_entries=200_000 if mode == "hot" else 8))


def check(folder: Path, n: int, count: int, seed: int = 1) -> int:
    """Resolve ``count`` random existing handles; each must answer its own URL. Returns how many did."""
    from resolver.runtime import close_service

    svc = open_for(folder, "uniform")
    try:
        good = 0
        for i, h in lookups_for(n, count, "uniform", seed):
            url = data.values(i)[0]["data"]["value"].encode()
            res = svc.resolve(h)
            if res.handle == h and any(v.type == "URL" and v.data == url for v in res.values):
                good += 1
        return good
    finally:
        close_service(svc)


def measure(folder: Path, n: int, mode: str, count: int, passes: int, seed: int) -> dict:
    """In this process: a warm pass, then ``passes`` timed passes of ``count`` resolutions."""
    from resolver.runtime import close_service

    svc = open_for(folder, mode)
    try:
        handles = [h for _, h in lookups_for(n, count, mode, seed)]
        resolve = svc.resolve
        for h in handles:
            resolve(h)
        rates = []
        for _ in range(passes):
            t0 = time.perf_counter()
            for h in handles:
                resolve(h)
            rates.append(count / (time.perf_counter() - t0))
        return {"rates": rates, "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    finally:
        close_service(svc)


def measure_in_child(folder: Path, n: int, mode: str, a: argparse.Namespace, seed: int) -> dict:
    cmd = [sys.executable, "-m", "loadtests.scale", "--measure", str(folder), "--n", str(n), "--mode", mode,
           "--lookups", str(a.lookups), "--passes", str(a.passes), "--seed", str(seed)]
    done = run(cmd, cpu=a.cpu, timeout=3600)
    return json.loads(done.out.strip().splitlines()[-1])


def report(sizes: list[int], facts: dict[int, dict], rates: dict[tuple[int, str], list[float]],
           rss: dict[tuple[int, str], int]) -> str:
    first = sizes[0]
    lines = ["| identifiers | import | data.mdb | bytes/id | handles B-tree depth, branch pages | "
             "hot set, cache on | uniform, cache off | max RSS (uniform) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n in sizes:
        f = facts[n]
        h = f["dbs"]["handles"]
        cells = [f"{n:,}", f"{f['import_seconds']:,.1f} s ({n / f['import_seconds']:,.0f} ids/s)",
                 f"{f['data_bytes'] / 2**30:,.2f} GiB", f"{f['data_bytes'] / n:,.0f}",
                 f"{h['depth']}, {h['branch_pages']:,}"]
        for mode in MODES:
            r = median(rates[n, mode])
            base = median(rates[first, mode])
            cells.append(f"{r:,.0f}/s" + ("" if n == first else f" ({r / base:.2f}×)"))
        cells.append(f"{rss[n, 'uniform'] / 2**20:,.0f} MiB")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtests.scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100000,10000000", help="identifiers per store, comma separated")
    p.add_argument("--lookups", type=int, default=200_000, help="resolutions per timed pass")
    p.add_argument("--passes", type=int, default=3, help="timed passes per process")
    p.add_argument("--runs", type=int, default=3, help="processes per size and mode (sizes alternate)")
    p.add_argument("--work", help="where the stores are built (kept, and reused by a later run)")
    p.add_argument("--json", help="write every figure here")
    p.add_argument("--cpu", type=int, default=0, help="core to pin the import and measurements to")
    p.add_argument("--measure", help=argparse.SUPPRESS)  # the child: measure this folder
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.cpu is not None and not can_pin(a.cpu):
        a.cpu = None
    return a


def scale(a: argparse.Namespace, sizes: list[int], work: Path) -> tuple[dict, dict, dict]:
    """Build (or reuse) the stores, check them, measure them: (facts, rates, max RSS) by size (and mode)."""
    facts = {n: build(work / f"store-{n}", n, work, a.cpu) for n in sizes}
    for n in sizes:
        good = check(work / f"store-{n}", n, 2_000)
        if good != 2_000:
            raise RuntimeError(f"{n:,}: only {good} of 2,000 sampled handles resolved to their own values")
    rates: dict[tuple[int, str], list[float]] = {(n, m): [] for n in sizes for m in MODES}
    rss: dict[tuple[int, str], int] = {}
    for r in range(a.runs):
        for n in sizes if r % 2 == 0 else sizes[::-1]:
            for mode in MODES:
                got = measure_in_child(work / f"store-{n}", n, mode, a, seed=r + 1)
                rates[n, mode] += got["rates"]
                rss[n, mode] = max(rss.get((n, mode), 0), got["max_rss_bytes"])
                log(f"run {r + 1}/{a.runs}, {n:,} ids, {mode}: " + ", ".join(f"{x:,.0f}/s" for x in got["rates"]))
    return facts, rates, rss


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.measure:
        print(json.dumps(measure(Path(a.measure), a.n, a.mode, a.lookups, a.passes, a.seed)))
        return 0
    sizes = [int(s.replace("_", "")) for s in a.sizes.split(",")]
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="idnode-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    facts, rates, rss = scale(a, sizes, work)
    print(report(sizes, facts, rates, rss))
    if a.json:
        Path(a.json).write_text(json.dumps({
            "command": " ".join(["python -m loadtests.scale", *(argv if argv is not None else sys.argv[1:])]),
            "facts": {str(n): f for n, f in facts.items()},
            "rates": {f"{n}:{m}": v for (n, m), v in rates.items()},
            "max_rss_bytes": {f"{n}:{m}": v for (n, m), v in rss.items()}, "cpus": os.cpu_count()}, indent=2))
    log(f"stores kept in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
