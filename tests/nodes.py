"""Real nodes for tests: `idnode` processes on 127.0.0.1 with LMDB folders under a temp dir."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import requests

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"  # reference data carried in the repo (tests/data/README.md)

# The long forms of soak, scale and fuzz runs (README, "Tests"): CI runs the short ones.
LONG = os.environ.get("IDNODE_SLOW") == "1"

NODE_PREFIX = "88.101"
ADMIN_SECRET = "node-admin-secret"
ENTERPRISES = {"88.101.5": "acme-secret-5", "88.101.6": "other-secret-6"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def idnode(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    """Run the CLI as an operator would."""
    p = subprocess.run([sys.executable, "-m", "resolver.cli", *args], cwd=REPO, capture_output=True, text=True,
                       input=input, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"idnode {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def wait_ready(url: str, proc: subprocess.Popen, timeout: float, log: Path | None = None) -> None:
    """Until ``url`` answers 200; fails naming the process's exit (and its log) if it dies first."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: the process exited with {proc.returncode}:\n"
                                 f"{log.read_text() if log else ''}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout} s:\n{log.read_text() if log else ''}")
        time.sleep(0.05)


def basic(identity: str, secret: str) -> str:
    """HTTP Basic as Handle clients send it: the identity percent-encoded."""
    return "Basic " + base64.b64encode(f"{quote(identity, safe='/')}:{secret}".encode()).decode()


def init_data(data: Path, enterprises: dict[str, str] = ENTERPRISES) -> None:
    idnode("init", "--data", str(data), "--prefix", NODE_PREFIX, "--admin-secret", ADMIN_SECRET)
    for prefix, secret in enterprises.items():
        idnode("prefix", "add", prefix, "--secret", secret, "--data", str(data), "--owner-name", f"owner of {prefix}")


class Node:
    """One `idnode serve` process."""

    def __init__(self, data: Path, *extra: str):
        self.data = data
        self.extra = extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = data.parent / f"node-{self.port}.log"

    def start(self, timeout: float = 60.0) -> Node:
        """Start and wait until /healthz answers. The bound is generous: on a loaded machine (two test
        workers, other jobs) a start takes several seconds; a node that does not come up is killed, not
        left serving after its test."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "resolver.cli", "serve", "--data", str(self.data),
             "--http", f"127.0.0.1:{self.port}", *self.extra],
            cwd=REPO, env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        try:
            wait_ready(self.url + "/healthz", self.proc, timeout, self.log)
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc

    def restart(self) -> Node:
        self.stop()
        return self.start()

    def api(self, handle: str) -> str:
        return f"{self.url}/api/handles/{handle}"
