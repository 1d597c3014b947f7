"""Child processes pinned to one core, started and always stopped (no strays after the bench)."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

_children: list[subprocess.Popen] = []
ROOT = Path(__file__).resolve().parent.parent  # children run here, so ``python -m loadtests.x`` finds the package


def can_pin(*cpus: int) -> bool:
    return shutil.which("taskset") is not None and set(cpus) <= os.sched_getaffinity(0)


def pinned(cmd: Sequence[str], cpu: int | None) -> list[str]:
    """``cmd`` run on core ``cpu`` (through taskset), or as it is when ``cpu`` is None."""
    return list(cmd) if cpu is None else ["taskset", "-c", str(cpu), *cmd]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def venv_bin(name: str) -> str:
    """A console script next to this interpreter (.venv/bin/idnode), else whatever PATH has."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


class Finished(NamedTuple):
    seconds: float  # wall time
    out: str  # standard output and error
    cpu: float  # CPU seconds (user + system) the child used


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) a running process has used so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(cmd: Sequence[str], *, cpu: int | None = None, timeout: float = 600.0) -> Finished:
    """Run to completion. A non-zero exit raises with the output shown."""
    full = pinned(cmd, cpu)
    c0 = _children_cpu()
    t0 = time.perf_counter()
    p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                         cwd=ROOT)
    _children.append(p)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(p)
        raise RuntimeError(f"timed out after {timeout:.0f} s: {' '.join(full)}") from None
    finally:
        if p in _children:
            _children.remove(p)
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}: {' '.join(full)}\n{out[-3000:]}")
    return Finished(elapsed, out, _children_cpu() - c0)


def stop(p: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it lingers."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)
        except ProcessLookupError:
            pass
    if p in _children:
        _children.remove(p)


def stop_all() -> None:
    for p in list(_children):
        stop(p, grace=5.0)


def http_status(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Server:
    """A server process pinned to a core, ready once ``GET /healthz`` answers 200 (and ``ready()`` is true)."""

    def __init__(self, cmd: Sequence[str], port: int | None, log: Path, *, cpu: int | None, ready_timeout: float = 30.0,
                 ready: Callable[[], bool] | None = None):
        self.base = f"http://127.0.0.1:{port}" if port is not None else ""  # None: no HTTP, ``ready`` only
        self.cmd = pinned(cmd, cpu)
        self.log = log
        self.ready_timeout = ready_timeout
        self.ready = ready
        self.proc: subprocess.Popen | None = None

    def _is_ready(self) -> bool:
        if self.base and http_status(self.base + "/healthz", timeout=1.0)[0] != 200:
            return False
        return self.ready is None or self.ready()

    def __enter__(self) -> Server:
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
                                     cwd=ROOT)
        logf.close()
        _children.append(self.proc)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log}")
            try:
                if self._is_ready():
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        stop(self.proc)
        raise RuntimeError(f"server not ready after {self.ready_timeout:.0f} s; see {self.log}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid  # taskset execs the command, so this is the server itself

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            stop(self.proc)
