"""Prometheus metrics: counted as plain ints on the hot paths, published through prometheus-client.

A request costs a dict look-up and a few integer additions (``record``); nothing on the hot path
formats a label or takes a lock. Once a second, and before every scrape, ``publish`` moves what was
counted since the last time into prometheus-client's multiprocess files, so ``/metrics`` served by
any worker sums every worker (dead ones included: a counter never goes back). What all workers share
(the LMDB environment: identifiers stored, size, map use, readers) is read at scrape time instead.

Label ``code`` is the HTTP status for ``protocol="http"`` and the Handle response code for ``udp``
and ``tcp``; ``operation`` uses one vocabulary for both (``resolve``, ``create``, ``delete``, …).

Import order matters: prometheus-client picks its multiprocess mode when it is first imported, so
``use_directory`` runs before anything imports it (``serve`` and the worker supervisor call it).
"""

from __future__ import annotations

import os
import platform
import time
from bisect import bisect_left
from pathlib import Path

from .service.federation import outbox_status

PROTOCOL_HTTP, PROTOCOL_UDP, PROTOCOL_TCP = "http", "udp", "tcp"

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_NB = len(LATENCY_BUCKETS)
COUNT, SUM, FIRST_BUCKET = 0, 1, 2

# (protocol, operation, code) -> [count, seconds summed, count per latency bucket …, count over the last]
_requests: dict[tuple[str, str, int], list] = {}


def record(key: tuple[str, str, int], seconds: float) -> None:
    """Count one answered request (the hot path: keep it this small)."""
    e = _requests.get(key)
    if e is None:
        e = _requests[key] = [0, 0.0] + [0] * (_NB + 1)
    e[COUNT] += 1
    e[SUM] += seconds
    e[FIRST_BUCKET + bisect_left(LATENCY_BUCKETS, seconds)] += 1


def record_many(key: tuple[str, str, int], seconds: float, n: int) -> None:
    """Count ``n`` answered requests that took ``seconds`` each (a batch of the compiled fast path)."""
    e = _requests.get(key)
    if e is None:
        e = _requests[key] = [0, 0.0] + [0] * (_NB + 1)
    e[COUNT] += n
    e[SUM] += seconds * n
    e[FIRST_BUCKET + bisect_left(LATENCY_BUCKETS, seconds)] += n


def directory(data_dir: Path) -> Path:
    """Where this node's workers keep their metric files: PROMETHEUS_MULTIPROC_DIR, else DATA/prometheus."""
    env = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(env) if env else Path(data_dir) / "prometheus"


def use_directory(path: Path, *, clean: bool) -> None:
    """Point prometheus-client (in this process and those it forks) at ``path``.

    ``clean``: at start, drop the files of processes that are gone (a previous run's), so counters
    start from zero, but keep those of live ones: a second ``idnode serve`` started by mistake on
    the same folder (and failing to bind) must not wipe the running node's counts.
    """
    path.mkdir(parents=True, exist_ok=True)
    if clean:
        for f in path.glob("*.db"):
            pid = f.stem.rpartition("_")[2]
            if not (pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid))):
                f.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


# prometheus-client maps its files and grows them sparse. On a full volume, the first write into a page
# with no disk block behind it kills the process with SIGBUS. So each process's files are made first,
# with real blocks: prometheus-client takes an existing file's size as its capacity. (Past that size it
# grows them sparse again; a node's label sets fit well within it.) A file of a kind not listed here
# gets its holes filled once the metrics are made (``fill_holes``), at the size prometheus-client chose.
METRIC_FILE_BYTES = 512 << 10
# The kinds Metrics makes, as prometheus-client names their files.
METRIC_FILES = ("counter", "histogram", "gauge_mostrecent", "gauge_livemax")


def allocate_files(path: Path, pid: int) -> None:
    for kind in METRIC_FILES:
        try:
            fd = os.open(path / f"{kind}_{pid}.db", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            continue
        try:
            if os.fstat(fd).st_size == 0:
                os.posix_fallocate(fd, 0, METRIC_FILE_BYTES)
        except OSError:
            os.ftruncate(fd, 0)  # no room even now: let prometheus-client size it as it would
        finally:
            os.close(fd)


def fill_holes(path: Path, pid: int) -> None:
    """Real blocks under every metric file of this process, keeping its size (it is mapped already)."""
    for f in path.glob(f"*_{pid}.db"):
        try:
            fd = os.open(f, os.O_RDWR)
        except OSError:
            continue
        try:
            os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
        except OSError:
            pass  # no room: as prometheus-client left it
        finally:
            os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_dead(pid: int) -> None:
    """A worker exited: drop its live gauges (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


class Metrics:
    """This process's prometheus-client metrics, fed from the plain counts by ``publish``."""

    def __init__(self, service, version: str, follower=None):
        from prometheus_client import Counter, Gauge, Histogram

        # Not registered anywhere: in multiprocess mode they only write this process's files, which
        # ``exposition`` reads back for every process. So a second Metrics in one process is harmless.
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            raise RuntimeError("metrics.use_directory must run before the metrics are made")
        allocate_files(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]), os.getpid())
        self.service = service
        self.follower = follower  # mirror.Follower, in the worker of a mirror that follows its primary
        self.version = version
        self.requests = Counter("idnode_requests", "Requests answered, by protocol, operation and code "
                                "(HTTP status for http, Handle response code for udp and tcp)",
                                ["protocol", "operation", "code"], registry=None)
        self.latency = Histogram("idnode_request_duration_seconds", "Time to answer a request",
                                 ["protocol", "operation"], buckets=LATENCY_BUCKETS, registry=None)
        self.cache_hits = Counter("idnode_cache_hits", "Resolutions answered from the record cache", registry=None)
        self.cache_misses = Counter("idnode_cache_misses", "Resolutions that decoded the stored record", registry=None)
        self.group_ops = Histogram("idnode_group_commit_operations", "Write operations sharing one commit",
                                   buckets=GROUP_BUCKETS, registry=None)
        self.commit_seconds = Histogram("idnode_group_commit_duration_seconds",
                                        "Time to run and durably commit one group of writes", buckets=COMMIT_BUCKETS,
                                        registry=None)
        self.last_commit = Gauge("idnode_last_commit_duration_seconds", "Duration of the most recent commit",
                                 multiprocess_mode="mostrecent", registry=None)
        self.remote = Counter("idnode_remote_resolutions", "Resolutions of handles served by other nodes, by "
                              "result (cached, fetched, not_found, failed)", ["result"], registry=None)
        self._remote_seen: dict[str, int] = {}
        # Only the worker that follows the primary sets these; "livemax" shows its value alone.
        self.mirror_lag = Gauge("idnode_mirror_lag_entries", "Change-log entries the primary has and this mirror "
                                "has not applied yet", multiprocess_mode="livemax", registry=None)
        self.mirror_lag_seconds = Gauge("idnode_mirror_lag_seconds", "Age of the newest change this mirror applied, "
                                        "while it is behind (0 when caught up)", multiprocess_mode="livemax",
                                        registry=None)
        self._children: dict[tuple, tuple] = {}
        self._published: dict[tuple, list] = {}
        self._cache_seen = (0, 0)
        service.committer.on_commit = self.on_commit
        fill_holes(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]), os.getpid())

    def on_commit(self, n_ops: int, seconds: float) -> None:
        """The group committer's hook (its writer thread; once per commit, not per request)."""
        self.group_ops.observe(n_ops)
        self.commit_seconds.observe(seconds)
        self.last_commit.set(seconds)

    def publish(self) -> None:
        """Move what was counted since the last call into the shared metric files."""
        for key, e in list(_requests.items()):
            old = self._published.get(key)
            if old is None:
                old = self._published[key] = [0, 0.0] + [0] * (_NB + 1)
            if e[COUNT] == old[COUNT]:
                continue
            children = self._children.get(key)
            if children is None:
                proto, op, code = key
                children = self._children[key] = (self.requests.labels(proto, op, str(code)),
                                                  self.latency.labels(proto, op))
            counter, hist = children
            counter.inc(e[COUNT] - old[COUNT])
            # prometheus-client has no "observe n values at once": add to the histogram's own buckets.
            hist._sum.inc(e[SUM] - old[SUM])
            for i in range(_NB + 1):
                d = e[FIRST_BUCKET + i] - old[FIRST_BUCKET + i]
                if d:
                    hist._buckets[i].inc(d)
            old[:] = e
        cache = self.service.cache
        hits, misses = cache.hits, cache.misses
        seen_hits, seen_misses = self._cache_seen
        if hits > seen_hits:
            self.cache_hits.inc(hits - seen_hits)
        if misses > seen_misses:
            self.cache_misses.inc(misses - seen_misses)
        self._cache_seen = (hits, misses)
        follower = self.follower
        if follower is not None:
            st = follower.state()
            self.mirror_lag.set(st["lagEntries"])
            self.mirror_lag_seconds.set(st["lagSeconds"] or 0.0)
        remote = getattr(self.service, "remote", None)
        if remote is not None:
            for result, n in remote.counts.items():
                seen = self._remote_seen.get(result, 0)
                if n > seen:
                    self.remote.labels(result).inc(n - seen)
                    self._remote_seen[result] = n

    def exposition(self) -> bytes:
        """The text of ``/metrics``: every worker's counts, and the shared storage read now."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        self.publish()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(StorageCollector(self.service.store, self.version))
        return generate_latest(registry)


class StorageCollector:
    """What every worker shares, read at scrape time: LMDB counts and sizes, and the build."""

    def __init__(self, store, version: str):
        self.store = store
        self.version = version

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        store = self.store
        events_db = store.dbs.get("events")
        with store.read() as tx:
            handles = tx.txn.stat(store.dbs["handles"])["entries"]
            prefixes = tx.txn.stat(store.dbs["prefixes"])["entries"]
            events = tx.txn.stat(events_db)["entries"] if events_db is not None else None
        if events is not None:
            yield GaugeMetricFamily("idnode_events_stored", "EPCIS events captured and stored", value=events)
        used, size = store.map_use()
        info = store.env.info()
        try:
            file_size = os.stat(store.path / "data.mdb").st_size
        except OSError:
            file_size = 0
        yield GaugeMetricFamily("idnode_identifiers_stored", "Handle records stored (prefix handles included)",
                                value=handles)
        yield GaugeMetricFamily("idnode_prefixes_stored", "Prefixes allocated on this node", value=prefixes)
        yield GaugeMetricFamily("idnode_lmdb_file_size_bytes", "Size of the LMDB data file", value=file_size)
        yield GaugeMetricFamily("idnode_lmdb_map_size_bytes", "LMDB map size (it grows as the data does)",
                                value=size)
        yield GaugeMetricFamily("idnode_lmdb_map_used_bytes", "LMDB map in use (last page)", value=used)
        yield GaugeMetricFamily("idnode_lmdb_readers", "LMDB reader slots in use", value=info["num_readers"])
        yield GaugeMetricFamily("idnode_lmdb_max_readers", "LMDB reader slots available",
                                value=info["max_readers"])
        try:
            vfs = os.statvfs(store.path)
        except OSError:
            pass
        else:
            yield GaugeMetricFamily("idnode_data_volume_size_bytes", "Size of the file system holding the data",
                                    value=vfs.f_blocks * vfs.f_frsize)
            yield GaugeMetricFamily("idnode_data_volume_free_bytes", "Space left on that file system (unprivileged)",
                                    value=vfs.f_bavail * vfs.f_frsize)
        yield from federation_metrics(store)
        build = GaugeMetricFamily("idnode_build_info", "The running build", labels=["version", "python"])
        build.add_metric([self.version, platform.python_version()], 1)
        yield build


def federation_metrics(store):
    """The outbox per upstream top-level node: entries waiting, the oldest one's age, and health."""
    from prometheus_client.core import GaugeMetricFamily

    with store.read() as tx:
        st = outbox_status(tx, time.time())
    if not st["configured"]:
        return
    waiting = GaugeMetricFamily("idnode_outbox_entries", "Outbox entries an upstream has not acknowledged",
                                labels=["upstream"])
    age = GaugeMetricFamily("idnode_outbox_oldest_age_seconds", "Age of the oldest entry an upstream has not "
                            "acknowledged (0 when none waits)", labels=["upstream"])
    failing = GaugeMetricFamily("idnode_upstream_failing", "1 while the last attempt to deliver to an upstream "
                                "failed", labels=["upstream"])
    for u in st["upstreams"]:
        name = u["upstream"]
        waiting.add_metric([name], u["waiting"])
        age.add_metric([name], u["oldestAge"] or 0.0)
        failing.add_metric([name], 1.0 if u["failing"] else 0.0)
    yield from (waiting, age, failing)
