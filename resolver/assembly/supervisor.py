"""``--workers N``: a supervisor process and N forked workers that share every port and one LMDB environment.

Each worker is a whole node (``node.serve``): it opens its own Store after the fork and binds every
port with SO_REUSEPORT, so the kernel spreads connections and datagrams across the workers. The
supervisor opens nothing: it forks, restarts a worker that dies (a crash loses no acknowledged
write: every write is committed durably before it is answered), and passes signals on — SIGTERM and
SIGINT drain every worker and stop, SIGHUP makes every worker reload its configuration and
certificates. A worker that dies is marked dead in the metric files, so its live gauges go while
its counters stay in the sums.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import traceback
from collections.abc import Callable

from .. import metrics, mirror
from ..config import Config, data_path

log = logging.getLogger("idnode.workers")

STOP_TIMEOUT = 30.0  # after SIGTERM, how long workers get to drain before SIGKILL
MAX_BACKOFF = 5.0
QUICK_DEATH = 2.0  # a worker that dies sooner than this after starting counts as failing to start
MAX_QUICK_DEATHS = 5  # in a row: give up (a bad configuration, a port in use), do not loop forever


class Supervisor:
    def __init__(self, cfg: Config, run_worker: Callable[[Config, Callable[[], Config] | None], None],
                 loader: Callable[[], Config] | None = None):
        self.cfg = cfg
        self.run_worker = run_worker  # what a worker runs after the fork (serve.run_worker)
        self.loader = loader
        self.workers: dict[int, tuple[int, float]] = {}  # pid -> (slot, started)
        self.stopping = False
        self.hup = False
        self.quick_deaths = 0
        self.due: list[tuple[float, int]] = []  # (when, slot): workers to start again after a back-off
        self.exit_code = 0

    def run(self) -> int:
        metrics.use_directory(metrics.directory(data_path(self.cfg)), clean=True)
        if mirror.wanted(self.cfg):
            mirror.bootstrap(self.cfg)  # once, before the workers open the store
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        log.info("supervisor starting %d workers", self.cfg.workers, extra={"workers": self.cfg.workers})
        for slot in range(self.cfg.workers):
            self._spawn(slot)
        while not self.stopping:
            if self.hup:
                self.hup = False
                self._reload()
            self._reap(restart=True)
            if not self.stopping:
                self._respawn_due()
            time.sleep(0.05)
        self._stop_all()
        return self.exit_code

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _on_hup(self, signum: int, frame: object) -> None:
        self.hup = True

    def _spawn(self, slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                os.environ["IDNODE_WORKER_SLOT"] = str(slot)  # slot 0 alone talks to the upstreams

                self.run_worker(self.cfg, self.loader)
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
                if not isinstance(e.code, int) and e.code:
                    log.error("%s", e.code)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        self.workers[pid] = (slot, time.monotonic())
        log.info("worker %d started", pid, extra={"worker": pid, "slot": slot})

    def _reap(self, *, restart: bool) -> None:
        """Collect the workers that died; a replacement is due after a back-off when they die young.

        Nothing here sleeps: a worker's life is measured when it is reaped (the main loop reaps every
        50 ms), not after waiting out another worker's back-off, which would make every death look
        slow and reset the count of quick ones (a port in use restarted workers forever)."""
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot, started = self.workers.pop(pid, (None, 0.0))
            if slot is None:
                continue
            metrics.mark_dead(pid)
            code = os.waitstatus_to_exitcode(status)
            if not restart or self.stopping:
                continue
            log.warning("worker %d exited (%s); starting another", pid, _describe(code),
                        extra={"worker": pid, "exit_code": code})
            now = time.monotonic()
            if now - started < QUICK_DEATH:
                self.quick_deaths += 1
                if self.quick_deaths >= MAX_QUICK_DEATHS:
                    log.error("workers keep failing at start; stopping", extra={"exit_code": code})
                    self.exit_code = code if code > 0 else 1
                    self.stopping = True
                    return
                self.due.append((now + min(MAX_BACKOFF, 0.1 * 2 ** self.quick_deaths), slot))
            else:
                self.quick_deaths = 0
                self.due.append((now, slot))

    def _respawn_due(self) -> None:
        now = time.monotonic()
        ready = [slot for at, slot in self.due if at <= now]
        self.due = [(at, slot) for at, slot in self.due if at > now]
        for slot in ready:
            self._spawn(slot)

    def _reload(self) -> None:
        if self.loader is not None:
            try:
                self.cfg = self.loader()
            except SystemExit as e:
                log.error("configuration not reloaded: %s", e.code)
                return
        log.info("reloading: SIGHUP to every worker")
        for pid in list(self.workers):
            _kill(pid, signal.SIGHUP)

    def _stop_all(self) -> None:
        log.info("supervisor stopping: draining %d workers", len(self.workers))
        for pid in list(self.workers):
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.workers and time.monotonic() < deadline:
            self._reap(restart=False)
            time.sleep(0.05)
        for pid in list(self.workers):
            _kill(pid, signal.SIGKILL)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            metrics.mark_dead(pid)
        self.workers.clear()


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
