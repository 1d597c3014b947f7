"""Refusals the service raises as kinds (protocol/refusals.py), never as HTTP statuses: in process, over a
real LMDB store, no node started. Which status a kind gets is the codec's (``STATUS``), checked here too."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.codes import RC, http_status
from protocol.handles import key
from protocol.refusals import Busy, Moved
from protocol.values import HandleValue
from resolver import audit_trail as audit
from resolver.credentials import Identity
from resolver.handle.siteinfo import multi_site
from resolver.keys.keyfiles import hs_pubkey, load_or_create_node_key
from resolver.service import Service
from resolver.service.federation import NotHeld, Share
from storage import GroupCommitter, Store

ACME = Identity(300, "0.NA/88.101.5")
URL = HandleValue(1, "URL", b"https://example.com/a")


@pytest.fixture
def store(seeded: Path, tmp_path: Path) -> Iterator[Store]:
    shutil.copytree(seeded, tmp_path / "data")
    s = Store(tmp_path / "data")
    yield s
    s.close()


def test_a_write_backlog_is_refused_as_busy_with_a_retry_and_nothing_is_written(store):
    svc = Service(store, GroupCommitter(store))
    svc.limits.max_pending_writes = 1
    held, release = threading.Event(), threading.Event()

    def blocking(tx) -> None:
        held.set()
        release.wait(10)

    async def story():
        first = svc.committer.submit(blocking)  # the writer thread is held by this one
        held.wait(10)
        queued = svc.committer.submit(lambda tx: None)  # and this one waits: a backlog of 1
        try:
            with pytest.raises(Busy) as busy:
                await svc.put_handle("88.101.5/B", [URL], ACME, caller=audit.Caller("http", "127.0.0.1", "put_handle"))
        finally:
            release.set()
        first.result(10), queued.result(10)
        return busy.value

    try:
        busy = asyncio.run(story())
    finally:
        svc.committer.close()
    assert busy.rc == RC.SERVER_TOO_BUSY and busy.retry_after == 1 and "writes are waiting" in busy.message
    assert busy.status == Busy.STATUS == 503
    assert svc.store.get_raw(key("88.101.5/B")) is None


def test_a_handle_of_another_server_of_the_site_is_refused_as_a_referral_moved_over_http_when_it_has_a_base(
        store, tmp_path):
    key = load_or_create_node_key(tmp_path / "key")
    site = multi_site([("127.0.0.1", 2641, 8000), ("127.0.0.2", 2641, 8001)], 1, hs_pubkey(key))
    with_base = Share(site, 0, ["http://127.0.0.1:8000", "http://127.0.0.2:8001"])
    without = Share(site, 0, ["http://127.0.0.1:8000", None])
    other = next(h for h in (f"88.101.5/H{n}" for n in range(50)) if not _held(with_base, h))
    with pytest.raises(NotHeld) as moved:
        with_base.check(other)
    with pytest.raises(NotHeld) as referral:
        without.check(other)
    assert moved.value.rc == referral.value.rc == RC.SERVICE_REFERRAL
    assert (moved.value.redirect_to, moved.value.status) == ("http://127.0.0.2:8001", Moved.STATUS)
    assert (referral.value.redirect_to, referral.value.status) == (None, http_status(RC.SERVICE_REFERRAL))


def _held(share: Share, handle: str) -> bool:
    try:
        share.check(handle)
    except NotHeld:
        return False
    return True
