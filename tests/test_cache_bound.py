"""Every cache that grows with identifiers stays within ``cache_entries``, however many are resolved:
the record cache (with the fast HTTP route's ETag and redirect on its entries) and the Handle fast
path's encoded answers, filled past their bound over a real store; what is evicted still resolves."""

from __future__ import annotations

import asyncio

from protocol import bodies as b
from protocol import fastpath as fp
from protocol.codes import RC
from protocol.envelope import PO, Op
from protocol.message import Message, encode
from protocol.values import HandleValue
from resolver.credentials import Identity
from resolver.handle.dispatch import Dispatcher
from resolver.handle.siteinfo import node_site
from resolver.http.handles import render
from resolver.service import Service
from resolver.service.cache import ETAG, JSON, RAW, Resolution
from storage import GroupCommitter, Store

NOW = 1_790_000_000.0
OWNER = Identity(300, "0.NA/88.101.5")
BOUND = 40
HANDLES = [f"88.101.5/b-{i}" for i in range(3 * BOUND)]


def _request(handle: str, opflags: int = 0) -> bytes:
    return encode(Message(Op.RESOLUTION, b.ResolutionRequest(handle), opflags=opflags, request_id=5,
                          major=2, minor=10))


def _quick(d: Dispatcher, data: bytes) -> fp.Answer:
    out = d.quick(data, udp=True, owner=("udp", "192.0.2.9"), peer="192.0.2.9", now=NOW)
    assert isinstance(out, fp.Answer)
    return out


def test_caches_stay_within_cache_entries(fresh_data):
    store = Store(fresh_data)
    svc = Service(store, GroupCommitter(store), cache_entries=BOUND)
    try:
        async def load():
            for h in HANDLES:
                await svc.put_handle(h, [HandleValue(1, "URL", f"https://example.com/{h}".encode())], OWNER)

        asyncio.run(load())
        d = Dispatcher(svc, node_site("127.0.0.1", 2641, 8000, b"").to_wire(), sealer=None, site_serial=3)
        fast = d.fast
        for _ in range(2):  # the second pass resolves again what the first evicted
            for h in HANDLES:
                res = svc.resolve(h)
                assert isinstance(res, Resolution)
                assert f"https://example.com/{h}".encode() in render(res, False)
                res.remember_http('"etag"', f"https://example.com/{h}")
                for flags in (0, PO):
                    assert _quick(d, _request(h, flags)).rc == RC.SUCCESS
                    assert _quick(d, _request(h, flags)).rc == RC.SUCCESS  # the second from the kept answer
                assert len(svc.cache) <= BOUND
                assert len(fast.plain) + len(fast.public_only) <= BOUND
        assert fast.fast >= len(HANDLES)  # kept answers were used, not only made and dropped
        last = HANDLES[-1].encode()
        entry = svc.cache.peek(last)
        assert entry is not None and entry[JSON] is not None and entry[ETAG] == '"etag"'
        kept = fast.public_only[last]
        assert kept[1] is entry[RAW]  # the fast path refers to the cache's stored bytes, no copy
    finally:
        svc.committer.close()
        store.close()


def test_remote_answers_stay_within_the_bound_the_node_passes():
    """The federation's answer cache takes ``cache_entries`` too (resolver/assembly/federation.py)."""
    from protocol.codes import HandleError
    from resolver.assembly.federation import links
    from resolver.config import Config
    from resolver.federation.remote import Missing

    cfg = Config()
    cfg.cache_entries = 8
    remote = links(cfg, None).remote  # the store is only read on a look-up
    for i in range(30):
        remote._keep(f"99.1/x-{i}".encode(), Missing(1e18, HandleError(RC.HANDLE_NOT_FOUND, "not found")))
        assert len(remote.answers) <= 8
    assert b"99.1/x-29" in remote.answers and b"99.1/x-0" not in remote.answers
