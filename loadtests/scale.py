"""Resolution cost as the store grows: build stores of several sizes with ``idnode import``, then time
in-process resolution (``Service.resolve``) of random existing handles in each.

    python -m loadtests.scale --sizes 100000,10000000

Two measurements per store, each in a fresh process pinned to one core, sizes alternating run by run:
- ``hot``: lookups drawn from a fixed set of 100,000 random handles of the store, record cache on
  (as a node serves a working set);
- ``uniform``: lookups drawn from the whole store, record cache off, so every one reads and decodes
  its record (the B-tree read itself, which is what could grow with the store);
- ``lmdb``, the baseline: the same lookups as bare LMDB reads (begin, get, abort), no idnode code.
Each process makes one untimed pass (the pages it needs come into the page cache) and then timed
passes. Rates are per CPU-second of the measuring process (the steadier figure on shared cores); the
wall-clock rates and major page faults are logged beside them.

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
from .procs import Server, can_pin, free_port, run
from .report import median
from .wrk import run_wrk, write_script

HOT_SET = 100_000
MODES = ("hot", "uniform", "lmdb")


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
    from resolver.assembly.service_setup import open_service
    from resolver.config import Config

    # cache_entries=8: a cache that holds almost nothing, so every lookup reads and decodes its record.
    return open_service(Config(data=str(folder), cache_entries=200_000 if mode == "hot" else 8))


def check(folder: Path, n: int, count: int, seed: int = 1) -> int:
    """Resolve ``count`` random existing handles; each must answer its own URL. Returns how many did."""
    from resolver.assembly.service_setup import close_service

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


def _memory() -> dict:
    """This process's resident memory: its own (anonymous) and the store's pages it has mapped (file)."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                out[name] = int(value.split()[0]) * 1024
    return out


def measure(folder: Path, n: int, mode: str, count: int, passes: int, seed: int) -> dict:
    """In this process: a warm pass, then ``passes`` timed passes of ``count`` resolutions. Rates per
    wall second and per CPU second of this process (the steadier figure on shared cores)."""
    from resolver.assembly.service_setup import close_service

    handles = [h for _, h in lookups_for(n, count, mode, seed)]
    if mode == "lmdb":
        return _timed(_bare_reader(folder), [h.lower().encode() for h in handles], passes)
    svc = open_for(folder, mode)
    try:
        return _timed(svc.resolve, handles, passes)
    finally:
        close_service(svc)


def _bare_reader(folder: Path):
    from .baseline import open_handles

    env, db = open_handles(str(folder))

    def read(k: bytes) -> None:
        txn = env.begin(db=db, buffers=False)
        txn.get(k)
        txn.abort()

    return read


def _timed(resolve, handles: list, passes: int) -> dict:
    """A warm pass, then ``passes`` timed ones."""
    count = len(handles)
    for h in handles:
        resolve(h)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
    wall, cpu = [], []
    for _ in range(passes):
        t0, c0 = time.perf_counter(), time.process_time()
        for h in handles:
            resolve(h)
        wall.append(count / (time.perf_counter() - t0))
        cpu.append(count / (time.process_time() - c0))
    return {"rates": cpu, "wall_rates": wall, **_memory(),
            "major_faults": resource.getrusage(resource.RUSAGE_SELF).ru_majflt - faults}


def http_rates(work: Path, n: int, a: argparse.Namespace, run_no: int) -> dict:
    """GET /api/handles of the store's 100,000-handle hot set through a real node (pinned to ``a.cpu``),
    driven by wrk (the bench's harness) from the other core: a sequential warm pass, then random."""
    paths = work / f"hot-paths-{n}.txt"
    if not paths.exists():
        picks = random.Random(1).sample(range(n), min(n, HOT_SET))
        paths.write_text("".join(f"/api/handles/{data.handle('SN', i)}\n" for i in picks))
    script = write_script(work)
    client = None if a.cpu is None else 1 - a.cpu
    port = free_port()
    with Server(_cli("serve", "--data", str(work / f"store-{n}"), "--http", f"127.0.0.1:{port}"), port,
                work / f"serve-{n}.log", cpu=a.cpu) as srv:
        run_wrk(srv.base, script, paths, seconds=a.http_seconds, cpu=client, sequential=True)
        c0 = srv.cpu()
        w = run_wrk(srv.base, script, paths, seconds=a.http_seconds, cpu=client, seed=run_no)
        w.server_cpu = srv.cpu() - c0
    if w.non_2xx or w.socket_errors:
        raise RuntimeError(f"{n:,}: {w.non_2xx} answers were not 200, {w.socket_errors} socket errors")
    return {"rps": w.rps, "per_cpu_second": w.per_cpu_second, "p50_ms": w.p50_ms, "p99_ms": w.p99_ms}


def measure_in_child(folder: Path, n: int, mode: str, a: argparse.Namespace, seed: int) -> dict:
    cmd = [sys.executable, "-m", "loadtests.scale", "--measure", str(folder), "--n", str(n), "--mode", mode,
           "--lookups", str(a.lookups), "--passes", str(a.passes), "--seed", str(seed)]
    done = run(cmd, cpu=a.cpu, timeout=3600)
    return json.loads(done.out.strip().splitlines()[-1])


def report(sizes: list[int], facts: dict[int, dict], rates: dict[tuple[int, str], list[float]],
           runs: dict[tuple[int, str], list[dict]]) -> str:
    """Resolutions per CPU-second (median of every pass), and the ratio to the first size."""
    first = sizes[0]
    lines = ["| identifiers | import | data.mdb | bytes/id | handles B-tree depth, branch pages | "
             "hot set, cache on | uniform, cache off | bare LMDB read (uniform) | memory (uniform): own, store pages mapped |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n in sizes:
        f = facts[n]
        h = f["dbs"]["handles"]
        cells = [f"{n:,}", f"{f['import_seconds']:,.1f} s ({n / f['import_seconds']:,.0f} ids/s)",
                 f"{f['data_bytes'] / 2**30:,.2f} GiB", f"{f['data_bytes'] / n:,.0f}",
                 f"{h['depth']}, {h['branch_pages']:,}"]
        for mode in MODES:
            r = median(rates[n, mode])
            base = median(rates[first, mode])
            cells.append(f"{r:,.0f}/CPU-s" + ("" if n == first else f" ({r / base:.2f}×)"))
        mem = runs[n, "uniform"][-1]
        cells.append(f"{mem['RssAnon'] / 2**20:,.0f} MiB, {mem['RssFile'] / 2**20:,.0f} MiB")
        lines.append("| " + " | ".join(cells) + " |")
    if (first, "http") in runs:
        base = median([x["per_cpu_second"] for x in runs[first, "http"]])
        lines.append("")
        for n in sizes:
            got = runs[n, "http"]
            per_cpu = median([x["per_cpu_second"] for x in got])
            lines.append(f"HTTP GET, hot set, {n:,} ids: {median([x['rps'] for x in got]):,.0f}/s, "
                         f"{per_cpu:,.0f} per server CPU-s ({per_cpu / base:.2f}×), "
                         f"p50 {median([x['p50_ms'] for x in got]):.2f} ms")
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
    p.add_argument("--http", action="store_true", help="also GET through a real node with wrk (hot set)")
    p.add_argument("--http-seconds", type=float, default=10.0, help="wrk's warm and timed runs, each")
    p.add_argument("--measure", help=argparse.SUPPRESS)  # the child: measure this folder
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.cpu is not None and not can_pin(a.cpu, 1 - a.cpu):
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
    runs: dict[tuple[int, str], list[dict]] = {(n, m): [] for n in sizes for m in MODES}
    for r in range(a.runs):
        for n in sizes if r % 2 == 0 else sizes[::-1]:
            for mode in MODES:
                got = measure_in_child(work / f"store-{n}", n, mode, a, seed=r + 1)
                rates[n, mode] += got["rates"]
                runs[n, mode].append(got)
                log(f"run {r + 1}/{a.runs}, {n:,} ids, {mode}: per CPU-s "
                    + ", ".join(f"{x:,.0f}" for x in got["rates"]) + "; per wall s "
                    + ", ".join(f"{x:,.0f}" for x in got["wall_rates"]) + f"; major faults {got['major_faults']}")
            if a.http:
                got = http_rates(work, n, a, r + 1)
                runs[n, "http"] = runs.get((n, "http"), []) + [got]
                log(f"run {r + 1}/{a.runs}, {n:,} ids, HTTP hot set: {got['rps']:,.0f}/s, "
                    f"{got['per_cpu_second']:,.0f} per server CPU-s, p50 {got['p50_ms']:.2f} ms")
    return facts, rates, runs


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.measure:
        print(json.dumps(measure(Path(a.measure), a.n, a.mode, a.lookups, a.passes, a.seed)))
        return 0
    sizes = [int(s.replace("_", "")) for s in a.sizes.split(",")]
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="idnode-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    facts, rates, runs = scale(a, sizes, work)
    print(report(sizes, facts, rates, runs))
    if a.json:
        Path(a.json).write_text(json.dumps({
            "command": " ".join(["python -m loadtests.scale", *(argv if argv is not None else sys.argv[1:])]),
            "facts": {str(n): f for n, f in facts.items()},
            "runs": {f"{n}:{m}": v for (n, m), v in runs.items()}, "cpus": os.cpu_count()}, indent=2))
    log(f"stores kept in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
