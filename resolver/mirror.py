"""A mirror (``idnode serve --role mirror --primary URL``): a read-only copy of a primary that scales
reads past one machine.

On first start (an empty data folder) it downloads a snapshot of the primary (a compacted LMDB copy,
checked against its SHA-256). Then it follows the primary's change log: it long-polls
``/api/replication/changes`` after its own last sequence, naming itself (``mirror=``, so that the
primary keeps what it has not applied yet), and replays each batch in one durable write, so a restart
resumes exactly where it stopped. When the primary has pruned the changes it needs (it was away
longer than the primary's ``mirror_hold``), the primary answers 410: the mirror stops following and
says so, and at its next start it re-seeds from a new snapshot, as a new mirror does. It answers
reads; writes get a referral to the primary. ``POST /api/replication/promote`` makes it a node of its
own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import re
import socket
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import quote, urlencode

import aiohttp
import msgpack

from storage import GroupCommitter, Store, Tx

from .config import Config, data_path
from .federation.state import FEDERATION_META
from .service import Service
from .service.replication import MIRROR_META

log = logging.getLogger("idnode.mirror")

BATCH = 5000
WAIT = 10.0
BACKOFF_MAX = 10.0
NAME_META = "mirror_name"  # how this mirror names itself to its primary (kept across re-seeds)
GONE = 410  # the primary's answer when the changes asked for were pruned


def auth_header(identity: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{quote(identity, safe='/')}:{secret}".encode()).decode()


def _credentials(cfg: Config) -> str:
    if not (cfg.primary and cfg.primary_identity and cfg.primary_secret):
        raise SystemExit("idnode: --role mirror needs --primary URL, --primary-identity and --primary-secret "
                         "(the primary's node admin)")
    return auth_header(cfg.primary_identity, cfg.primary_secret)


def new_name() -> str:
    """A name for a new mirror: its host's and a random part (the primary keeps its position by it)."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:40]
    return f"{host}-{uuid.uuid4().hex[:12]}"


def bootstrap(cfg: Config) -> None:
    """Before the store opens: an empty data folder gets the primary's snapshot, and so does a mirror
    whose position the primary has pruned (it asks first)."""
    auth = _credentials(cfg)
    folder = data_path(cfg)
    target = folder / "data.mdb"
    name = None
    if target.exists():
        store = Store(folder, readonly=True)
        try:
            with store.read() as tx:
                mirror_of, node = tx.get_meta(MIRROR_META), tx.get_meta("node_prefix")
                name, last = tx.get_meta(NAME_META), tx.last_seq()
        finally:
            store.close()
        if mirror_of is None and node is not None:
            log.warning("%s holds a node of its own (promoted, or never a mirror): serving it, not following "
                        "%s", folder, cfg.primary)
            return
        if mirror_of is None or not _pruned(cfg, auth, last, name):
            return
        log.warning("mirror: %s has pruned the changes after %d that this mirror needs: re-seeding from a snapshot",
                    cfg.primary, last)
    _seed(cfg, auth, folder, name or new_name())


def _pruned(cfg: Config, auth: str, last: int, name: str | None) -> bool:
    """Has the primary pruned the changes after ``last``? (False when it cannot be asked: following
    retries, and says what is wrong.)"""
    query = {"after": str(last), "limit": "1", **({"mirror": name} if name else {})}
    req = urllib.request.Request(cfg.primary.rstrip("/") + "/api/replication/changes?" + urlencode(query),
                                 headers={"Authorization": auth})
    try:
        with urllib.request.urlopen(req, timeout=30):
            return False
    except urllib.error.HTTPError as e:
        return e.code == GONE
    except OSError:
        return False


def _seed(cfg: Config, auth: str, folder, name: str) -> None:
    """Replace the data folder's store with a snapshot of the primary, marked as this mirror's."""
    target = folder / "data.mdb"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    part = folder / "data.mdb.part"
    req = urllib.request.Request(cfg.primary.rstrip("/") + "/api/replication/snapshot",
                                 headers={"Authorization": auth})
    t0 = time.monotonic()
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(req, timeout=600) as resp, open(part, "wb") as out:
            want = resp.headers.get("X-Idnode-Sha256")
            while chunk := resp.read(1 << 20):
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except OSError as e:
        part.unlink(missing_ok=True)
        raise SystemExit(f"idnode: could not fetch a snapshot from {cfg.primary}: {e}") from None
    if not want or h.hexdigest() != want:
        part.unlink(missing_ok=True)
        raise SystemExit(f"idnode: the snapshot from {cfg.primary} does not match its checksum")
    os.chmod(part, 0o600)
    part.rename(target)

    def mark(tx: Tx) -> None:
        tx.put_meta(MIRROR_META, cfg.primary)
        tx.put_meta(NAME_META, name)
        tx.delete_meta(FEDERATION_META)  # the primary's upstreams are not the mirror's to talk to
        tx.forget_mirror_acks()  # nor are its mirrors

    store = Store(folder)
    try:
        with GroupCommitter(store) as writer:  # the node's own committer is not started yet
            writer.apply(mark)
    finally:
        store.close()
    log.info("mirror: snapshot of %s (%d bytes) in %.1f s", cfg.primary, target.stat().st_size,
             time.monotonic() - t0)


class Follower:
    """Keeps the store in step with the primary's change log."""

    def __init__(self, svc: Service, cfg: Config):
        self.svc = svc
        self.primary = cfg.primary.rstrip("/")
        self.auth = _credentials(cfg)
        self.task: asyncio.Task | None = None
        self.applied = self._last()
        self.head = self.applied
        self.last_change_at: float | None = None  # when the newest applied change was made on the primary
        self.caught_up_at: float | None = None
        self.error: str | None = None
        self.reseed = False  # the primary pruned what this mirror needs: it re-seeds at its next start
        with svc.store.read() as tx:
            self.name = tx.get_meta(NAME_META)
        if self.name is None:  # a mirror seeded before mirrors had names
            self.name = new_name()
            svc.committer.apply(lambda tx: tx.put_meta(NAME_META, self.name))

    def _last(self) -> int:
        with self.svc.store.read() as tx:
            return tx.last_seq()

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="mirror follower")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None

    def state(self) -> dict:
        lag = self.head - self.applied
        if lag <= 0:
            lag_seconds = 0.0
        elif self.last_change_at is not None:
            lag_seconds = max(0.0, time.time() - self.last_change_at)
        else:
            lag_seconds = None
        return {"primary": self.primary, "name": self.name, "applied": self.applied, "primaryLast": self.head,
                "lagEntries": max(lag, 0), "lagSeconds": lag_seconds, "error": self.error,
                "following": self.task is not None and not self.task.done(), "reseedNeeded": self.reseed}

    async def _run(self) -> None:
        backoff = 0.2
        timeout = aiohttp.ClientTimeout(total=WAIT + 30)
        async with aiohttp.ClientSession(timeout=timeout, headers={"Authorization": self.auth}) as http:
            while self.svc.mirror_of is not None:
                try:
                    await self._step(http)
                    backoff, self.error = 0.2, None
                except asyncio.CancelledError:
                    raise
                except Pruned as e:  # nothing to retry: the changes are gone
                    self.reseed, self.error = True, str(e)
                    log.error("mirror: %s; restart this mirror to re-seed it from a snapshot", e)
                    return
                except Exception as e:  # the primary down, or a bad answer: say so, retry
                    msg = f"{type(e).__name__}: {e}"
                    if msg != self.error:
                        log.warning("mirror: following %s: %s", self.primary, msg)
                    self.error = msg
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)

    async def _step(self, http: aiohttp.ClientSession) -> None:
        url = f"{self.primary}/api/replication/changes"
        params = {"after": str(self.applied), "limit": str(BATCH), "wait": str(WAIT), "mirror": self.name}
        async with http.get(url, params=params) as resp:
            if resp.status == GONE:
                raise Pruned(f"the primary pruned the changes after {self.applied}")
            if resp.status != 200:
                raise RuntimeError(f"the primary answered {resp.status}: {(await resp.text())[:200]}")
            body = await resp.read()
            self.head = int(resp.headers.get("X-Idnode-Last-Sequence", "0"))
        entries = msgpack.unpackb(body, raw=False)
        if not entries:
            self.caught_up_at = time.time()
            return

        def apply(tx) -> None:
            for seq, *entry in entries:
                tx.replay(seq, entry)

        await asyncio.wrap_future(self.svc.committer.submit(apply))
        self.applied = entries[-1][0]
        self.last_change_at = entries[-1][5]


class Pruned(Exception):
    """The primary no longer holds the changes this mirror needs next."""


def wanted(cfg: Config) -> bool:
    return cfg.role == "mirror"
