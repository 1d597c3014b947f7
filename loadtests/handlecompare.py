"""Handle resolution over UDP and TCP, idnode beside the bare responders (and optionally another
checkout's idnode), alternating in one run: per server CPU-second, medians of ``--runs``.

Server on core 0, load on core 1 (taskset). Each idnode starts fresh and is warmed by one sequential UDP
pass over every handle (UDP and TCP share its dispatcher); then the timed runs ask for the loaded handles
in a seeded random order (found) and for unknown ones (rc 100). UDP load: ``loadtests.udpload`` (a window
of 64); TCP load: ``loadtests.tcpload`` (4 connections, 16 requests in flight on each).

    python -m loadtests.handlecompare [--ids 20000] [--runs 3] [--seconds 3] [--pure] [--only udp|tcp]
        [--other /path/to/checkout]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import data
from .procs import ROOT, free_port, pinned, venv_bin
from .scenarios import init_node, timed_import
from .udpload import launch, probe


def _tcp_up(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _server(who: str, folder: Path, port: int, other: str | None, tcp: bool) -> list[str]:
    if who in ("idnode", "other", "pure"):
        idnode = str(Path(other) / ".venv/bin/idnode") if who == "other" else venv_bin("idnode")
        return [idnode, "serve", "--data", str(folder), "--http", f"127.0.0.1:{free_port()}",
                "--handle", f"127.0.0.1:{port}"]
    module = "loadtests.tcpbaseline" if tcp else "loadtests.udpbaseline"
    return [sys.executable, "-m", module, "--data", str(folder), "--handle", f"127.0.0.1:{port}"]


def _env(who: str) -> dict[str, str]:
    """``pure``: this checkout's idnode with the compiled fast path turned off (the Python reference)."""
    env = dict(os.environ)
    if who == "pure":
        env["IDNODE_COMPILED"] = "off"
    return env


def measure(folder: Path, ids: int, runs: int, seconds: float, other: str | None, tcp: bool, log: Path,
            pure: bool = False) -> dict:
    whos = ["idnode", "bare"] + (["pure"] if pure else []) + (["other"] if other else [])
    res: dict[tuple[str, str], list[float]] = {}
    for r in range(runs):
        for who in whos if r % 2 == 0 else whos[::-1]:
            port = free_port()
            with open(log, "ab") as out:
                p = subprocess.Popen(pinned(_server(who, folder, port, other, tcp), 0), stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT, env=_env(who))
            try:
                deadline = time.monotonic() + 180  # a busy shared machine starts slowly
                while not (_tcp_up(port) if tcp and who == "bare" else probe("127.0.0.1", port, data.handle("SN", 0))):
                    if time.monotonic() > deadline or p.poll() is not None:
                        raise RuntimeError(f"{who} did not start; see {log}")
                    time.sleep(0.1)
                if who != "bare":  # every handle once, sequentially, untimed
                    launch("127.0.0.1", port, "SN", ids, seconds=3600, window=64, sockets=1, cpu=1, order="seq",
                           count=ids, verify_every=0)
                for what, kind in (("found", "SN"), ("missing", "NX")):
                    if tcp:
                        cmd = [sys.executable, "-m", "loadtests.tcpload", "--server", f"127.0.0.1:{port}", "--kind",
                               kind, "--ids", str(ids), "--seconds", str(seconds), "--expect", what,
                               "--server-pid", str(p.pid), "--seed", str(r + 1)]
                        out_text = subprocess.run(pinned(cmd, 1), capture_output=True, text=True, cwd=ROOT).stdout
                        got = json.loads(next(x for x in out_text.splitlines() if x.startswith("TCPJSON "))[8:])
                        per, errors = got["per_cpu_second"], got["errors"]
                    else:
                        w = launch("127.0.0.1", port, kind, ids, seconds=seconds, window=64, sockets=1, cpu=1,
                                   seed=r + 1, expect=what, server_pid=p.pid, verify_every=0 if who == "bare" else 4096)
                        per, errors = w.per_cpu_second, w.errors + w.lost
                    if errors:
                        raise RuntimeError(f"{who} {what}: {errors} errors")
                    res.setdefault((who, what), []).append(per)
                    print(f"[{'tcp' if tcp else 'udp'}] run {r + 1} {who:6} {what:7} {per:9,.0f} per server CPU-s",
                          file=sys.stderr, flush=True)
            finally:
                p.terminate()
                p.wait()
    return {f"{who} {what}": v for (who, what), v in res.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ids", type=int, default=20_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--other", help="another checkout (with its .venv) whose idnode runs beside this one")
    p.add_argument("--pure", action="store_true",
                   help="also this idnode with the compiled fast path off (IDNODE_COMPILED=off), the Python reference")
    p.add_argument("--only", choices=["udp", "tcp"], help="one transport")
    a = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="idnode-handlecompare-"))
    try:
        folder = work / "node"
        init_node(folder)
        jsonl = work / "setup.jsonl"
        data.write_jsonl(jsonl, "SN", a.ids)
        timed_import(folder, jsonl, a.ids, None)
        print("| transport | request | idnode per server CPU-s | bare responder | ratio |"
              + (" Python path (compiled off) | its ratio |" if a.pure else "")
              + (" other checkout | idnode / other |" if a.other else ""))
        print("| --- | --- | --- | --- | --- |" + (" --- | --- |" if a.pure else "") + (" --- | --- |" if a.other else ""))
        for tcp in (False, True):
            if a.only and a.only != ("tcp" if tcp else "udp"):
                continue
            res = measure(folder, a.ids, a.runs, a.seconds, a.other, tcp, work / "servers.log", a.pure)
            for what in ("found", "missing"):
                me, bare = statistics.median(res[f"idnode {what}"]), statistics.median(res[f"bare {what}"])
                line = f"| {'TCP' if tcp else 'UDP'} | {what} | {me:,.0f} | {bare:,.0f} | {me / bare:.2f} |"
                if a.pure:
                    py = statistics.median(res[f"pure {what}"])
                    line += f" {py:,.0f} | {py / bare:.2f} |"
                if a.other:
                    o = statistics.median(res[f"other {what}"])
                    line += f" {o:,.0f} | {me / o:.2f} |"
                print(line, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
