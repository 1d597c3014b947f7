"""A mirror (``idnode serve --role mirror --primary URL``): a read-only copy of a primary that scales
reads past one machine.

On first start (an empty data folder) it downloads a snapshot of the primary (a compacted LMDB copy,
checked against its SHA-256). Then it follows the primary's change log: it long-polls
``/api/replication/changes`` after its own last sequence and replays each batch in one durable write,
so a restart resumes exactly where it stopped. It answers reads; writes get a referral to the
primary. ``POST /api/replication/promote`` makes it a node of its own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import time
import urllib.request
from urllib.parse import quote

import aiohttp
import msgpack

from storage import GroupCommitter, Store, Tx

from .config import Config, data_path
from .service import Service
from .service.federation import FEDERATION_META
from .service.replication import MIRROR_META

log = logging.getLogger("idnode.mirror")

BATCH = 5000
WAIT = 10.0
BACKOFF_MAX = 10.0


def auth_header(identity: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{quote(identity, safe='/')}:{secret}".encode()).decode()


def _credentials(cfg: Config) -> str:
    if not (cfg.primary and cfg.primary_identity and cfg.primary_secret):
        raise SystemExit("idnode: --role mirror needs --primary URL, --primary-identity and --primary-secret "
                         "(the primary's node admin)")
    return auth_header(cfg.primary_identity, cfg.primary_secret)


def bootstrap(cfg: Config) -> None:
    """Before the store opens: an empty data folder gets the primary's snapshot."""
    auth = _credentials(cfg)
    folder = data_path(cfg)
    target = folder / "data.mdb"
    if target.exists():
        store = Store(folder, readonly=True)
        try:
            with store.read() as tx:
                mirror_of, node = tx.get_meta(MIRROR_META), tx.get_meta("node_prefix")
        finally:
            store.close()
        if mirror_of is None and node is not None:
            log.warning("%s holds a node of its own (promoted, or never a mirror): serving it, not following "
                        "%s", folder, cfg.primary)
        return
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
        tx.delete_meta(FEDERATION_META)  # the primary's upstreams are not the mirror's to talk to

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
        return {"primary": self.primary, "applied": self.applied, "primaryLast": self.head, "lagEntries": max(lag, 0),
                "lagSeconds": lag_seconds, "error": self.error, "following": self.task is not None}

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
                except Exception as e:  # the primary down, or a bad answer: say so, retry
                    msg = f"{type(e).__name__}: {e}"
                    if msg != self.error:
                        log.warning("mirror: following %s: %s", self.primary, msg)
                    self.error = msg
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)

    async def _step(self, http: aiohttp.ClientSession) -> None:
        url = f"{self.primary}/api/replication/changes"
        params = {"after": str(self.applied), "limit": str(BATCH), "wait": str(WAIT)}
        async with http.get(url, params=params) as resp:
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


def wanted(cfg: Config) -> bool:
    return cfg.role == "mirror"
