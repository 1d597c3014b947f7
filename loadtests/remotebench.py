"""Scenario: resolving handles served by another node, through this one, beside local resolution.

Three processes, all on the server core: a top-level node (prefix 88), node A (88.101, holding the
loaded identifiers, registered upstream) and node B (88.102), the node under test. Per run, B starts
with an empty cache:

- uncached: wrk walks the handles in order through B, so each request asks A (the site of 88.101.5
  is looked up once, then kept);
- cached: after a pass that fetched every handle, wrk asks B for them at random: answered from B's
  cache of remote answers;
- local: the same handles asked of A, which holds them (the figure the cached one is compared with).
"""

from __future__ import annotations

import json
import math
import urllib.request
from pathlib import Path

from . import data
from .batchload import basic_auth
from .procs import Server, free_port, run, venv_bin
from .report import Row, median, ms, rate, runs_note
from .scenarios import Settings, log
from .wrk import WrkResult, run_wrk, write_script

TARGET_RATIO = 0.8
MAX_IDS = 50_000  # enough for an uncached pass that never wraps at a few thousand a second
TOP_SECRET, A_UP, B_UP, B_ADMIN = "top-admin-secret", "a-upstream-secret", "b-upstream-secret", "b-admin-secret"


def _prepare(work: Path) -> tuple[Path, Path]:
    idnode = venv_bin("idnode")
    top, b = (work / "top").resolve(), (work / "remote-b").resolve()
    run([idnode, "init", "--data", str(top), "--prefix", "88", "--admin-secret", TOP_SECRET])
    run([idnode, "prefix", "add", "88.101", "--secret", A_UP, "--data", str(top)])
    run([idnode, "prefix", "add", "88.102", "--secret", B_UP, "--data", str(top)])
    run([idnode, "init", "--data", str(b), "--prefix", "88.102", "--admin-secret", B_ADMIN])
    return top, b


def _serve(folder: Path, port: int, hport: int, *extra: str) -> list[str]:
    return [venv_bin("idnode"), "serve", "--data", str(folder), "--http", f"127.0.0.1:{port}",
            "--handle", f"127.0.0.1:{hport}", *extra]


def _upstream(top_hport: int, prefix: str, secret: str) -> list[str]:
    return ["--upstream", f"127.0.0.1:{top_hport}", "--upstream-identity", f"300:0.NA/{prefix}",
            "--upstream-secret", secret, "--stats-interval", "3600"]


def _cached_answers(base: str) -> int:
    req = urllib.request.Request(base + "/api/federation",
                                 headers={"Authorization": basic_auth("300:0.NA/88.102", B_ADMIN)})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["remote"]["cachedAnswers"]


def _registered(top_base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{top_base}/api/handles/0.NA/{data.PREFIX}", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def remote_scenario(work: Path, folder: Path, s: Settings) -> list[Row]:
    ids = min(s.ids, MAX_IDS)
    top, bdir = _prepare(work)
    script, paths = write_script(work), work / "paths-remote.txt"
    data.write_paths(paths, "SN", ids)
    ports = {n: (free_port(), free_port()) for n in ("top", "a", "b")}
    res: dict[str, list[WrkResult]] = {"uncached": [], "cached": [], "local": []}
    top_cmd = _serve(top, *ports["top"], "--role", "top")
    a_cmd = _serve(folder, *ports["a"], *_upstream(ports["top"][1], "88.101", A_UP))
    with Server(top_cmd, ports["top"][0], work / "top.log", cpu=s.server_cpu) as topsrv, \
         Server(a_cmd, ports["a"][0], work / "a.log", cpu=s.server_cpu,
                ready=lambda: _registered(topsrv.base)) as a:
        for r in range(s.runs):
            b_cmd = _serve(bdir, *ports["b"], *_upstream(ports["top"][1], "88.102", B_UP))
            with Server(b_cmd, ports["b"][0], work / "b.log", cpu=s.server_cpu) as b:
                seconds = min(s.seconds, 5.0)
                w = run_wrk(b.base, script, paths, seconds=seconds, connections=s.connections, cpu=s.client_cpu,
                            sequential=True)
                _check(w, f"uncached run {r + 1}")
                if w.requests > ids:
                    log(f"remote: the uncached pass wrapped ({w.requests:,} requests over {ids:,} ids)")
                res["uncached"].append(w)
                warm = 0
                while _cached_answers(b.base) < ids and warm < 5:  # fetch whatever the timed pass did not
                    run_wrk(b.base, script, paths, seconds=math.ceil(ids / 4000) + 1, connections=s.connections,
                            cpu=s.client_cpu, sequential=True)
                    warm += 1
                for who, srv in (("cached", b), ("local", a)) if r % 2 == 0 else (("local", a), ("cached", b)):
                    c0 = srv.cpu()
                    w = run_wrk(srv.base, script, paths, seconds=s.seconds, connections=s.connections,
                                cpu=s.client_cpu, seed=r + 1)
                    w.server_cpu = srv.cpu() - c0
                    _check(w, f"{who} run {r + 1}")
                    res[who].append(w)
                for who in res:
                    w = res[who][-1]
                    log(f"remote run {r + 1}/{s.runs} {who}: {w.rps:,.0f}/s p50 {w.p50_ms:.2f} ms "
                        f"p99 {w.p99_ms:.2f} ms ({w.requests:,} requests)")
    return [_row(f"GET remote handle, cached ({ids:,} ids of node A, through node B)",
                 f"≥ {TARGET_RATIO:g}× local", res["cached"], res["local"]),
            _row(f"GET remote handle, uncached (each fetched from A once; {min(s.seconds, 5.0):g} s)", "—",
                 res["uncached"], res["local"])]


def _check(w: WrkResult, what: str) -> None:
    if w.non_2xx or w.socket_errors:
        raise RuntimeError(f"remote {what}: {w.non_2xx} non-2xx answers, {w.socket_errors} socket errors")


def _row(label: str, target: str, node: list[WrkResult], local: list[WrkResult]) -> Row:
    ratio = median([n.rps / b.rps for n, b in zip(node, local, strict=True)])
    note = (f"baseline: local resolution on the node holding them (same handles, same run); "
            f"remote/local {ratio:.2f}× (median of per-run ratios); local p50 "
            f"{ms(median([w.p50_ms for w in local]))}")
    if len(node) > 1:
        note += "; " + runs_note([w.rps for w in node])
    return Row(label, rate(median([w.rps for w in node])), rate(median([w.rps for w in local])), target,
               ms(median([w.p50_ms for w in node])), ms(median([w.p99_ms for w in node])), note,
               {"remote": [vars(w) for w in node], "local": [vars(w) for w in local], "ratio": ratio})
